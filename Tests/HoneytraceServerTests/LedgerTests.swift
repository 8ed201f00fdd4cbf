import Foundation
import GRDB
@testable import HoneytraceServer
import XCTest

/// The SQLite query database: records survive a restart; damaged or locked files fail clearly at start.
final class LedgerTests: XCTestCase {
    func testRecordsSurviveARestart() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        let first = try QueryLedger(path: path, modelSHA256: "m1", keyFingerprint: "k1", answerMode: "label")
        first.recordAnswered(client: "alice", queries: 5, mixed: 2, flipped: 1, similaritySum: 1.5)
        first.recordAnswered(client: "alice", queries: 3, mixed: 0, flipped: 0, similaritySum: 0.5)
        first.recordAnswered(client: "bob", queries: 1, mixed: 1, flipped: 1, similaritySum: 0.9)
        first.recordRejected(client: "bob")
        try first.flush()
        first.recordAnswered(client: "alice", queries: 2, mixed: 0, flipped: 0, similaritySum: 0)  // written by close()
        try first.close()

        let second = try QueryLedger(path: path, modelSHA256: "m1", keyFingerprint: "k1")
        let alice = try XCTUnwrap(second.record(client: "alice"))
        XCTAssertEqual(alice.requests, 3)
        XCTAssertEqual(alice.queries, 10)
        XCTAssertEqual(alice.rowsMixed, 2)
        XCTAssertEqual(alice.rowsFlipped, 1)
        XCTAssertEqual(alice.meanSimilarity, 0.2, accuracy: 1e-9)
        let bob = try XCTUnwrap(second.record(client: "bob"))
        XCTAssertEqual(bob.queries, 1)
        XCTAssertEqual(bob.rejectedRequests, 1)
        XCTAssertLessThanOrEqual(bob.firstSeen, bob.lastSeen)
        // Counting goes on from the stored totals.
        second.recordAnswered(client: "alice", queries: 1, mixed: 1, flipped: 0, similaritySum: 0.3)
        try second.close()

        // Another model (or key) gets rows of its own in the same database.
        let third = try QueryLedger(path: path, modelSHA256: "m2", keyFingerprint: "k1")
        XCTAssertNil(third.record(client: "alice"))
        third.recordAnswered(client: "alice", queries: 7, mixed: 0, flipped: 0, similaritySum: 0)
        try third.close()
        let all = try QueryLedger(path: path, modelSHA256: "m1", keyFingerprint: "k1")
        let stored = try all.storedRecords()
        XCTAssertEqual(stored.map { "\($0.client)/\($0.modelSHA256)/\($0.queries)" }, ["alice/m1/11", "alice/m2/7", "bob/m1/1"])
        try all.close()

