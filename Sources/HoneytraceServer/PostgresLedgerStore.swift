import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The ledger in PostgreSQL (postgres-nio), shared by several replicas of `honeytrace serve`.
///
/// URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, or with `?host=/socket/directory` for
/// a Unix socket (libpq's `DIR/.s.PGSQL.PORT`); TLS is not used, so keep the database on loopback
/// or a private network.
///
/// Two connections: one runs transactions (counts, evidence, DAWN, runs) one at a time, the other
/// the single-statement rate-limit updates of the request path. Every write transaction first
/// takes a transaction-scoped advisory lock, so appends to the evidence chain from all replicas
/// are serialized and the chain stays one chain. A connection that dropped is reopened on next use.
public final class PostgresLedgerStore: LedgerStore, @unchecked Sendable {
    public let location: String
    public var dialect: LedgerSchema.Dialect { .postgres }
    public var rowIDColumn: String? { nil }
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let writerLock = NSLock()
    private var writer: PostgresConnection?
    private let limiterLock = NSLock()
    private var limiter: PostgresConnection?
    private var closed = false

    /// The advisory lock every write transaction holds: the evidence chain's head.
    static let chainLock: Int64 = 0x486f_6e65_7974_7200
    /// The advisory lock held while migrating, so two replicas starting together migrate once.
    static let migrationLock: Int64 = 0x486f_6e65_7974_7201

    /// Connects to the database at `url` and migrates its schema (with `migrate` false, only
    /// checks that the schema is one this build knows).
    public init(url: String, migrate: Bool = true, logger: Logger? = nil) throws {
        let parsed = try PostgresLedgerStore.parse(url)
        location = parsed.redacted
        configuration = parsed.configuration
        var log = logger ?? Logger(label: "honeytrace.ledger.postgres")
        log.logLevel = .warning
        self.logger = log
        try writerLock.withLock { _ = try connection(&writer) }
        do {
            if migrate { try self.migrate() } else { try checkSchema() }
        } catch {
            close()
            throw error
        }
    }

    /// A connection must be closed before it goes; `close()` waits for that, this does not.
    deinit {
        for c in [writer, limiter].compactMap({ $0 }) where !c.isClosed { let closing: EventLoopFuture<Void> = c.close(); _ = closing }
    }

    // MARK: URL

    struct ParsedURL {
        var configuration: PostgresConnection.Configuration
        var redacted: String
    }

