import Crypto
import Formats
import Foundation
import Honeytrace

/// The evidence ledger: one hash-chained row per answered query (`EvidenceEntry`), in the query
/// database's table `evidence_ledger` (migration `v3-evidence`):
///
/// ```sql
/// CREATE TABLE evidence_ledger (
///   id INTEGER PRIMARY KEY, client TEXT NOT NULL, answered_at_ms INTEGER NOT NULL,
///   model_sha256 TEXT NOT NULL, key_fingerprint TEXT NOT NULL, query_sha256 TEXT NOT NULL,
///   defense TEXT NOT NULL, heavy INTEGER NOT NULL, dawn INTEGER NOT NULL, similarity REAL NOT NULL,
///   answer_sha256 TEXT NOT NULL, entry_hash TEXT NOT NULL);
/// ```
///
/// The request path only hashes the query and the answer and appends them in memory under a
/// lock; `QueryLedger.flush` numbers and chains what has gathered onto the stored head and inserts
/// it in the same transaction as the counts. The store's write transaction excludes every other
/// writer of the chain (PostgreSQL: an advisory lock), so replicas extend one chain.
final class EvidenceLedger: @unchecked Sendable {
    /// An answered query waiting to be chained and written.
    struct Pending {
        let client: String
        let answeredAtMs: Int64
        let query: SHA256.Digest
        let answer: SHA256.Digest
        let defense: String
        let heavy: Bool
        let dawn: Bool
        let similarity: Float
    }

    /// The most entries kept in memory while the database refuses writes; later ones are counted
    /// as lost and reported, so a long outage cannot exhaust memory.
    static let maxUnwritten = 1_000_000

    let modelSHA256: String
    let keyFingerprint: String
    private let lock = NSLock()
    private var pending: [Pending] = []
    private var lost = 0

    init(modelSHA256: String, keyFingerprint: String) {
        self.modelSHA256 = modelSHA256
        self.keyFingerprint = keyFingerprint
    }

    /// Records the rows of one answered request of `client`: `pixels` as parsed, `output` as
    /// answered in `mode`, `heavy` when the heavy-client defense answered, `dawnRows` marking the
    /// rows DAWN changed (empty: none).
    func record(client: String, pixels: [Float], output: DefenseOutput, mode: DefenseConfiguration.AnswerMode,
                heavy: Bool, dawnRows: [Bool] = []) {
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        let queries = AnswerDigest.queries(pixels, rows: output.rows), answers = AnswerDigest.answers(output, mode: mode)
        let entries = (0..<output.rows).map { r in
            Pending(client: client, answeredAtMs: now, query: queries[r], answer: answers[r],
                    defense: output.flipped[r] ? "flipped" : (output.mixed[r] ? "mixed" : "honest"), heavy: heavy,
                    dawn: dawnRows.isEmpty ? false : dawnRows[r], similarity: output.similarity[r])
        }
        lock.withLock {
            let room = max(0, EvidenceLedger.maxUnwritten - pending.count)
            pending += entries.prefix(room)
            lost += max(0, entries.count - room)
        }
    }

    /// Everything waiting, and how many entries were lost to the cap since the last call.
    func take() -> (entries: [Pending], lost: Int) {
        lock.withLock {
            defer { pending = []; lost = 0 }
            return (pending, lost)
        }
    }

    /// Puts entries whose write failed back in front of those gathered since.
    func putBack(_ entries: [Pending]) {
        lock.withLock { pending = Array((entries + pending).prefix(EvidenceLedger.maxUnwritten)) }
    }

    /// Rows per multi-row INSERT (12 values each, well under both databases' bind limits).
    static let insertChunk = 500

    /// Chains `batch` onto the stored head and inserts it (inside the caller's transaction).
    func append(_ batch: [Pending], to tx: any LedgerTransaction) throws {
        guard !batch.isEmpty else { return }
        var (id, previous) = try EvidenceLedger.head(tx)
        var start = 0
        while start < batch.count {
            let chunk = batch[start..<min(batch.count, start + EvidenceLedger.insertChunk)]
            var values: [LedgerValue] = []
            values.reserveCapacity(chunk.count * 12)
            for p in chunk {
                id += 1
                var entry = EvidenceEntry(id: id, client: p.client, answeredAtMs: p.answeredAtMs, modelSHA256: modelSHA256,
                                          keyFingerprint: keyFingerprint, querySHA256: Hex.encode(p.query), defense: p.defense,
                                          heavy: p.heavy, dawn: p.dawn, similarity: p.similarity, answerSHA256: Hex.encode(p.answer),
                                          entryHash: "")
                previous = EvidenceEntry.link(previous: previous, fields: entry.fieldsSHA256)
                entry.entryHash = Hex.encode(previous)
                values += [.int(entry.id), .text(entry.client), .int(entry.answeredAtMs), .text(entry.modelSHA256), .text(entry.keyFingerprint),
                           .text(entry.querySHA256), .text(entry.defense), LedgerValue(entry.heavy), LedgerValue(entry.dawn),
                           .double(Double(entry.similarity)), .text(entry.answerSHA256), .text(entry.entryHash)]
            }
            try tx.execute("""
                INSERT INTO evidence_ledger (id, client, answered_at_ms, model_sha256, key_fingerprint, query_sha256, defense, heavy, dawn,
                                             similarity, answer_sha256, entry_hash)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", "))
                """, values)
            start += chunk.count
        }
    }

    /// The last entry's id and hash (0 and the genesis hash for an empty ledger). A stored hash
    /// that is not hex (an edited row) is chained on by its SHA-256, so the server keeps
    /// recording; `ledger verify` names that row.
    static func head(_ tx: any LedgerTransaction) throws -> (id: Int64, hash: [UInt8]) {
        guard let row = try tx.query("SELECT id, entry_hash FROM evidence_ledger ORDER BY id DESC LIMIT 1").first, let id = row["id"].int else {
            return (0, EvidenceEntry.genesis)
        }
        let text = row["entry_hash"].text ?? "\(row["entry_hash"])"
        return (id, Hex.decode(text).flatMap { $0.count == 32 ? $0 : nil } ?? Array(SHA256.hash(data: Data(text.utf8))))
    }
}
