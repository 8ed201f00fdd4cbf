import Foundation
@testable import HoneytraceServer
import XCTest

/// What `--ledger` accepts, and the errors for a location that cannot be a ledger, without a
/// PostgreSQL server (ReplicaEndToEndTests runs against one).
final class LedgerLocationTests: XCTestCase {
    func testPostgresURLsAreParsedAndPasswordsHidden() throws {
        let tcp = try PostgresLedgerStore.parse("postgres://ht:s3cret@db.internal:6543/ledger")
        XCTAssertEqual(tcp.configuration.host, "db.internal")
        XCTAssertEqual(tcp.configuration.port, 6543)
        XCTAssertEqual(tcp.configuration.username, "ht")
        XCTAssertEqual(tcp.configuration.database, "ledger")
        XCTAssertFalse(tcp.redacted.contains("s3cret"), tcp.redacted)
        let socket = try PostgresLedgerStore.parse("postgresql://ht@/ledger?host=/run/postgresql")
        XCTAssertEqual(socket.configuration.unixSocketPath, "/run/postgresql/.s.PGSQL.5432")
        XCTAssertTrue(LedgerLocation.isPostgres("postgresql://x@y/z"))
        XCTAssertFalse(LedgerLocation.isPostgres("runs/queries.sqlite"))
    }

    func testBadURLsAreRefusedByName() {
        for (url, problem) in [("postgres://ledger-host/db", "no user name"), ("postgres://u@host", "no database name"),
                               ("postgres://u@host:5432/db?sslmode=require", "sslmode=require"),
                               ("postgres://u@host/db?timeout=3", "unknown parameter 'timeout'"),
                               ("postgres://u:pw@host:0/db", "port 0")] {
            assertThrows(try QueryLedger(path: url, modelSHA256: "m", keyFingerprint: "k"),
                         mentioning: ["not a usable PostgreSQL URL", problem])
        }
        assertThrows(try QueryLedger(path: "postgres://u:pw@host/db?x=1", modelSHA256: "m", keyFingerprint: "k"), mentioning: ["***"])
    }

    /// Nothing listens on the port (1, privileged and unused): a clear error naming the address,
    /// not a crash or a hang.
    func testUnreachableDatabaseIsAStartUpError() throws {
        let port = 1
        let start = Date()
        assertThrows(try QueryLedger(path: "postgres://ht@127.0.0.1:\(port)/ledger", modelSHA256: "m", keyFingerprint: "k"),
                     mentioning: ["postgres://ht@127.0.0.1:\(port)/ledger", "cannot reach the PostgreSQL server at 127.0.0.1:\(port)"])
        assertThrows(try EvidenceChain.verify(ledger: "postgres://ht@127.0.0.1:\(port)/ledger"), mentioning: ["cannot reach"])
        XCTAssertLessThan(Date().timeIntervalSince(start), 30)
    }

    /// Both dialects render every migration, and the types that differ are the only difference.
    func testOneMigrationListRendersForBothDatabases() {
        XCTAssertEqual(LedgerSchema.names, ["v1", "v2-dawn", "v3-evidence", "v4-rate-limits"])
        for m in LedgerSchema.migrations {
            for dialect in [LedgerSchema.Dialect.sqlite, .postgres] { XCTAssertFalse(m.sql(dialect).contains("{"), m.name) }
            XCTAssertTrue(m.sql(.postgres).contains("BIGINT") || !m.sql(.sqlite).contains("INTEGER"), m.name)
        }
        XCTAssertTrue(LedgerSchema.migrations[2].sql(.postgres).contains("similarity DOUBLE PRECISION NOT NULL"))
    }

    /// A SQLite ledger whose schema a newer honeytrace wrote is refused, naming the migration.
    func testNewerSchemaIsRefused() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k").close()
        try SQLiteLedgerStore(path: path).write { try $0.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')") }
        assertThrows(try QueryLedger(path: path, modelSHA256: "m", keyFingerprint: "k"), mentioning: [path, "v99-future", "newer than this honeytrace"])
    }
}