    /// The connection settings in `url`, or a `ServerError` naming what is wrong with it.
    static func parse(_ url: String) throws -> ParsedURL {
        func bad(_ problem: String) -> ServerError {
            ServerError(file: redact(url), .database,
                        "not a usable PostgreSQL URL: \(problem) (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE or postgres://USER@/DATABASE?host=/socket/dir)")
        }
        guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw bad("cannot parse it")
        }
        guard let user = c.user.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else { throw bad("no user name") }
        let password = c.password.flatMap { $0.removingPercentEncoding }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw bad("no database name after the host") }
        let port = c.port ?? 5432
        guard (1...65535).contains(port) else { throw bad("port \(port) is not in 1…65535") }
        var socketDirectory: String?
        for item in c.queryItems ?? [] {
            switch item.name {
            case "host": socketDirectory = item.value
            case "sslmode":
                guard item.value == "disable" else { throw bad("sslmode=\(item.value ?? "") is not supported (only disable: TLS is not used)") }
            default: throw bad("unknown parameter '\(item.name)' (known: host, sslmode=disable)")
            }
        }
        var configuration: PostgresConnection.Configuration
        if let dir = socketDirectory, dir.hasPrefix("/") {
            configuration = .init(unixSocketPath: dir + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            guard let host = socketDirectory ?? c.host, !host.isEmpty else { throw bad("no host") }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        configuration.options.connectTimeout = .seconds(5)
        return ParsedURL(configuration: configuration, redacted: redact(url))
    }

    /// `url` with its password replaced by `***`, for messages and logs.
    static func redact(_ url: String) -> String {
        guard var c = URLComponents(string: url), c.password != nil else { return url }
        c.password = "***"
        return c.string ?? url
    }

    // MARK: Connections

    /// The open connection in `slot`, (re)connecting when there is none or it closed. Call with
    /// the slot's lock held.
    private func connection(_ slot: inout PostgresConnection?) throws -> PostgresConnection {
        if closed { throw ServerError(file: location, .database, "the ledger is closed") }
        if let c = slot, !c.isClosed { return c }
        do {
            let c = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                                                   id: Int.random(in: 1...Int(Int32.max)), logger: logger).wait()
            slot = c
            return c
        } catch {
            throw describe(error, connecting: true)
        }
    }

    // MARK: LedgerStore

    public func write<T>(_ body: (any LedgerTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", lock: PostgresLedgerStore.chainLock, body)
    }

    public func read<T>(_ body: (any LedgerTransaction) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", lock: nil, body)
    }

    private func transaction<T>(begin: String, lock: Int64?, _ body: (any LedgerTransaction) throws -> T) throws -> T {
        try writerLock.withLock {
            let tx = Transaction(connection: try connection(&writer), store: self)
            do {
                try tx.execute(begin)
                if let lock { try tx.execute("SELECT pg_advisory_xact_lock(?)", [.int(lock)]) }
                let result = try body(tx)
                try tx.execute("COMMIT")
                return result
            } catch {
                if !tx.connection.isClosed { try? tx.execute("ROLLBACK") }
                throw describe(error, connecting: false)
            }
        }
    }

    public func takeTokens(_ cost: Int, client: String, limit: RateLimit) async throws -> RateLimiter.Decision {
        guard cost <= limit.burst else { return .neverFits }
        // The bucket refills by the database's clock; one statement, so concurrent requests of
        // the client on any replica are serialized by the row lock and each sees the last's result.
        let sql = """
            INSERT INTO rate_limits AS r (client, tokens, updated_at, allowed)
            VALUES (?, ?, extract(epoch FROM clock_timestamp())::double precision, 1)
            ON CONFLICT (client) DO UPDATE SET
              tokens = CASE WHEN LEAST(?, r.tokens + GREATEST(0, excluded.updated_at - r.updated_at) * ?) >= ?
                            THEN LEAST(?, r.tokens + GREATEST(0, excluded.updated_at - r.updated_at) * ?) - ?
                            ELSE LEAST(?, r.tokens + GREATEST(0, excluded.updated_at - r.updated_at) * ?) END,
              allowed = CASE WHEN LEAST(?, r.tokens + GREATEST(0, excluded.updated_at - r.updated_at) * ?) >= ? THEN 1 ELSE 0 END,
              updated_at = excluded.updated_at
            RETURNING tokens, allowed
            """
        let burst = LedgerValue.double(Double(limit.burst)), rate = LedgerValue.double(limit.queriesPerSecond)
        let c = LedgerValue.double(Double(cost))
        let args: [LedgerValue] = [.text(client), .double(Double(limit.burst - cost)),
                                   burst, rate, c, burst, rate, c, burst, rate, burst, rate, c]
        let conn = try limiterLock.withLock { try connection(&limiter) }
        let rows: [LedgerRow]
        do {
            let result: EventLoopFuture<PostgresQueryResult> = conn.query(Transaction.query(sql, args), logger: logger)
            rows = try Transaction.rows(try await result.get())
        } catch {
            throw describe(error, connecting: false)
        }
        guard let row = rows.first, let allowed = row["allowed"].int, let tokens = row["tokens"].double else {
            throw ServerError(file: location, .database, "the rate-limit update returned no bucket")
        }
        return allowed == 1 ? .allowed : .refused(retryAfter: (Double(cost) - tokens) / limit.queriesPerSecond)
    }

    public func close() {
        let conns: [PostgresConnection] = writerLock.withLock {
            limiterLock.withLock {
                closed = true
                defer { writer = nil; limiter = nil }
                return [writer, limiter].compactMap { $0 }
            }
        }
        for c in conns { try? c.close().wait() }
    }

    // MARK: Schema

    /// Applies the migrations the database lacks, in one transaction under the migration lock.
    private func migrate() throws {
        try transaction(begin: "BEGIN", lock: PostgresLedgerStore.migrationLock) { tx in
            try tx.execute("CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            let applied = try tx.query("SELECT identifier FROM grdb_migrations").compactMap { $0["identifier"].text }
            try LedgerLocation.checkApplied(applied, location: location)
            for m in LedgerSchema.migrations where !applied.contains(m.name) {
                for statement in m.sql(.postgres).split(separator: ";") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try tx.execute(String(statement))
                }
                try tx.execute("INSERT INTO grdb_migrations (identifier) VALUES (?)", [.text(m.name)])
            }
        }
    }

    /// Checks, without changing anything, that every migration of this build and no other is applied.
    private func checkSchema() throws {
        try read { tx in
            guard try tx.query("SELECT to_regclass('grdb_migrations') IS NOT NULL AS present").first?["present"] == .int(1) else {
                throw ServerError(file: location, .database, "holds no honeytrace ledger (no table grdb_migrations): no server has used this database yet")
            }
            let applied = try tx.query("SELECT identifier FROM grdb_migrations").compactMap { $0["identifier"].text }
            try LedgerLocation.checkApplied(applied, location: location)
            let missing = LedgerSchema.names.filter { !applied.contains($0) }
            guard missing.isEmpty else {
                throw ServerError(file: location, .database,
                                  "the ledger's schema is older than this honeytrace (missing migrations \(missing.joined(separator: ", "))): start `honeytrace serve --ledger` on it once to migrate it")
            }
        }
    }

    // MARK: Errors

    /// A clear `ServerError` for a postgres-nio failure (its own description hides the details).
    func describe(_ error: any Error, connecting: Bool) -> ServerError {
        if let e = error as? ServerError { return e }
        let target = configuration.unixSocketPath ?? "\(configuration.host ?? "?"):\(configuration.port ?? 5432)"
        guard let e = error as? PSQLError else {
            return ServerError(file: location, .database, "cannot reach the PostgreSQL server at \(target): \(error)")
        }
        if e.code == .server, let info = e.serverInfo {
            let state = info[.sqlState] ?? "", message = info[.message] ?? "error"
            let hint: String
            switch state {
            case "3D000": hint = " (create it: createdb, or CREATE DATABASE)"
            case "28000", "28P01": hint = " (check the user name and password in the URL, and pg_hba.conf)"
            case "42P01", "42703": hint = " (the database holds tables that are not a honeytrace ledger)"
            default: hint = ""
            }
            return ServerError(file: location, .database, "PostgreSQL refused: \(message) [SQLSTATE \(state)]\(hint)")
        }
        switch e.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            let cause = e.underlying.map { ": \($0)" } ?? ""
            return ServerError(file: location, .database,
                               connecting ? "cannot reach the PostgreSQL server at \(target)\(cause); is it running, and is the URL right?"
                                          : "lost the connection to the PostgreSQL server at \(target)\(cause)")
        case .authMechanismRequiresPassword:
            return ServerError(file: location, .database, "the PostgreSQL server at \(target) wants a password; put it in the URL (postgres://USER:PASSWORD@…)")
        default:
            return ServerError(file: location, .database, "PostgreSQL error at \(target): \(e.code)\(e.underlying.map { " (\($0))" } ?? "")")
        }
    }

    /// Statements on one connection, blocking; `?` placeholders become `$1`, `$2`, ….
    private struct Transaction: LedgerTransaction {
        let connection: PostgresConnection
        let store: PostgresLedgerStore

        func execute(_ sql: String, _ arguments: [LedgerValue]) throws {
            _ = try connection.query(Transaction.query(sql, arguments), logger: store.logger).wait()
        }

        func query(_ sql: String, _ arguments: [LedgerValue]) throws -> [LedgerRow] {
            try Transaction.rows(try connection.query(Transaction.query(sql, arguments), logger: store.logger).wait())
        }

        static func query(_ sql: String, _ arguments: [LedgerValue]) -> PostgresQuery {
            var text = "", n = 0
            text.reserveCapacity(sql.utf8.count + 16)
            for ch in sql {
                if ch == "?" { n += 1; text += "$\(n)" } else { text.append(ch) }
            }
            var binds = PostgresBindings(capacity: arguments.count)
            for a in arguments {
                switch a {
                case .null: binds.appendNull()
                case .int(let v): binds.append(v)
                case .double(let v): binds.append(v)
                case .text(let v): binds.append(v)
                case .blob(let v): binds.append(ByteBuffer(bytes: v))
                }
            }
            return PostgresQuery(unsafeSQL: text, binds: binds)
        }

        static func rows(_ result: PostgresQueryResult) throws -> [LedgerRow] {
            try result.rows.map { row in
                var values: [String: LedgerValue] = [:]
                for cell in row {
                    guard cell.bytes != nil else { values[cell.columnName] = .null; continue }
                    switch cell.dataType {
                    case .int2, .int4, .int8: values[cell.columnName] = .int(try cell.decode(Int64.self))
                    case .bool: values[cell.columnName] = .int(try cell.decode(Bool.self) ? 1 : 0)
                    case .float4, .float8, .numeric: values[cell.columnName] = .double(try cell.decode(Double.self))
                    case .bytea: values[cell.columnName] = .blob(Array(buffer: try cell.decode(ByteBuffer.self)))
                    default: values[cell.columnName] = .text(try cell.decode(String.self))
                    }
                }
                return LedgerRow(values)
            }
        }
    }
}
