import Foundation
import GRDB
@testable import HoneytraceServer
import XCTest

/// A ledger that records before answering (the PostgreSQL default; here on SQLite, which needs no
/// server): a request returns only once its records are committed, and a failed commit drops them.
final class RecordBeforeAnswerTests: XCTestCase {
    func testEveryReturnedCommitIsInTheDatabase() async throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        let ledger = try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k", recordBeforeAnswer: true)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask { try await ledger.commit { ledger.recordAnswered(client: "alice", queries: 1, mixed: 0, flipped: 0, similaritySum: 0) } }
            }
            try await group.waitForAll()
        }
        // Read by another connection, without a flush: the commits are already there.
        let other = try DatabaseQueue(path: path)
        let stored = try await other.read { try Int.fetchOne($0, sql: "SELECT queries FROM client_stats WHERE client = 'alice'") }
        XCTAssertEqual(stored, 40)
        try other.close()
        try ledger.close()
    }

    func testAFailedCommitFailsItsRequestAndDropsItsRecords() async throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        let ledger = try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k", busyTimeout: .milliseconds(100), recordBeforeAnswer: true)
        // Another connection holds the write lock, so the commit cannot happen.
        let other = try ForeignWriteLock(path: path)
        do {
            try await ledger.commit { ledger.recordAnswered(client: "bob", queries: 3, mixed: 0, flipped: 0, similaritySum: 0) }
            XCTFail("the commit should fail while the database is locked")
        } catch {
            XCTAssertTrue("\(error)".contains("locked"), "\(error)")
        }
        other.release()
        try ledger.close()
        let stored = try await other.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM client_stats WHERE client = 'bob'") }
        XCTAssertEqual(stored, 0, "a request that was not answered must not be recorded later")
        try other.queue.close()
    }
}
