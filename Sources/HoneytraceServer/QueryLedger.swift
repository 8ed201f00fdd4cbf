import Foundation

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

/// Per-client query counts and defense statistics, counted in memory and written to the ledger
/// (`LedgerStore`: an embedded SQLite file, or PostgreSQL shared by replicas).
///
/// Counting happens in memory under a lock (cheap on the request path); `flush()` adds the counts
/// and evidence entries gathered since the last flush to the ledger in one transaction, then reads
/// back the stored totals of the clients it wrote, so counts that other replicas added show here
/// too. Two ways to reach the ledger:
///
/// - batched (the SQLite default): the server flushes every `flushInterval` and at shutdown, and
///   answers without waiting, so a crash loses at most one interval; a failed flush keeps the
///   counts and entries for the next one.
/// - record before answer (`recordBeforeAnswer`, the PostgreSQL default): a request's counts and
///   entries are recorded and the request waits in `commit(after:)` until a transaction holding
///   them committed; a writer thread commits whatever has gathered, so concurrent requests share
///   one transaction. A failed commit drops that batch and fails its requests (503), so the ledger
///   holds every answered query once, and no query that was refused.
///
/// Tables: `LedgerSchema`. Rows are keyed by client, model and key, so one ledger can serve
/// several models over time and every count says which model and key answered it. Times are ISO
/// 8601 UTC.
public final class QueryLedger: @unchecked Sendable {
    /// The database file (`":memory:"` for an unpersisted ledger) or PostgreSQL URL (password hidden).
    public var path: String { store.location }
    public let modelSHA256: String
    public let keyFingerprint: String
    /// Where the ledger lives.
    public let store: any LedgerStore
    /// Whether requests wait for their ledger entries to commit before they are answered.
    public let recordBeforeAnswer: Bool

    private let lock = NSLock()
    private let flushLock = NSLock()
    private var totals: [String: Tally] = [:]
    private var pending: [String: Tally] = [:]
    private var runID: Int64?
    private var closed = false
    private let logger: Logger
    /// The answered queries waiting to be chained into `evidence_ledger`.
    let evidence: EvidenceLedger
    let group = GroupCommit()
    private var writer: Thread?

    /// Opens the ledger at `path` (a SQLite file, `:memory:`, or a `postgres://` URL), migrates
    /// its schema, loads the counts recorded for this model and key, and records the start of a
    /// server run. `recordBeforeAnswer` nil = true for PostgreSQL, false for SQLite.
    ///
    /// - Throws: `ServerError(.database)` naming the file or URL when it is not a ledger or is
    ///   corrupted, is locked by another process for longer than `busyTimeout`, cannot be created
    ///   or written, cannot be reached, or holds tables of another shape or a newer schema.
    public init(path: String, modelSHA256: String, keyFingerprint: String, answerMode: String = "",
                busyTimeout: Duration = .seconds(2), recordBeforeAnswer: Bool? = nil,
                logger: Logger = Logger(label: "honeytrace.ledger")) throws {
        self.modelSHA256 = modelSHA256
        self.keyFingerprint = keyFingerprint
        self.logger = logger
        self.evidence = EvidenceLedger(modelSHA256: modelSHA256, keyFingerprint: keyFingerprint)
        let store = try LedgerLocation.open(path, busyTimeout: busyTimeout)
        self.store = store
        self.recordBeforeAnswer = recordBeforeAnswer ?? (store.dialect == .postgres)
        do {
            let started = QueryLedger.now()
            let (id, loaded) = try store.write { tx -> (Int64?, [ClientRecord]) in
                let run = try tx.query("INSERT INTO server_runs (started_at, model_sha256, key_fingerprint, answer_mode) VALUES (?, ?, ?, ?) RETURNING id",
                                       [.text(started), .text(modelSHA256), .text(keyFingerprint), .text(answerMode)])
                return (run.first?["id"].int,
                        try QueryLedger.fetchRecords(tx, store: store, modelSHA256: modelSHA256, keyFingerprint: keyFingerprint))
            }
            runID = id
            for r in loaded { totals[r.client] = Tally(r) }
        } catch {
            store.close()
            throw error
        }
        if self.recordBeforeAnswer {
            let thread = Thread { [group, weak self] in
                while group.waitForWork() {
                    do { try self?.flush() } catch {}
                }
            }
            thread.name = "honeytrace-ledger-writer"
            writer = thread
            thread.start()
        }
    }

