import Baselines
import Foundation
import GRDB
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
    let database: DatabaseQueue
    let path: String
    let inputShape: [Int]
    let logger: Logger
    private let lock = NSLock()
    private var unwritten: [(client: String, entry: DAWNLogEntry, classes: Int, time: String)] = []
    /// The most entries kept while the database refuses writes.
    static let maxUnwritten = 100_000

    static let schema = """
        CREATE TABLE dawn_watermarks (
          id INTEGER PRIMARY KEY AUTOINCREMENT, client TEXT NOT NULL, model_sha256 TEXT NOT NULL,
          secret_fingerprint TEXT NOT NULL, digest TEXT NOT NULL, input_shape TEXT NOT NULL,
          classes INTEGER NOT NULL, image BLOB NOT NULL, original_label INTEGER NOT NULL,
          answered_label INTEGER NOT NULL, answered_at TEXT NOT NULL,
          UNIQUE (client, model_sha256, secret_fingerprint, digest));
        """

    init(marker: DAWNMarker, ledger: QueryLedger, inputShape: [Int], logger: Logger) {
        self.marker = marker
        self.modelSHA256 = ledger.modelSHA256
        self.database = ledger.databaseQueue
        self.path = ledger.path
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
            try await database.write { db in
                for e in batch {
                    try db.execute(sql: """
                        INSERT OR IGNORE INTO dawn_watermarks (client, model_sha256, secret_fingerprint, digest, input_shape, classes, image,
                                                               original_label, answered_label, answered_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [e.client, model, fingerprint, e.entry.digest, shape, e.classes, Data(e.entry.image),
                                         e.entry.originalLabel, e.entry.answeredLabel, e.time])
                }
            }
        } catch {
            // Oldest first (the first 100 are the watermark); past the cap the newest are dropped.
            lock.withLock { unwritten = Array((batch + unwritten).prefix(DAWNLedger.maxUnwritten)) }
            logger.error("cannot record DAWN watermark queries; they are kept for the next write",
                         metadata: ["error": "\(QueryLedger.describe(error, path: path))", "entries": "\(batch.count)"])
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
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw ServerError(file: databasePath, .database, "no such query database")
        }
        var config = Configuration()
        config.readonly = true
        do {
            let queue = try DatabaseQueue(path: databasePath, configuration: config)
            return try queue.read { db in
                guard try db.tableExists("dawn_watermarks") else {
                    throw ServerError(file: databasePath, .database, "holds no DAWN watermarks (table dawn_watermarks); was the server run with --dawn-secret?")
                }
                var sql = "SELECT id, model_sha256, secret_fingerprint, digest, input_shape, classes, image, original_label, answered_label FROM dawn_watermarks WHERE client = ?"
                var args: StatementArguments = [client]
                if let modelSHA256 { sql += " AND model_sha256 = ?"; args += [modelSHA256] }
                if let secretFingerprint { sql += " AND secret_fingerprint = ?"; args += [secretFingerprint] }
                let rows = try Row.fetchAll(db, sql: sql + " ORDER BY id", arguments: args)
                guard !rows.isEmpty else {
                    let known = try String.fetchAll(db, sql: "SELECT DISTINCT client FROM dawn_watermarks ORDER BY client")
                    throw ServerError(file: databasePath, .database,
                                      "no DAWN watermark queries for client '\(client)'\(modelSHA256 == nil && secretFingerprint == nil ? "" : " with that model and secret"); clients with some: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
                }
                func value<T: DatabaseValueConvertible>(_ row: Row, _ column: String, _ type: String) throws -> T {
                    let stored: DatabaseValue = row[column]
                    guard let v = T.fromDatabaseValue(stored) else {
                        let id: DatabaseValue = row["id"]
                        throw ServerError(file: databasePath, .database, "table dawn_watermarks, column \(column), id \(id): expected \(type), found \(stored)")
                    }
                    return v
                }
                let first = rows[0]
                let model: String = try value(first, "model_sha256", "text"), fingerprint: String = try value(first, "secret_fingerprint", "text")
                let shapeText: String = try value(first, "input_shape", "text")
                let classes: Int = try value(first, "classes", "an integer")
                var entries: [DAWNLogEntry] = []
                var others = Set<String>()
                for row in rows {
                    let m: String = try value(row, "model_sha256", "text"), f: String = try value(row, "secret_fingerprint", "text")
                    if m != model || f != fingerprint { others.insert("model \(m) secret \(f)"); continue }
                    let image: Data = try value(row, "image", "a blob")
                    entries.append(DAWNLogEntry(image: [UInt8](image), originalLabel: try value(row, "original_label", "an integer"),
                                                answeredLabel: try value(row, "answered_label", "an integer"), digest: try value(row, "digest", "text")))
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
        } catch let error as ServerError {
            throw error
        } catch {
            throw QueryLedger.describe(error, path: databasePath)
        }
    }
}
