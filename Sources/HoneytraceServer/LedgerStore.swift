import Foundation

/// Statements run inside one ledger transaction. SQL uses `?` placeholders in both dialects.
public protocol LedgerTransaction {
    func execute(_ sql: String, _ arguments: [LedgerValue]) throws
    func query(_ sql: String, _ arguments: [LedgerValue]) throws -> [LedgerRow]
}

extension LedgerTransaction {
    func execute(_ sql: String) throws { try execute(sql, []) }
    func query(_ sql: String) throws -> [LedgerRow] { try query(sql, []) }
}

/// Where a server keeps its ledger: the query counts, server runs, DAWN watermark logs, rate-limit
/// buckets and the evidence chain (tables in `LedgerSchema`). `QueryLedger`, `DAWNLedger`,
/// `EvidenceChain` and the server code against this; `SQLiteLedgerStore` keeps it in one embedded
/// file for one server, `PostgresLedgerStore` in PostgreSQL for several replicas.
///
/// The blocking calls (`write`, `read`) must not run on an event loop; the server calls them from
/// threads of their own. Errors are `ServerError(.database)` naming the ledger and the problem.
public protocol LedgerStore: AnyObject, Sendable {
    /// The file or URL (without a password) the ledger lives at, for messages.
    var location: String { get }
    var dialect: LedgerSchema.Dialect { get }
    /// The column naming a `client_stats` row in error messages (`rowid` in SQLite), if any.
    var rowIDColumn: String? { get }

    /// Runs `body` in one transaction and commits it; rolls back when it throws. While it runs no
    /// other writer of the same ledger (thread, process or replica) appends to the evidence chain.
    func write<T>(_ body: (any LedgerTransaction) throws -> T) throws -> T
    /// Runs `body` against one consistent snapshot.
    func read<T>(_ body: (any LedgerTransaction) throws -> T) throws -> T
    /// Takes `cost` tokens from `client`'s bucket, atomically for every server of the ledger.
    func takeTokens(_ cost: Int, client: String, limit: RateLimit) async throws -> RateLimiter.Decision
    /// Closes the connection or file. Idempotent.
    func close()
}

extension LedgerStore {
    /// Whether the ledger has a table `name` (inside `tx`).
    func hasTable(_ name: String, in tx: any LedgerTransaction) throws -> Bool {
        let sql = dialect == .sqlite
            ? "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?"
            : "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
        return (try tx.query(sql, [.text(name)]).first?["n"].int ?? 0) > 0
    }

    /// Runs a blocking `write` on a thread of its own, off Swift's cooperative pool.
    func writeOffPool<T: Sendable>(_ body: @escaping @Sendable (any LedgerTransaction) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, any Error>) in
            Thread { done.resume(with: Result { try self.write(body) }) }.start()
        }
    }
}

/// Opening a ledger from what `serve --ledger` or `ledger verify` was given.
public enum LedgerLocation {
    /// True when `location` names a PostgreSQL database (`postgres://` or `postgresql://`).
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// The store at `location` with every migration applied: a PostgreSQL URL, or a SQLite file
    /// path (`:memory:` for none).
    ///
    /// - Throws: `ServerError(.database)` naming the location: a malformed URL, an unreachable or
    ///   refusing server, a file that is not a ledger, a schema newer than this build.
    public static func open(_ location: String, busyTimeout: Duration = .seconds(2), migrate: Bool = true) throws -> any LedgerStore {
        if isPostgres(location) { return try PostgresLedgerStore(url: location, migrate: migrate) }
        return try SQLiteLedgerStore(path: location, busyTimeout: busyTimeout, migrate: migrate)
    }

    /// The migrations a ledger records, checked against this build's: an unknown one means a newer
    /// honeytrace wrote the schema, which this build must not write to.
    static func checkApplied(_ applied: [String], location: String) throws {
        let known = Set(LedgerSchema.names)
        let unknown = applied.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw ServerError(file: location, .database,
                              "the ledger's schema is newer than this honeytrace (unknown migrations \(unknown.joined(separator: ", ")); this build knows \(LedgerSchema.names.joined(separator: ", "))): upgrade honeytrace or use another ledger")
        }
    }
}
