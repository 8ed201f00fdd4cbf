import Crypto
import Formats
import Foundation
import GRDB

/// Walks a query database's evidence ledger in id order and checks every entry: ids run 1, 2, 3, …
/// without gaps, each value has its column's type and canonical form, and each stored
/// `entry_hash` equals SHA-256(previous entry_hash ‖ SHA-256(canonical encoding)). An edited
/// field breaks its own entry's hash; a deleted entry leaves a gap in the ids; moved rows break
/// the hash of the first entry whose fields changed place. Removing entries from the end is only
/// visible against a head hash published earlier (`publishedHead`).
public enum EvidenceChain {
    /// The first entry that does not check, and why.
    public struct BadEntry: Codable, Sendable, Equatable {
        public var id: Int64
        /// The client named in the row as stored ("?" when that column is unreadable).
        public var client: String
        public var problem: String
    }

    /// What `verify` found.
    public struct Report: Codable, Sendable, Equatable {
        public var ledger: String
        /// No bad entry, and the published head (if any) is on the chain.
        public var intact = true
        /// Entries checked before the first bad one (all of them when intact).
        public var entries = 0
        /// Distinct clients among the checked entries.
        public var clients = 0
        /// The last checked entry: its id and hash (nil for an empty ledger).
        public var headID: Int64?
        public var headHash: String?
        /// The first entry that does not check (nil when none).
        public var firstBad: BadEntry? { didSet { intact = intact && firstBad == nil } }
        /// With a published head hash: whether an entry of the chain has it.
        public var publishedHeadFound: Bool? { didSet { intact = intact && publishedHeadFound != false } }

        init(ledger: String) { self.ledger = ledger }

        private enum CodingKeys: String, CodingKey {
            case ledger, intact, entries, clients, headID = "head_id", headHash = "head_hash", firstBad = "first_bad"
            case publishedHeadFound = "published_head_found"
        }
    }

    /// Checks the whole chain of the query database at `path`.
    ///
    /// - Parameter publishedHead: a head hash published earlier; the chain must still contain it.
    /// - Throws: `ServerError(.evidence)` naming the file when it cannot be opened as a query
    ///   database or has no evidence ledger (a damaged chain is a `Report`, not an error).
    public static func verify(ledger path: String, publishedHead: String? = nil) throws -> Report {
        let wanted = publishedHead?.lowercased()
        var found = false
        var report = try walk(ledger: path) { entry, _ in
            if entry.entryHash == wanted { found = true }
        }
        if wanted != nil { report.publishedHeadFound = found }
        return report
    }

    /// Walks the chain of the database at `path`, calling `visit` with every entry that checks
    /// and its fields digest, and stops at the first that does not.
    static func walk(ledger path: String, visit: (EvidenceEntry, [UInt8]) throws -> Void) throws -> Report {
        let queue = try open(path)
        defer { try? queue.close() }
        do {
            return try queue.read { db in
                var report = Report(ledger: path)
                var previous = EvidenceEntry.genesis
                var clients = Set<String>()
                let rows = try Row.fetchCursor(db, sql: """
                    SELECT id, client, answered_at_ms, model_sha256, key_fingerprint, query_sha256, defense, heavy, dawn, similarity,
                           answer_sha256, entry_hash FROM evidence_ledger ORDER BY id
                    """)
                while let row = try rows.next() {
                    let expected = (report.headID ?? 0) + 1
                    let entry: EvidenceEntry
                    switch read(row) {
                    case .failure(let bad):
                        report.firstBad = bad
                        return report
                    case .success(let e):
                        entry = e
                    }
                    if entry.id != expected {
                        let gap = entry.id - expected == 1 ? "entry \(expected) is" : "entries \(expected)–\(entry.id - 1) are"
                        report.firstBad = BadEntry(id: entry.id, client: entry.client,
                                                   problem: "\(gap) missing before it (deleted, or the ids were changed)")
                        return report
                    }
                    if let problem = entry.formProblem {
                        report.firstBad = BadEntry(id: entry.id, client: entry.client, problem: problem)
                        return report
                    }
                    let fields = entry.fieldsSHA256
                    let hash = EvidenceEntry.link(previous: previous, fields: fields)
                    guard Hex.encode(hash) == entry.entryHash else {
                        report.firstBad = BadEntry(id: entry.id, client: entry.client,
                                                   problem: "its entry_hash does not match its fields and the entry before it: the entry was edited, or rows were moved or replaced")
                        return report
                    }
                    try visit(entry, fields)
                    previous = hash
                    clients.insert(entry.client)
                    report.entries += 1
                    report.clients = clients.count
                    report.headID = entry.id
                    report.headHash = entry.entryHash
                }
                return report
            }
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError(file: path, .evidence, "cannot read the evidence ledger: \(QueryLedger.describe(error, path: path).problem)")
        }
    }

    /// The database at `path`, read-only, after checking that it holds an evidence ledger.
    static func open(_ path: String) throws -> DatabaseQueue {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ServerError(file: path, .evidence, "no such ledger (a server's query database, e.g. MODEL/honeytrace-queries.sqlite)")
        }
        guard !isDirectory.boolValue else { throw ServerError(file: path, .evidence, "is a directory, not a query database") }
        var config = Configuration()
        config.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            guard try queue.read({ try $0.tableExists("evidence_ledger") }) else {
                try? queue.close()
                throw ServerError(file: path, .evidence, "holds no evidence ledger (table evidence_ledger): it was written by an older server, or is not a query database")
            }
            return queue
        } catch let error as ServerError {
            throw error
        } catch {
            throw ServerError(file: path, .evidence, QueryLedger.describe(error, path: path).problem)
        }
    }

    /// The entry in `row`, or the problem with a value of the wrong type.
    private static func read(_ row: Row) -> Result<EvidenceEntry, BadEntry> {
        let id: Int64 = row["id"]
        let client = String.fromDatabaseValue(row["client"]) ?? "?"
        func value<T: DatabaseValueConvertible>(_ column: String, _ type: String) throws -> T {
            let stored: DatabaseValue = row[column]
            guard let v = T.fromDatabaseValue(stored) else {
                throw BadEntry(id: id, client: client, problem: "column \(column) holds \(stored), expected \(type)")
            }
            return v
        }
        func flag(_ column: String) throws -> Bool {
            let v: Int64 = try value(column, "0 or 1")
            guard v == 0 || v == 1 else { throw BadEntry(id: id, client: client, problem: "column \(column) holds \(v), expected 0 or 1") }
            return v == 1
        }
        do {
            let similarity: Double = try value("similarity", "a number")
            guard Double(Float(similarity)) == similarity else {
                throw BadEntry(id: id, client: client, problem: "column similarity holds \(similarity), which is not a Float32 value")
            }
            return .success(EvidenceEntry(
                id: id, client: try value("client", "text"), answeredAtMs: try value("answered_at_ms", "an integer"),
                modelSHA256: try value("model_sha256", "text"), keyFingerprint: try value("key_fingerprint", "text"),
                querySHA256: try value("query_sha256", "text"), defense: try value("defense", "text"), heavy: try flag("heavy"),
                dawn: try flag("dawn"), similarity: Float(similarity), answerSHA256: try value("answer_sha256", "text"),
                entryHash: try value("entry_hash", "text")))
        } catch let bad as BadEntry {
            return .failure(bad)
        } catch {
            return .failure(BadEntry(id: id, client: client, problem: "\(error)"))
        }
    }
}

extension EvidenceChain.BadEntry: Error {}
