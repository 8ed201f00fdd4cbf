import Crypto
import Formats
import Foundation

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

    /// Checks the whole chain of the ledger at `path` (a SQLite file or a PostgreSQL URL).
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

    /// Rows read per query while walking, so a long chain is never held in memory at once.
    static let page = 5_000

    /// Walks the chain of the ledger at `path` (a SQLite file or a PostgreSQL URL), calling
    /// `visit` with every entry that checks and its fields digest, and stops at the first that
    /// does not. The walk reads one snapshot, so it may run while servers append.
    static func walk(ledger path: String, visit: (EvidenceEntry, [UInt8]) throws -> Void) throws -> Report {
        let store = try open(path)
        defer { store.close() }
        do {
            return try store.read { tx in
                var report = Report(ledger: store.location)
                var previous = EvidenceEntry.genesis
                var clients = Set<String>()
                var after = Int64.min
                while true {
                    let rows = try tx.query("""
                        SELECT id, client, answered_at_ms, model_sha256, key_fingerprint, query_sha256, defense, heavy, dawn, similarity,
                               answer_sha256, entry_hash FROM evidence_ledger WHERE id > ? ORDER BY id LIMIT ?
                        """, [.int(after), LedgerValue(page)])
                    for row in rows {
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
                        after = entry.id
                    }
                    if rows.count < page { return report }
                }
            }
        } catch let error as ServerError {
            throw error.kind == .evidence ? error : ServerError(file: error.file ?? path, .evidence, "cannot read the evidence ledger: \(error.problem)")
        }
    }

    /// The ledger at `path`, read-only, after checking that it holds an evidence ledger.
    static func open(_ path: String) throws -> any LedgerStore {
        let store: any LedgerStore
        do {
            store = try LedgerLocation.open(path, migrate: false)
        } catch let error as ServerError {
            throw ServerError(file: error.file ?? path, .evidence, error.problem)
        }
        do {
            guard try store.read({ try store.hasTable("evidence_ledger", in: $0) }) else {
                throw ServerError(file: store.location, .evidence, "holds no evidence ledger (table evidence_ledger): it was written by an older server, or is not a query database")
            }
            return store
        } catch let error as ServerError {
            store.close()
            throw ServerError(file: error.file ?? path, .evidence, error.problem)
        }
    }

    /// The entry in `row`, or the problem with a value of the wrong type.
    private static func read(_ row: LedgerRow) -> Result<EvidenceEntry, BadEntry> {
        let id = row["id"].int ?? 0
        let client = row["client"].text ?? "?"
        func value<T>(_ column: String, _ type: String, _ read: (LedgerValue) -> T?) throws -> T {
            guard let v = read(row[column]) else {
                throw BadEntry(id: id, client: client, problem: "column \(column) holds \(row[column]), expected \(type)")
            }
            return v
        }
        func flag(_ column: String) throws -> Bool {
            let v = try value(column, "0 or 1", \.int)
            guard v == 0 || v == 1 else { throw BadEntry(id: id, client: client, problem: "column \(column) holds \(v), expected 0 or 1") }
            return v == 1
        }
        func text(_ column: String) throws -> String { try value(column, "text", \.text) }
        do {
            let similarity = try value("similarity", "a number", \.double)
            guard Double(Float(similarity)) == similarity else {
                throw BadEntry(id: id, client: client, problem: "column similarity holds \(similarity), which is not a Float32 value")
            }
            return .success(EvidenceEntry(
                id: id, client: try text("client"), answeredAtMs: try value("answered_at_ms", "an integer", \.int),
                modelSHA256: try text("model_sha256"), keyFingerprint: try text("key_fingerprint"),
                querySHA256: try text("query_sha256"), defense: try text("defense"), heavy: try flag("heavy"),
                dawn: try flag("dawn"), similarity: Float(similarity), answerSHA256: try text("answer_sha256"),
                entryHash: try text("entry_hash")))
        } catch let bad as BadEntry {
            return .failure(bad)
        } catch {
            return .failure(BadEntry(id: id, client: client, problem: "\(error)"))
        }
    }
}

extension EvidenceChain.BadEntry: Error {}
