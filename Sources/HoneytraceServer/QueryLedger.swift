import Foundation
import GRDB
import Logging

/// One client's counts against one served model and key: what an ownership case cites.
public struct ClientRecord: Codable, Sendable, Equatable {
    /// The client's name (`anonymous` without a clients file).
    public var client: String
    /// SHA-256 of the served model's weights.
    public var modelSHA256: String
    /// Fingerprint of the watermark key's secret (never the secret itself).
    public var keyFingerprint: String
    /// Requests answered.
    public var requests: Int
    /// Images answered (one query per image).
    public var queries: Int
    /// Images whose logits the defense mixed with reference logits (s > 0).
    public var rowsMixed: Int
    /// Images the defense answered with flipped (reference) logits.
    public var rowsFlipped: Int
    /// Sum of the defense's similarity s over the answered images.
    public var similaritySum: Double
    /// Requests refused after authentication (bad body 400, 413, 429, 503).
    public var rejectedRequests: Int
    /// ISO 8601 times of the first and latest request counted.
    public var firstSeen: String
    public var lastSeen: String

    /// Mean similarity s over the answered images (0 when none).
    public var meanSimilarity: Double { queries > 0 ? similaritySum / Double(queries) : 0 }

    public init(client: String, modelSHA256: String, keyFingerprint: String, requests: Int = 0, queries: Int = 0,
                rowsMixed: Int = 0, rowsFlipped: Int = 0, similaritySum: Double = 0, rejectedRequests: Int = 0,
                firstSeen: String, lastSeen: String) {
        self.client = client
        self.modelSHA256 = modelSHA256
        self.keyFingerprint = keyFingerprint
        self.requests = requests
        self.queries = queries
        self.rowsMixed = rowsMixed
        self.rowsFlipped = rowsFlipped
        self.similaritySum = similaritySum
        self.rejectedRequests = rejectedRequests
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    private enum CodingKeys: String, CodingKey {
        case client, modelSHA256 = "model_sha256", keyFingerprint = "key_fingerprint", requests, queries
        case rowsMixed = "rows_mixed", rowsFlipped = "rows_flipped", similaritySum = "similarity_sum"
        case meanSimilarity = "mean_similarity", rejectedRequests = "rejected_requests", firstSeen = "first_seen", lastSeen = "last_seen"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(client: try c.decode(String.self, forKey: .client), modelSHA256: try c.decode(String.self, forKey: .modelSHA256),
                  keyFingerprint: try c.decode(String.self, forKey: .keyFingerprint), requests: try c.decode(Int.self, forKey: .requests),
                  queries: try c.decode(Int.self, forKey: .queries), rowsMixed: try c.decode(Int.self, forKey: .rowsMixed),
                  rowsFlipped: try c.decode(Int.self, forKey: .rowsFlipped), similaritySum: try c.decode(Double.self, forKey: .similaritySum),
                  rejectedRequests: try c.decode(Int.self, forKey: .rejectedRequests), firstSeen: try c.decode(String.self, forKey: .firstSeen),
                  lastSeen: try c.decode(String.self, forKey: .lastSeen))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(client, forKey: .client)
        try c.encode(modelSHA256, forKey: .modelSHA256)
        try c.encode(keyFingerprint, forKey: .keyFingerprint)
        try c.encode(requests, forKey: .requests)
        try c.encode(queries, forKey: .queries)
        try c.encode(rowsMixed, forKey: .rowsMixed)
        try c.encode(rowsFlipped, forKey: .rowsFlipped)
        try c.encode(similaritySum, forKey: .similaritySum)
        try c.encode(meanSimilarity, forKey: .meanSimilarity)
        try c.encode(rejectedRequests, forKey: .rejectedRequests)
        try c.encode(firstSeen, forKey: .firstSeen)
        try c.encode(lastSeen, forKey: .lastSeen)
    }
}

/// Per-client query counts and defense statistics, kept in memory and written to SQLite.
///
/// Counting happens in memory under a lock (cheap on the request path); `flush()` adds the
/// counts gathered since the last flush to the database in one transaction. The server flushes
/// every `flushInterval` and once more at shutdown, so a crash loses at most one interval. A
/// failed flush (a locked or full disk) keeps the counts for the next one and never fails a request.
///
/// Database (SQLite, WAL journal; schema version in `PRAGMA user_version` via GRDB's migrator):
///
/// ```sql
/// CREATE TABLE client_stats (
///   client TEXT NOT NULL, model_sha256 TEXT NOT NULL, key_fingerprint TEXT NOT NULL,
///   requests INTEGER NOT NULL, queries INTEGER NOT NULL,
///   rows_mixed INTEGER NOT NULL, rows_flipped INTEGER NOT NULL, similarity_sum REAL NOT NULL,
///   rejected_requests INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
///   PRIMARY KEY (client, model_sha256, key_fingerprint));
/// CREATE TABLE server_runs (
///   id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, stopped_at TEXT,
///   model_sha256 TEXT NOT NULL, key_fingerprint TEXT NOT NULL, answer_mode TEXT NOT NULL);
/// ```
///
/// Rows are keyed by client, model and key, so one database can serve several models over time
/// and every count says which model and key answered it. Times are ISO 8601 UTC. The same flush
/// writes the evidence ledger (`EvidenceLedger`, one hash-chained row per answered query) in the
/// same transaction.
public final class QueryLedger: @unchecked Sendable {
    /// The database file (`":memory:"` for an unpersisted ledger).
    public let path: String
    public let modelSHA256: String
    public let keyFingerprint: String

