import Baselines
import Foundation
import Honeytrace
import Logging

/// DAWN served (docs/algorithms.md §6, `honeytrace serve --dawn-secret FILE`): changes the answers of DAWN's
/// watermark queries and records each (image, wrong label) per client in the query database,
/// so the client's watermark survives restarts and can be exported with `exportLog`.
///
/// Table (added by the query database's migration `v2-dawn`; older databases gain it on start):
///
/// ```sql
/// CREATE TABLE dawn_watermarks (
///   id INTEGER PRIMARY KEY AUTOINCREMENT, client TEXT NOT NULL, model_sha256 TEXT NOT NULL,
///   secret_fingerprint TEXT NOT NULL, digest TEXT NOT NULL, input_shape TEXT NOT NULL,
///   classes INTEGER NOT NULL, image BLOB NOT NULL, original_label INTEGER NOT NULL,
///   answered_label INTEGER NOT NULL, answered_at TEXT NOT NULL,
///   UNIQUE (client, model_sha256, secret_fingerprint, digest));
/// ```
///
/// A repeated query (same tag) is stored once; the order of `id` is the order of the log.
/// Entries are written as they are answered; one that cannot be written is kept (up to
/// `maxUnwritten`) and retried with the next, and the failure is logged, never returned to the client.
public final class DAWNLedger: @unchecked Sendable {
    public let marker: DAWNMarker
    public let modelSHA256: String
    let store: any LedgerStore
    let inputShape: [Int]
    let logger: Logger
    private let lock = NSLock()
    private var unwritten: [(client: String, entry: DAWNLogEntry, classes: Int, time: String)] = []
    /// The most entries kept while the database refuses writes.
    static let maxUnwritten = 100_000

    init(marker: DAWNMarker, ledger: QueryLedger, inputShape: [Int], logger: Logger) {
        self.marker = marker
        self.modelSHA256 = ledger.modelSHA256
        self.store = ledger.store
        self.inputShape = inputShape
        self.logger = logger
    }

    /// DAWN under the secret at `secretPath`.
    ///
    /// - Throws: `ServerError(.model)` naming the secret file when it cannot be read or the rate is out of range.
    static func marker(secretPath: String, rate: Double) throws -> DAWNMarker {
        do {
            return try DAWNMarker(secret: try DAWNSecret.load(secretPath), configuration: DAWNConfiguration(rate: rate))
        } catch let error as BaselineError {
            let problem = error.problem.hasPrefix(secretPath + ": ") ? String(error.problem.dropFirst(secretPath.count + 2)) : error.problem
            throw ServerError(file: secretPath, .model, problem)
        }
    }

    /// `output` with DAWN's watermark rows changed, and which rows those are; each is recorded for `client`.
    func mark(_ output: DefenseOutput, pixels: [Float], client: String) async -> (output: DefenseOutput, marked: [Bool]) {
        let k = output.classes, size = inputShape.reduce(1, *)
        var probabilities = output.probabilities
        var marked: [DAWNLogEntry] = []
        var rows = [Bool](repeating: false, count: output.rows)
        pixels.withUnsafeBufferPointer { all in
            for r in 0..<output.rows {
                let image = UnsafeBufferPointer(rebasing: all[(r * size)..<((r + 1) * size)])
                guard let mark = marker.mark(output.probabilities(row: r), pixels: image, shape: inputShape) else { continue }
                probabilities.replaceSubrange((r * k)..<((r + 1) * k), with: mark.probabilities)
                marked.append(DAWNLogEntry(image: DAWNMarker.quantize(image), mark: mark))
                rows[r] = true
            }
        }
        if marked.isEmpty { return (output, rows) }
        await record(client: client, marked, classes: k)
        return (DefenseOutput(rows: output.rows, classes: k, probabilities: probabilities, similarity: output.similarity,
                              mixed: output.mixed, flipped: output.flipped), rows)
    }

    private func record(client: String, _ entries: [DAWNLogEntry], classes: Int) async {
        let now = QueryLedger.now()
        let batch = lock.withLock {
            unwritten += entries.map { (client: client, entry: $0, classes: classes, time: now) }
            defer { unwritten = [] }
            return unwritten
        }
        let model = modelSHA256, fingerprint = marker.secret.fingerprint
        let shape = inputShape.map(String.init).joined(separator: ",")
        do {
            let rows = batch.map { e -> [LedgerValue] in
                [.text(e.client), .text(model), .text(fingerprint), .text(e.entry.digest), .text(shape), LedgerValue(e.classes),
                 .blob(e.entry.image), LedgerValue(e.entry.originalLabel), LedgerValue(e.entry.answeredLabel), .text(e.time)]
            }
            try await store.writeOffPool { tx in
                for row in rows {
                    try tx.execute("""
                        INSERT INTO dawn_watermarks (client, model_sha256, secret_fingerprint, digest, input_shape, classes, image,
                                                     original_label, answered_label, answered_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """, row)
                }
            }
        } catch {
            // Oldest first (the first 100 are the watermark); past the cap the newest are dropped.
            lock.withLock { unwritten = Array((batch + unwritten).prefix(DAWNLedger.maxUnwritten)) }
            logger.error("cannot record DAWN watermark queries; they are kept for the next write",
                         metadata: ["error": "\(error)", "entries": "\(batch.count)"])
        }
    }