    /// The rows of `client_stats` (of one model and key, or all), each value checked against its
    /// column's type, so a bad value (text in a count column, written by hand or by another
    /// program) is a `ServerError` naming the ledger, table, column and row.
    private static func fetchRecords(_ tx: any LedgerTransaction, store: any LedgerStore, modelSHA256: String?, keyFingerprint: String?,
                                     clients: [String]? = nil) throws -> [ClientRecord] {
        var sql = "SELECT \(store.rowIDColumn.map { "\($0) AS row_id, " } ?? "")client, model_sha256, key_fingerprint, requests, queries, rows_mixed, rows_flipped, similarity_sum, rejected_requests, first_seen, last_seen FROM client_stats"
        var args: [LedgerValue] = []
        if let modelSHA256, let keyFingerprint {
            sql += " WHERE model_sha256 = ? AND key_fingerprint = ?"
            args = [.text(modelSHA256), .text(keyFingerprint)]
            if let clients {
                sql += " AND client IN (\(clients.map { _ in "?" }.joined(separator: ", ")))"
                args += clients.map(LedgerValue.text)
            }
        }
        sql += " ORDER BY client, model_sha256, key_fingerprint"
        return try tx.query(sql, args).map { row in
            func value<T>(_ column: String, _ type: String, _ read: (LedgerValue) -> T?) throws -> T {
                guard let v = read(row[column]) else {
                    let which = store.rowIDColumn == nil ? "client \(row["client"])" : "row \(row["row_id"])"
                    throw ServerError(file: store.location, .database,
                                      "table client_stats, column \(column), \(which): expected \(type), found \(row[column]); fix or delete the row, or move the database aside")
                }
                return v
            }
            func int(_ column: String) throws -> Int { Int(try value(column, "an integer", \.int)) }
            func text(_ column: String) throws -> String { try value(column, "text", \.text) }
            return ClientRecord(client: try text("client"), modelSHA256: try text("model_sha256"), keyFingerprint: try text("key_fingerprint"),
                                requests: try int("requests"), queries: try int("queries"), rowsMixed: try int("rows_mixed"),
                                rowsFlipped: try int("rows_flipped"), similaritySum: try value("similarity_sum", "a number", \.double),
                                rejectedRequests: try int("rejected_requests"), firstSeen: try text("first_seen"), lastSeen: try text("last_seen"))
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

    /// Runs `record` (which counts and records one request's answer) and returns once a
    /// transaction holding what it recorded has committed; throws when that commit failed (the
    /// request's records are then dropped, not retried).
    public func commit(after record: () -> Void) async throws {
        try await group.commit(after: record)
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

    /// Every row of the ledger (all models and keys), as stored.
    public func storedRecords() throws -> [ClientRecord] {
        try store.read { try QueryLedger.fetchRecords($0, store: store, modelSHA256: nil, keyFingerprint: nil) }
    }

    /// Adds the counts gathered since the last flush and the evidence entries of the queries
    /// answered since to the ledger, in one transaction, and resumes the requests waiting for it.
    /// On failure the batch is kept for the next flush (batched) or dropped and its requests failed
    /// (record before answer), and the error is rethrown.
    public func flush() throws {
        try flushLock.withLock {
            let (waiters, (batch, taken)) = group.take { () -> ([String: Tally], (entries: [EvidenceLedger.Pending], lost: Int)) in
                lock.lock()
                defer { pending = [:]; lock.unlock() }
                return (pending, evidence.take())
            }
            let entries = taken.entries
            if taken.lost > 0 {
                logger.error("answered queries were not recorded in the evidence ledger: more than \(EvidenceLedger.maxUnwritten) were waiting for the database",
                             metadata: ["lost": "\(taken.lost)", "database": "\(path)"])
            }
            if batch.isEmpty && entries.isEmpty {
                GroupCommit.resume(waiters, with: .success(()))
                return
            }
            do {
                let model = modelSHA256, key = keyFingerprint, store = store
                let stored = try store.write { tx -> [ClientRecord] in
                    try evidence.append(entries, to: tx)
                    for (client, d) in batch.sorted(by: { $0.key < $1.key }) {
                        try tx.execute("""
                            INSERT INTO client_stats (client, model_sha256, key_fingerprint, requests, queries, rows_mixed, rows_flipped,
                                                      similarity_sum, rejected_requests, first_seen, last_seen)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            ON CONFLICT (client, model_sha256, key_fingerprint) DO UPDATE SET
                              requests = client_stats.requests + excluded.requests, queries = client_stats.queries + excluded.queries,
                              rows_mixed = client_stats.rows_mixed + excluded.rows_mixed, rows_flipped = client_stats.rows_flipped + excluded.rows_flipped,
                              similarity_sum = client_stats.similarity_sum + excluded.similarity_sum,
                              rejected_requests = client_stats.rejected_requests + excluded.rejected_requests,
                              last_seen = excluded.last_seen
                            """, [.text(client), .text(model), .text(key), LedgerValue(d.requests), LedgerValue(d.queries), LedgerValue(d.rowsMixed),
                                  LedgerValue(d.rowsFlipped), .double(d.similaritySum), LedgerValue(d.rejectedRequests),
                                  .text(QueryLedger.format(d.firstSeen)), .text(QueryLedger.format(d.lastSeen))])
                    }
                    return batch.isEmpty ? [] : try QueryLedger.fetchRecords(tx, store: store, modelSHA256: model, keyFingerprint: key,
                                                                             clients: batch.keys.sorted())
                }
                // The stored totals include other replicas' counts; add what gathered here since the batch was taken.
                lock.withLock {
                    for r in stored {
                        var t = Tally(r)
                        if let newer = pending[r.client] { t.add(newer) }
                        totals[r.client] = t
                    }
                }
                GroupCommit.resume(waiters, with: .success(()))
            } catch {
                if recordBeforeAnswer {
                    logger.error("cannot record answers in the ledger; their requests are refused (503)",
                                 metadata: ["error": "\(error)", "entries": "\(entries.count)", "database": "\(path)"])
                } else {
                    evidence.putBack(entries)
                    lock.withLock {
                        for (client, d) in batch {
                            if var newer = pending[client] {
                                newer.add(d)
                                pending[client] = newer
                            } else {
                                pending[client] = d
                            }
                        }
                    }
                }
                GroupCommit.resume(waiters, with: .failure(error))
                throw error
            }
        }
    }

    /// Flushes, marks the server run stopped and closes the ledger. Idempotent.
    public func close() throws {
        lock.lock()
        if closed { lock.unlock(); return }
        closed = true
        lock.unlock()
        group.stop()
        defer { store.close() }
        try flush()
        if let runID {
            try store.write { tx in
                try tx.execute("UPDATE server_runs SET stopped_at = ? WHERE id = ?", [.text(QueryLedger.now()), .int(runID)])
            }
        }
    }
}
