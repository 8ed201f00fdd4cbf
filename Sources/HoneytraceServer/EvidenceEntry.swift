import Crypto
import Formats
import Foundation

/// One answered query as the evidence ledger keeps it: who asked, when, a digest of what was
/// asked, what the defense did, a digest of what was answered, and the entry's link in the hash
/// chain. The fields are what an ownership case cites; the chain makes an edit, a deletion or a
/// reordering visible (docs/server.md, "Evidence ledger").
///
/// `fields_sha256 = SHA-256(canonicalEncoding)` and `entry_hash = SHA-256(previous entry_hash ‖
/// fields_sha256)`, 32 zero bytes standing for the entry before the first. The fields enter the
/// chain through their digest so an evidence bundle can carry other clients' links without
/// their fields.
public struct EvidenceEntry: Codable, Sendable, Equatable {
    /// Position in the chain: 1, 2, 3, … without gaps.
    public var id: Int64
    /// The client's name (`anonymous` without a clients file).
    public var client: String
    /// When the answer was made, in milliseconds since 1970-01-01 UTC.
    public var answeredAtMs: Int64
    /// SHA-256 of the served model's weights, and the watermark key's fingerprint (`undefended` without a key).
    public var modelSHA256: String
    public var keyFingerprint: String
    /// SHA-256 (hex) of the image as parsed: its C·H·W pixels as Float32 little-endian.
    public var querySHA256: String
    /// What the defense did to the row: `honest` (answered as the model said), `mixed` (logits
    /// mixed with reference logits) or `flipped` (answered from reference logits).
    public var defense: String
    /// The client was past the key's heavy-client threshold (answered by the heavy-client defense).
    public var heavy: Bool
    /// DAWN changed the answer (the query is one of the client's DAWN watermark queries).
    public var dawn: Bool
    /// The defense's similarity s for the row, in [0, 1].
    public var similarity: Float
    /// SHA-256 (hex) of the answer returned for the row (`AnswerDigest`).
    public var answerSHA256: String
    /// SHA-256 (hex) of the previous entry's hash and this entry's `fieldsSHA256`.
    public var entryHash: String

    private enum CodingKeys: String, CodingKey {
        case id, client, answeredAtMs = "answered_at_ms", modelSHA256 = "model_sha256", keyFingerprint = "key_fingerprint"
        case querySHA256 = "query_sha256", defense, heavy, dawn, similarity, answerSHA256 = "answer_sha256", entryHash = "entry_hash"
    }

    /// The values `defense` may take.
    public static let defenses: Set<String> = ["honest", "mixed", "flipped"]
    /// The hash standing before the first entry.
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// `"honeytrace-evidence-v1" ‖ u64 id ‖ text client ‖ i64 answered_at_ms ‖ text model_sha256 ‖
    /// text key_fingerprint ‖ text query_sha256 ‖ text defense ‖ u8 heavy ‖ u8 dawn ‖ f32 similarity ‖
    /// text answer_sha256` (`CanonicalBytes`: integers and float bits big-endian, text length-prefixed UTF-8).
    public var canonicalEncoding: [UInt8] {
        var e = CanonicalBytes(capacity: 64 + client.utf8.count + modelSHA256.utf8.count + keyFingerprint.utf8.count + 3 * 64)
        e.tag("honeytrace-evidence-v1")
        e.u64(UInt64(bitPattern: id))
        e.text(client)
        e.i64(answeredAtMs)
        e.text(modelSHA256)
        e.text(keyFingerprint)
        e.text(querySHA256)
        e.text(defense)
        e.u8(heavy ? 1 : 0)
        e.u8(dawn ? 1 : 0)
        e.f32(similarity)
        e.text(answerSHA256)
        return e.bytes
    }

    /// SHA-256 of `canonicalEncoding`: what enters the chain.
    public var fieldsSHA256: [UInt8] { Array(SHA256.hash(data: canonicalEncoding)) }

    /// SHA-256(`previous` ‖ `fields`): the next link of the chain.
    static func link(previous: [UInt8], fields: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: fields)
        return Array(hasher.finalize())
    }

    /// Why the fields are not in canonical form (so two different stored values could never
    /// encode alike), or nil: digests are 64 lower-case hex digits, `defense` is one of
    /// `defenses`, the similarity a finite number in [0, 1], the id positive.
    public var formProblem: String? {
        if id < 1 { return "id \(id) is not positive" }
        for (name, value) in [("query_sha256", querySHA256), ("answer_sha256", answerSHA256), ("entry_hash", entryHash)]
        where !Hex.isCanonical(value, bytes: 32) {
            return "\(name) is not 64 lower-case hex digits (found \"\(value.prefix(80))\")"
        }
        if !EvidenceEntry.defenses.contains(defense) {
            return "defense is '\(defense.prefix(40))', expected one of \(EvidenceEntry.defenses.sorted().joined(separator: ", "))"
        }
        if !(similarity >= 0 && similarity <= 1) { return "similarity \(similarity) is not a number in [0, 1]" }
        return nil
    }
}