    /// The DAWN log of `client` stored in the query database at `databasePath`.
    ///
    /// - Parameters:
    ///   - modelSHA256, secretFingerprint: which served model and secret, when the client was
    ///     answered by several; nil = the only one there is.
    /// - Throws: `ServerError(.database)` naming the file when it cannot be opened, has no DAWN
    ///   table, has no entry for the client, mixes several models or secrets for it (listing
    ///   them), or holds a value of the wrong type.
    public static func exportLog(databasePath: String, client: String, modelSHA256: String? = nil, secretFingerprint: String? = nil,
                                 watermarkSize: Int = DAWNConfiguration().watermarkSize) throws -> DAWNWatermarkLog {
        if !LedgerLocation.isPostgres(databasePath) && !FileManager.default.fileExists(atPath: databasePath) {
            throw ServerError(file: databasePath, .database, "no such query database")
        }
        let store = try LedgerLocation.open(databasePath, migrate: false)
        defer { store.close() }
        let databasePath = store.location
        return try store.read { db in
                guard try store.hasTable("dawn_watermarks", in: db) else {
                    throw ServerError(file: databasePath, .database, "holds no DAWN watermarks (table dawn_watermarks); was the server run with --dawn-secret?")
                }
                var sql = "SELECT id, model_sha256, secret_fingerprint, digest, input_shape, classes, image, original_label, answered_label FROM dawn_watermarks WHERE client = ?"
                var args: [LedgerValue] = [.text(client)]
                if let modelSHA256 { sql += " AND model_sha256 = ?"; args.append(.text(modelSHA256)) }
                if let secretFingerprint { sql += " AND secret_fingerprint = ?"; args.append(.text(secretFingerprint)) }
                let rows = try db.query(sql + " ORDER BY id", args)
                guard !rows.isEmpty else {
                    let known = try db.query("SELECT DISTINCT client FROM dawn_watermarks ORDER BY client").compactMap { $0["client"].text }
                    throw ServerError(file: databasePath, .database,
                                      "no DAWN watermark queries for client '\(client)'\(modelSHA256 == nil && secretFingerprint == nil ? "" : " with that model and secret"); clients with some: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
                }
                func value<T>(_ row: LedgerRow, _ column: String, _ type: String, _ read: (LedgerValue) -> T?) throws -> T {
                    guard let v = read(row[column]) else {
                        throw ServerError(file: databasePath, .database, "table dawn_watermarks, column \(column), id \(row["id"]): expected \(type), found \(row[column])")
                    }
                    return v
                }
                func text(_ row: LedgerRow, _ column: String) throws -> String { try value(row, column, "text", \.text) }
                func int(_ row: LedgerRow, _ column: String) throws -> Int { Int(try value(row, column, "an integer", \.int)) }
                let first = rows[0]
                let model = try text(first, "model_sha256"), fingerprint = try text(first, "secret_fingerprint")
                let shapeText = try text(first, "input_shape")
                let classes = try int(first, "classes")
                var entries: [DAWNLogEntry] = []
                var others = Set<String>()
                for row in rows {
                    let m = try text(row, "model_sha256"), f = try text(row, "secret_fingerprint")
                    if m != model || f != fingerprint { others.insert("model \(m) secret \(f)"); continue }
                    let image = try value(row, "image", "a blob", \.blob)
                    entries.append(DAWNLogEntry(image: image, originalLabel: try int(row, "original_label"),
                                                answeredLabel: try int(row, "answered_label"), digest: try text(row, "digest")))
                }
                guard others.isEmpty else {
                    throw ServerError(file: databasePath, .database,
                                      "client '\(client)' was answered by several models or secrets (model \(model) secret \(fingerprint); \(others.sorted().joined(separator: "; "))); choose one with --model-sha256 and --secret-fingerprint")
                }
                let shape = shapeText.split(separator: ",").compactMap { Int($0) }
                let size = shape.reduce(1, *)
                guard shape.count == 3, entries.allSatisfy({ $0.image.count == size }) else {
                    throw ServerError(file: databasePath, .database, "table dawn_watermarks: client '\(client)' has an input shape '\(shapeText)' its images do not fit")
                }
                return DAWNWatermarkLog(client: client, secretFingerprint: fingerprint, modelSHA256: model, inputShape: shape,
                                        classes: classes, watermarkSize: watermarkSize, entries: entries)
        }
    }
}