        // The server runs are logged with start and stop times.
        let db = try DatabaseQueue(path: path)
        let runs = try db.read { try Row.fetchAll($0, sql: "SELECT started_at, stopped_at, model_sha256, answer_mode FROM server_runs ORDER BY id") }
        XCTAssertEqual(runs.count, 4)
        XCTAssertEqual(runs[0]["answer_mode"] as String?, "label")
        XCTAssertNotNil(runs[0]["stopped_at"] as String?)
        try db.close()
    }

    /// A value of the wrong type in a column (text in a count, written by another program) is a
    /// start-up error naming the database, table, column and row; reading it used to stop the process.
    func testWrongTypedValueIsRejectedAtStart() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        let ledger = try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k")
        ledger.recordAnswered(client: "alice", queries: 5, mixed: 0, flipped: 0, similaritySum: 0)
        ledger.recordAnswered(client: "bob", queries: 1, mixed: 0, flipped: 0, similaritySum: 0)
        try ledger.close()
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "UPDATE client_stats SET queries = 'lots' WHERE client = 'bob'") }
        let rowid = try db.read { try Int.fetchOne($0, sql: "SELECT rowid FROM client_stats WHERE client = 'bob'") }
        try db.close()
        XCTAssertThrowsError(try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k")) { error in
            let e = error as? ServerError
            XCTAssertEqual(e?.kind, .database)
            XCTAssertEqual(e?.file, path)
            for word in ["table client_stats", "column queries", "row \(rowid ?? -1)", "expected an integer", "lots"] {
                XCTAssertTrue("\(error)".contains(word), "'\(error)' does not mention '\(word)'")
            }
        }
    }

    func testGarbageFileIsRejectedAtStart() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k")) { error in
            let e = error as? ServerError
            XCTAssertEqual(e?.kind, .database)
            XCTAssertEqual(e?.file, path)
            XCTAssertTrue("\(error)".contains("is not a SQLite database"), "\(error)")
        }
    }

    func testCorruptedDatabaseIsRejectedAtStart() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        let ledger = try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k")
        for i in 0..<200 { ledger.recordAnswered(client: "client-\(i)", queries: i, mixed: 0, flipped: 0, similaritySum: 0) }
        try ledger.close()
        // Checkpointed (close), so the data is in the main file: overwrite its second page onwards.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertGreaterThan(bytes.count, 8192)
        for i in 4096..<min(bytes.count, 12288) { bytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k")) { error in
            XCTAssertEqual((error as? ServerError)?.kind, .database)
            let text = "\(error)"
            XCTAssertTrue(text.contains("corrupted") || text.contains("not a SQLite database") || text.contains("malformed"), text)
            XCTAssertTrue(text.hasPrefix(path), text)
        }
    }

    func testLockedDatabaseIsRejectedAtStart() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k").close()
        // Another process (here: another connection) holds the write lock.
        let other = try ForeignWriteLock(path: path)
        let start = Date()
        XCTAssertThrowsError(try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k", busyTimeout: .milliseconds(200))) { error in
            XCTAssertEqual((error as? ServerError)?.kind, .database)
            XCTAssertTrue("\(error)".contains("locked by another process"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        other.release()
        try other.queue.close()
        // Once released, the server starts.
        try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k").close()
    }

    func testMissingDirectoryAndForeignTablesAreClearErrors() throws {
        let dir = try scratchDirectory(self)
        assertThrows(try QueryLedger(path: dir + "/no/such/dir/q.sqlite", modelSHA256: "m", keyFingerprint: "k"),
                     mentioning: ["does not exist"])
        let path = dir + "/foreign.sqlite"
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "CREATE TABLE client_stats (x INTEGER)") }
        try db.close()
        assertThrows(try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k"), mentioning: ["not a honeytrace query database"])
    }

    /// Start-up through `PredictionServer(configuration:)`: a bad database stops it before it listens.
    func testServerStartupFailsClearlyOnABadDatabase() throws {
        let fx = ServerFixture.shared
        let dir = try scratchDirectory(self)
        let dbPath = dir + "/bad.sqlite"
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: dbPath))
        var config = ServerConfiguration(modelDirectory: fx.directory, keyPath: fx.keyPath, databasePath: dbPath, logLevel: .critical)
        // The fixture's key has a secret derived from its seed: refused unless allowed.
        assertThrows(try PredictionServer(configuration: config), mentioning: [fx.keyPath, "derived from its seed", "--allow-seed-derived-secret"])
        config.allowSeedDerivedSecret = true
        assertThrows(try PredictionServer(configuration: config), mentioning: [dbPath, "not a SQLite database"])
        // And the good path: model directory + key file + clients file, default database beside the model.
        config.databasePath = dir + "/good.sqlite"
        config.answerMode = .label
        let clients = dir + "/clients.json"
        try Data(#"{"clients": [{"name": "alice", "key": "alice-key-0123456789abcdef"}]}"#.utf8).write(to: URL(fileURLWithPath: clients))
        config.clientsFile = clients
        let server = try PredictionServer(configuration: config)
        XCTAssertEqual(server.answerMode, .label)
        XCTAssertEqual(server.clients?.clients.map(\.name), ["alice"])
        try server.ledger.close()
        XCTAssertEqual(ServerConfiguration(modelDirectory: "/models/a", keyPath: "k").resolvedDatabasePath, "/models/a/honeytrace-queries.sqlite")
    }
}
