import Foundation
import GRDB

/// The ledger in one embedded SQLite file (GRDB, WAL journal): the default, for one server.
///
/// Migrations run through GRDB's migrator from `LedgerSchema.migrations`. Rate-limit buckets stay
/// in this process's memory: one file serves one server, so nothing else shares them.
public final class SQLiteLedgerStore: LedgerStore, @unchecked Sendable {
    public let location: String
    public var dialect: LedgerSchema.Dialect { .sqlite }
    public var rowIDColumn: String? { "rowid" }
    let database: DatabaseQueue
    private let limiter = RateLimiter()

    /// Opens (creating if needed, unless `migrate` is false: then read-only) the file at `path`.
    public init(path: String, busyTimeout: Duration = .seconds(2), migrate: Bool = true) throws {
        location = path
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout.seconds)
        config.label = "honeytrace.ledger"
        config.readonly = !migrate
        if path != ":memory:" {
            if migrate { config.journalMode = .wal }
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isDir: ObjCBool = false
            if !migrate {
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                    throw ServerError(file: path, .database, "no such ledger (a server's query database, e.g. MODEL/honeytrace-queries.sqlite)")
                }
                guard !isDir.boolValue else { throw ServerError(file: path, .database, "is a directory, not a query database") }
            } else {
                guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                    throw ServerError(file: path, .database, "cannot create the query database: directory \(dir) does not exist")
                }
            }
        }
        do {
            database = path == ":memory:" ? try DatabaseQueue(configuration: config) : try DatabaseQueue(path: path, configuration: config)
            try database.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                guard check == ["ok"] else {
                    throw ServerError(file: path, .database,
                                      "the query database is corrupted (quick_check: \(check.prefix(3).joined(separator: "; "))); move it aside to start a new one")
                }
                if try db.tableExists("grdb_migrations") {
                    try LedgerLocation.checkApplied(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"), location: path)
                }
            }
            if migrate { try SQLiteLedgerStore.migrator.migrate(database) }
        } catch let error as ServerError {
            throw error
        } catch {
            throw SQLiteLedgerStore.describe(error, path: path)
        }
    }

    private static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        for migration in LedgerSchema.migrations {
            m.registerMigration(migration.name) { db in try db.execute(sql: migration.sql(.sqlite)) }
        }
        return m
    }()

    public func write<T>(_ body: (any LedgerTransaction) throws -> T) throws -> T {
        try described { try database.write { try body(Transaction(db: $0)) } }
    }

    public func read<T>(_ body: (any LedgerTransaction) throws -> T) throws -> T {
        try described { try database.read { try body(Transaction(db: $0)) } }
    }

    /// `work`'s result, its GRDB errors turned into `ServerError`s naming the file.
    private func described<T>(_ work: () throws -> T) throws -> T {
        do { return try work() } catch { throw SQLiteLedgerStore.describe(error, path: location) }
    }

    public func takeTokens(_ cost: Int, client: String, limit: RateLimit) async throws -> RateLimiter.Decision {
        limiter.take(cost, client: client, limit: limit)
    }

    public func close() { try? database.close() }

    private struct Transaction: LedgerTransaction {
        let db: Database

        func execute(_ sql: String, _ arguments: [LedgerValue]) throws {
            try db.execute(sql: sql, arguments: StatementArguments(arguments.map(Transaction.databaseValue)))
        }

        func query(_ sql: String, _ arguments: [LedgerValue]) throws -> [LedgerRow] {
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments.map(Transaction.databaseValue))).map { row in
                var values: [String: LedgerValue] = [:]
                for (column, value) in row {
                    switch value.storage {
                    case .null: values[column] = .null
                    case .int64(let v): values[column] = .int(v)
                    case .double(let v): values[column] = .double(v)
                    case .string(let v): values[column] = .text(v)
                    case .blob(let v): values[column] = .blob([UInt8](v))
                    }
                }
                return LedgerRow(values)
            }
        }

        static func databaseValue(_ value: LedgerValue) -> DatabaseValue {
            switch value {
            case .null: return .null
            case .int(let v): return v.databaseValue
            case .double(let v): return v.databaseValue
            case .text(let v): return v.databaseValue
            case .blob(let v): return Data(v).databaseValue
            }
        }
    }

    /// A clear error for a GRDB/SQLite failure.
    static func describe(_ error: any Error, path: String) -> ServerError {
        if let e = error as? ServerError { return e }
        guard let e = error as? DatabaseError else {
            return ServerError(file: path, .database, "cannot open the query database: \(error)")
        }
        let detail = e.message ?? "\(e.resultCode)"
        switch e.resultCode {
        case .SQLITE_NOTADB:
            return ServerError(file: path, .database, "is not a SQLite database (\(detail)); point the server at another database file or move this one aside")
        case .SQLITE_CORRUPT:
            return ServerError(file: path, .database, "the query database is corrupted (\(detail)); move it aside to start a new one")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return ServerError(file: path, .database, "the query database is locked by another process (another honeytrace server, or an open sqlite3 transaction?): \(detail)")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_AUTH:
            return ServerError(file: path, .database, "cannot open the query database for writing: \(detail)")
        case .SQLITE_FULL, .SQLITE_IOERR:
            return ServerError(file: path, .database, "cannot write the query database: \(detail)")
        default:
            if detail.contains("already exists") || detail.contains("no such column") || detail.contains("no such table") {
                return ServerError(file: path, .database, "holds tables that are not a honeytrace query database (\(detail)); use another file")
            }
            return ServerError(file: path, .database, "query database error: \(detail)")
        }
    }
}