    private let database: DatabaseQueue
    /// The database, for `DAWNLedger`'s table.
    var databaseQueue: DatabaseQueue { database }
    private let lock = NSLock()
    private var totals: [String: Tally] = [:]
    private var pending: [String: Tally] = [:]
    private var runID: Int64?
    private var closed = false
    private let logger: Logger
    /// The answered queries waiting to be chained into `evidence_ledger`.
    let evidence: EvidenceLedger

    /// Opens (creating if needed) the database at `path`, checks it, migrates its schema, loads
    /// the counts recorded for this model and key, and records the start of a server run.
    ///
    /// - Throws: `ServerError(.database)` naming the file when it is not a SQLite database or
    ///   is corrupted, is locked by another process for longer than `busyTimeout`, cannot be
    ///   created or written, or holds tables of another shape.
    public init(path: String, modelSHA256: String, keyFingerprint: String, answerMode: String = "",
                busyTimeout: Duration = .seconds(2), logger: Logger = Logger(label: "honeytrace.ledger")) throws {
        self.path = path
        self.modelSHA256 = modelSHA256
        self.keyFingerprint = keyFingerprint
        self.logger = logger
        self.evidence = EvidenceLedger(modelSHA256: modelSHA256, keyFingerprint: keyFingerprint)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout.seconds)
        config.label = "honeytrace.ledger"
        if path != ":memory:" {
            config.journalMode = .wal
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw ServerError(file: path, .database, "cannot create the query database: directory \(dir) does not exist")
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
            }
            try QueryLedger.migrator.migrate(database)
            let started = QueryLedger.now()
            let loaded = try database.write { db -> [ClientRecord] in
                try db.execute(sql: "INSERT INTO server_runs (started_at, model_sha256, key_fingerprint, answer_mode) VALUES (?, ?, ?, ?)",
                               arguments: [started, modelSHA256, keyFingerprint, answerMode])
                runID = db.lastInsertedRowID
                return try QueryLedger.fetchRecords(db, modelSHA256: modelSHA256, keyFingerprint: keyFingerprint, path: path)
            }
            for r in loaded { totals[r.client] = Tally(r) }
        } catch let error as ServerError {
            throw error
        } catch {
            throw QueryLedger.describe(error, path: path)
        }
    }

    /// The schema, version by version (GRDB keeps the applied versions in `grdb_migrations`).
    private static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
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
                """)
        }
        m.registerMigration("v2-dawn") { db in try db.execute(sql: DAWNLedger.schema) }
        m.registerMigration("v3-evidence") { db in try db.execute(sql: EvidenceLedger.schema) }
        return m
    }()

    /// A clear start-up error for a GRDB/SQLite failure.
    static func describe(_ error: any Error, path: String) -> ServerError {
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

    /// The rows of `client_stats`, each value checked against its column's type: GRDB's typed
    /// subscripts stop the process on a value of another type (text in a count column, written by
    /// hand or by another program), so a bad value is a `ServerError` naming the database, table,
    /// column and row instead.
    private static func fetchRecords(_ db: Database, modelSHA256: String?, keyFingerprint: String?, path: String) throws -> [ClientRecord] {
        var sql = "SELECT rowid, client, model_sha256, key_fingerprint, requests, queries, rows_mixed, rows_flipped, similarity_sum, rejected_requests, first_seen, last_seen FROM client_stats"
        var args: StatementArguments = []
        if let modelSHA256, let keyFingerprint {
            sql += " WHERE model_sha256 = ? AND key_fingerprint = ?"
            args = [modelSHA256, keyFingerprint]
        }
        sql += " ORDER BY client, model_sha256, key_fingerprint"
        return try Row.fetchAll(db, sql: sql, arguments: args).map { row in
            func value<T: DatabaseValueConvertible>(_ column: String, _ type: String) throws -> T {
                let stored: DatabaseValue = row[column]
                guard let v = T.fromDatabaseValue(stored) else {
                    let rowid: DatabaseValue = row["rowid"]
                    throw ServerError(file: path, .database,
                                      "table client_stats, column \(column), row \(rowid): expected \(type), found \(stored); fix or delete the row, or move the database aside")
                }
                return v
            }
            return ClientRecord(client: try value("client", "text"), modelSHA256: try value("model_sha256", "text"),
                                keyFingerprint: try value("key_fingerprint", "text"), requests: try value("requests", "an integer"),
                                queries: try value("queries", "an integer"), rowsMixed: try value("rows_mixed", "an integer"),
                                rowsFlipped: try value("rows_flipped", "an integer"), similaritySum: try value("similarity_sum", "a number"),
                                rejectedRequests: try value("rejected_requests", "an integer"), firstSeen: try value("first_seen", "text"),
                                lastSeen: try value("last_seen", "text"))
        }
    }

    static func now() -> String { format(Date()) }

    /// ISO 8601 UTC with milliseconds.
    static func format(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    static func parseTime(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    // MARK: Counting

    /// Counts in memory; times as `Date`, formatted only when written or listed.
    private struct Tally {
        var requests = 0, queries = 0, rowsMixed = 0, rowsFlipped = 0, rejectedRequests = 0
        var similaritySum = 0.0
        var firstSeen: Date
        var lastSeen: Date

        init(firstSeen: Date, lastSeen: Date) {
            self.firstSeen = firstSeen
            self.lastSeen = lastSeen
        }

        init(_ r: ClientRecord) {
            requests = r.requests; queries = r.queries; rowsMixed = r.rowsMixed; rowsFlipped = r.rowsFlipped
            rejectedRequests = r.rejectedRequests; similaritySum = r.similaritySum
            firstSeen = QueryLedger.parseTime(r.firstSeen) ?? Date()
            lastSeen = QueryLedger.parseTime(r.lastSeen) ?? Date()
        }

        mutating func add(_ d: Tally) {
            requests += d.requests; queries += d.queries; rowsMixed += d.rowsMixed; rowsFlipped += d.rowsFlipped
            rejectedRequests += d.rejectedRequests; similaritySum += d.similaritySum
            firstSeen = min(firstSeen, d.firstSeen)
            lastSeen = max(lastSeen, d.lastSeen)
        }
    }

    private func record(_ client: String, _ t: Tally) -> ClientRecord {
        ClientRecord(client: client, modelSHA256: modelSHA256, keyFingerprint: keyFingerprint, requests: t.requests, queries: t.queries,
                     rowsMixed: t.rowsMixed, rowsFlipped: t.rowsFlipped, similaritySum: t.similaritySum,
                     rejectedRequests: t.rejectedRequests, firstSeen: QueryLedger.format(t.firstSeen), lastSeen: QueryLedger.format(t.lastSeen))
    }

    /// Counts one answered request of `queries` images for `client`.
    public func recordAnswered(client: String, queries: Int, mixed: Int, flipped: Int, similaritySum: Double) {
        update(client) { t in
            t.requests += 1
            t.queries += queries
            t.rowsMixed += mixed
            t.rowsFlipped += flipped
            t.similaritySum += similaritySum
        }
    }

    /// Counts one refused request of a known client.
    public func recordRejected(client: String) {
        update(client) { $0.rejectedRequests += 1 }
    }

    private func update(_ client: String, _ change: (inout Tally) -> Void) {
        let now = Date()
        lock.lock()
        defer { lock.unlock() }
        var total = totals[client] ?? Tally(firstSeen: now, lastSeen: now)
        var delta = pending[client] ?? Tally(firstSeen: total.firstSeen, lastSeen: now)
        change(&total)
        change(&delta)
        total.lastSeen = now
        delta.lastSeen = now
        totals[client] = total
        pending[client] = delta
    }

    /// Every client's counts for the served model and key, flushed or not, by client name.
    public func records() -> [ClientRecord] {
        lock.lock()
        let snapshot = totals
        lock.unlock()
        return snapshot.keys.sorted().map { record($0, snapshot[$0]!) }
    }

    /// Images answered to `client` so far (0 when it never sent a request), without building its record.
    public func answeredQueries(client: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return totals[client]?.queries ?? 0
    }

    /// The counts of `client` (nil when it never sent a request).
    public func record(client: String) -> ClientRecord? {
        lock.lock()
        let t = totals[client]
        lock.unlock()
        return t.map { record(client, $0) }
    }

    /// Every row of the database (all models and keys), read from disk.
    public func storedRecords() throws -> [ClientRecord] {
        do {
            return try database.read { try QueryLedger.fetchRecords($0, modelSHA256: nil, keyFingerprint: nil, path: path) }
        } catch let error as ServerError {
            throw error
        } catch {
            throw QueryLedger.describe(error, path: path)
        }
    }

    /// Adds the counts gathered since the last flush and the evidence entries of the queries
    /// answered since to the database, in one transaction. On failure both are kept for the next
    /// flush and the error is rethrown.
    public func flush() throws {
        lock.lock()
        let batch = pending
        pending = [:]
        lock.unlock()
        let (entries, lost) = evidence.take()
        if lost > 0 {
            logger.error("answered queries were not recorded in the evidence ledger: more than \(EvidenceLedger.maxUnwritten) were waiting for the database",
                         metadata: ["lost": "\(lost)", "database": "\(path)"])
        }
        if batch.isEmpty && entries.isEmpty { return }
        do {
            try database.write { db in
                try evidence.append(entries, to: db)
                for (client, d) in batch {
                    try db.execute(sql: """
                        INSERT INTO client_stats (client, model_sha256, key_fingerprint, requests, queries, rows_mixed, rows_flipped,
                                                  similarity_sum, rejected_requests, first_seen, last_seen)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (client, model_sha256, key_fingerprint) DO UPDATE SET
                          requests = requests + excluded.requests, queries = queries + excluded.queries,
                          rows_mixed = rows_mixed + excluded.rows_mixed, rows_flipped = rows_flipped + excluded.rows_flipped,
                          similarity_sum = similarity_sum + excluded.similarity_sum,
                          rejected_requests = rejected_requests + excluded.rejected_requests,
                          last_seen = excluded.last_seen
                        """, arguments: [client, modelSHA256, keyFingerprint, d.requests, d.queries, d.rowsMixed, d.rowsFlipped,
                                         d.similaritySum, d.rejectedRequests, QueryLedger.format(d.firstSeen), QueryLedger.format(d.lastSeen)])
                }
            }
        } catch {
            evidence.putBack(entries)
            lock.lock()
            for (client, d) in batch {
                if var newer = pending[client] {
                    newer.add(d)
                    pending[client] = newer
                } else {
                    pending[client] = d
                }
            }
            lock.unlock()
            throw QueryLedger.describe(error, path: path)
        }
    }

    /// Flushes, marks the server run stopped and closes the database. Idempotent.
    public func close() throws {
        lock.lock()
        if closed { lock.unlock(); return }
        closed = true
        lock.unlock()
        defer { try? database.close() }
        try flush()
        if let runID {
            do {
                try database.write { db in
                    try db.execute(sql: "UPDATE server_runs SET stopped_at = ? WHERE id = ?", arguments: [QueryLedger.now(), runID])
                }
            } catch {
                throw QueryLedger.describe(error, path: path)
            }
        }
    }
}
