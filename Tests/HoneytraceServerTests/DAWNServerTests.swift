import Baselines
import Foundation
import GRDB
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import Prediction
import TensorEngine
import Training
import XCTest

/// DAWN served: watermark answers over HTTP, their log in the query database, its export.
final class DAWNServerTests: XCTestCase {
    private let secret = try! DAWNSecret(bytes: (0..<32).map { UInt8(3 * $0 + 1) })

    private func dawnConfiguration(_ dir: String, rate: Double) throws -> ServerConfiguration {
        try secret.save(to: dir + "/dawn.secret")
        var c = testConfiguration(dir, maxRows: 8)
        c.dawnSecretPath = dir + "/dawn.secret"
        c.dawnRate = rate
        return c
    }

    func testWatermarkQueriesReachTheLedgerPerClientAndExport() async throws {
        let dir = try scratchDirectory(self)
        let server = try PredictionServer(undefended: fx.model, configuration: try dawnConfiguration(dir, rate: 0.5), clients: try testClients())
        // The same DAWN in process: what the server must answer.
        let local = try DAWNAPI(base: ModelAPI(model: fx.model), marker: try DAWNMarker(secret: secret, configuration: DAWNConfiguration(rate: 0.5)),
                                defaultClient: "alice")
        let x = fx.tensor(fx.images(20))
        let expected = try local.answer(x)
        let bare = try ModelAPI(model: fx.model).answer(x)
        let aliceLog = local.log(client: "alice")
        let marked = (0..<20).filter { expected[$0] != bare[$0] }
        XCTAssertGreaterThan(aliceLog.entries.count, 3, "r_w 0.5 marks about half of 20 images")
        try await server.makeApplication().test(.live) { client in
            let url = "http://localhost:\(try XCTUnwrap(client.port))"
            let alice = try await onThread { try HTTPPredictionAPI(url: url, apiKey: aliceKey) }
            let rows = try await onThread { try alice.answer(x) }
            for r in 0..<20 {
                for j in 0..<10 { XCTAssertEqual(rows[r][j], expected[r][j], accuracy: 1e-6, "row \(r) class \(j)") }
            }
            // Asked twice, the same answers; the log keeps each query once.
            let again = try await onThread { try alice.answer(x) }
            XCTAssertEqual(again.map(ProbabilityRow.argmax), expected.map(ProbabilityRow.argmax))
            let bob = try await onThread { try HTTPPredictionAPI(url: url, apiKey: bobKey) }
            // Bob asks three of alice's watermark images: his log is his own.
            _ = try await onThread { try bob.answer(fx.tensor(marked.prefix(3).flatMap { fx.images(1, from: $0) })) }
        }
        XCTAssertEqual(marked.count, aliceLog.entries.count)

        let db = dir + "/queries.sqlite"
        let exported = try DAWNLedger.exportLog(databasePath: db, client: "alice")
        XCTAssertEqual(exported.entries, aliceLog.entries)
        XCTAssertEqual(exported.secretFingerprint, secret.fingerprint)
        XCTAssertEqual(exported.modelSHA256, server.ledger.modelSHA256)
        XCTAssertEqual(exported.inputShape, [1, 16, 16])
        XCTAssertEqual(exported.classes, 10)
        let bobLog = try DAWNLedger.exportLog(databasePath: db, client: "bob")
        XCTAssertEqual(bobLog.entries, Array(aliceLog.entries.prefix(3)))
        // The exported log round-trips through its file and verifies a copy of the answers.
        try exported.write(to: dir + "/alice.dawnlog.json")
        let log = try DAWNWatermarkLog.load(dir + "/alice.dawnlog.json")
        let copy = try DAWNAPI(base: ModelAPI(model: fx.model), marker: local.marker, answerMode: .label)
        let report = try DAWNVerifier.verify(log: log, suspect: copy, alpha: 0.05)
        XCTAssertEqual(report.agreements, log.watermark.count)
        XCTAssertEqual(try DAWNVerifier.verify(log: log, suspect: ModelAPI(model: fx.model, answerMode: .label)).agreements, 0)

        assertThrows(try DAWNLedger.exportLog(databasePath: db, client: "carol"), mentioning: [db, "carol", "alice, bob"])
        assertThrows(try DAWNLedger.exportLog(databasePath: dir + "/absent.sqlite", client: "alice"), mentioning: ["absent.sqlite"])
    }

    func testADatabaseFromBeforeDAWNGainsTheTableAndKeepsItsCounts() throws {
        let dir = try scratchDirectory(self)
        let path = dir + "/old.sqlite"
        let old = try DatabaseQueue(path: path)
        try old.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1');
                CREATE TABLE client_stats (
                  client TEXT NOT NULL, model_sha256 TEXT NOT NULL, key_fingerprint TEXT NOT NULL,
                  requests INTEGER NOT NULL DEFAULT 0, queries INTEGER NOT NULL DEFAULT 0,
                  rows_mixed INTEGER NOT NULL DEFAULT 0, rows_flipped INTEGER NOT NULL DEFAULT 0,
                  similarity_sum REAL NOT NULL DEFAULT 0, rejected_requests INTEGER NOT NULL DEFAULT 0,
                  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
                  PRIMARY KEY (client, model_sha256, key_fingerprint));
                CREATE TABLE server_runs (
                  id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, stopped_at TEXT,
                  model_sha256 TEXT NOT NULL, key_fingerprint TEXT NOT NULL, answer_mode TEXT NOT NULL);
                INSERT INTO client_stats VALUES ('alice', 'm', 'k', 2, 7, 0, 0, 0, 0, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
                """)
        }
        try old.close()
        let ledger = try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k")
        XCTAssertEqual(ledger.record(client: "alice")?.queries, 7)
        XCTAssertTrue(try ledger.store.read { try ledger.store.hasTable("dawn_watermarks", in: $0) })
        try ledger.close()
        assertThrows(try DAWNLedger.exportLog(databasePath: path, client: "alice"), mentioning: [path, "no DAWN watermark queries for client 'alice'"])
    }

    func testABadSecretFileStopsTheServerNamingIt() throws {
        let dir = try scratchDirectory(self)
        var c = testConfiguration(dir)
        c.dawnSecretPath = dir + "/missing.secret"
        assertThrows(try PredictionServer(undefended: fx.model, configuration: c, clients: nil), mentioning: ["missing.secret"])
        try Data("not hex\n".utf8).write(to: URL(fileURLWithPath: dir + "/bad.secret"))
        c.dawnSecretPath = dir + "/bad.secret"
        assertThrows(try PredictionServer(undefended: fx.model, configuration: c, clients: nil), mentioning: ["bad.secret", "64 hex digits"])
        c.dawnRate = 0
        XCTAssertThrowsError(try c.validate())
    }
}
