import Crypto
import Formats
import Foundation
import Honeytrace

/// One client's evidence, exported from the ledger and signed (`honeytrace ledger export`), so a
/// third party can check it without the database (`honeytrace ledger check-bundle`).
///
/// JSON: `format` `honeytrace-evidence-bundle`, `version` 1, `client`, `exported_at` (ISO 8601
/// UTC), `entries` (the client's `EvidenceEntry`s, in chain order), `first_id` and
/// `previous_hash` (the client's first entry, and the hash of the entry before it), `links` (the
/// fields digest of every entry from `first_id` to the head, the client's and everyone else's —
/// other clients' fields stay out), `head` (`id` and `hash` of the ledger's last entry at export)
/// and `signature` (`algorithm` Ed25519, `public_key`, `value`, hex).
///
/// The signature is Ed25519 over the SHA-256 of `"honeytrace-evidence-bundle-v1" ‖ text client ‖
/// text exported_at ‖ u64 first_id ‖ text previous_hash ‖ u64 link count ‖ text link… ‖ u64 entry
/// count ‖ (entry's canonical encoding ‖ text entry_hash)… ‖ u64 head id ‖ text head hash`
/// (`CanonicalBytes`).
public struct EvidenceBundle: Codable, Sendable, Equatable {
    public struct Head: Codable, Sendable, Equatable {
        public var id: Int64
        public var hash: String
    }

    public struct Signature: Codable, Sendable, Equatable {
        public var algorithm: String
        public var publicKey: String
        public var value: String

        private enum CodingKeys: String, CodingKey { case algorithm, publicKey = "public_key", value }
    }

    public var format: String
    public var version: Int
    public var client: String
    public var exportedAt: String
    public var firstID: Int64
    public var previousHash: String
    public var links: [String]
    public var entries: [EvidenceEntry]
    public var head: Head
    public var signature: Signature

    private enum CodingKeys: String, CodingKey {
        case format, version, client, exportedAt = "exported_at", firstID = "first_id", previousHash = "previous_hash", links, entries
        case head, signature
    }

    static let formatName = "honeytrace-evidence-bundle"
    static let currentVersion = 1
    /// The largest bundle file read (links cost about 70 bytes per ledger entry after the client's first).
    static let maxFileBytes = 1 << 30

    /// The bundle of `client`'s entries in the ledger at `path`, signed with `signingKey`.
    ///
    /// - Throws: `ServerError(.evidence)` naming the ledger when it cannot be read, its chain is
    ///   broken (nothing is exported from a ledger that does not verify), or it holds no entry of
    ///   `client` (listing the clients it does hold).
    public static func export(ledger path: String, client: String, signingKey: LedgerSigningKey, now: Date = Date()) throws -> EvidenceBundle {
        var links: [String] = [], entries: [EvidenceEntry] = [], clients = Set<String>()
        var firstID: Int64?, previousHash = Hex.encode(EvidenceEntry.genesis), lastHash = previousHash
        let report = try EvidenceChain.walk(ledger: path) { entry, fields in
            clients.insert(entry.client)
            if firstID == nil && entry.client == client {
                firstID = entry.id
                previousHash = lastHash
            }
            if firstID != nil {
                links.append(Hex.encode(fields))
                if entry.client == client { entries.append(entry) }
            }
            lastHash = entry.entryHash
        }
        if let bad = report.firstBad {
            throw ServerError(file: path, .evidence,
                              "the chain is broken at entry \(bad.id) (client \(bad.client)): \(bad.problem); nothing exported (run `honeytrace ledger verify`)")
        }
        guard let firstID, let headID = report.headID, let headHash = report.headHash else {
            let known = clients.sorted()
            throw ServerError(file: path, .evidence, "no evidence entries for client '\(client)'; clients with entries: "
                              + (known.isEmpty ? "none" : known.prefix(20).joined(separator: ", ") + (known.count > 20 ? ", …" : "")))
        }
        var bundle = EvidenceBundle(format: formatName, version: currentVersion, client: client, exportedAt: QueryLedger.format(now),
                                    firstID: firstID, previousHash: previousHash, links: links, entries: entries,
                                    head: Head(id: headID, hash: headHash),
                                    signature: Signature(algorithm: LedgerSigningKey.algorithm, publicKey: signingKey.publicKeyHex, value: ""))
        bundle.signature.value = Hex.encode(try signingKey.privateKey.signature(for: bundle.signedDigest))
        return bundle
    }

    /// SHA-256 of the canonical bytes the signature covers (see the type's documentation).
    var signedDigest: [UInt8] {
        var hasher = SHA256()
        var opening = CanonicalBytes()
        opening.tag("honeytrace-evidence-bundle-v1")
        opening.text(client)
        opening.text(exportedAt)
        opening.u64(UInt64(bitPattern: firstID))
        opening.text(previousHash)
        opening.u64(UInt64(links.count))
        hasher.update(data: opening.bytes)
        for link in links {
            var l = CanonicalBytes(capacity: 68)
            l.text(link)
            hasher.update(data: l.bytes)
        }
        var count = CanonicalBytes(capacity: 8)
        count.u64(UInt64(entries.count))
        hasher.update(data: count.bytes)
        for entry in entries {
            var e = CanonicalBytes(capacity: 68)
            e.raw(entry.canonicalEncoding)
            e.text(entry.entryHash)
            hasher.update(data: e.bytes)
        }
        var closing = CanonicalBytes(capacity: 80)
        closing.u64(UInt64(bitPattern: head.id))
        closing.text(head.hash)
        hasher.update(data: closing.bytes)
        return Array(hasher.finalize())
    }

    /// Checks the signature (against `trustedKey`, else the bundle's own public key, which proves
    /// integrity but not who signed) and the chain. `path` names the bundle in the result.
    public func check(trustedKey: Curve25519.Signing.PublicKey?, path: String) -> EvidenceCheck {
        let embedded = Hex.decode(signature.publicKey)
        var problems: [String] = []
        var signatureValid = false
        if let trustedKey, Hex.encode(trustedKey.rawRepresentation) != signature.publicKey.lowercased() {
            problems.append("the bundle was signed by public key \(signature.publicKey.prefix(64)), not by the trusted key")
        } else if let key = trustedKey ?? embedded.flatMap({ try? Curve25519.Signing.PublicKey(rawRepresentation: $0) }),
                  let value = Hex.decode(signature.value) {
            signatureValid = key.isValidSignature(value, for: signedDigest)
            if !signatureValid { problems.append("the signature does not match the bundle's contents (edited after signing?)") }
        } else {
            problems.append("the signature or its public key is not hex of the right length")
        }
        let chainProblem = chainProblem()
        if let chainProblem { problems.append(chainProblem) }
        return EvidenceCheck(bundle: path, client: client, entries: entries.count, headID: head.id, headHash: head.hash,
                             publicKey: trustedKey.map { Hex.encode($0.rawRepresentation) } ?? signature.publicKey, keyTrusted: trustedKey != nil,
                             signatureValid: signatureValid, chainIntact: chainProblem == nil,
                             problem: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }

    /// The first reason the entries and links do not form a chain ending at the head, or nil.
    func chainProblem() -> String? {
        guard !links.isEmpty, !entries.isEmpty else { return "the bundle holds no \(links.isEmpty ? "links" : "entries")" }
        guard head.id == firstID + Int64(links.count) - 1 else {
            return "\(links.count) links from entry \(firstID) do not end at head entry \(head.id)"
        }
        guard var hash = Hex.decode(previousHash), hash.count == 32 else { return "previous_hash is not 64 hex digits" }
        var next = entries.startIndex
        for (offset, link) in links.enumerated() {
            let id = firstID + Int64(offset)
            guard let fields = Hex.decode(link), fields.count == 32 else { return "links[\(offset)] (entry \(id)) is not 64 hex digits" }
            if next < entries.endIndex && entries[next].id < id { return "entry \(entries[next].id) is out of order or outside the links" }
            hash = EvidenceEntry.link(previous: hash, fields: fields)
            guard next < entries.endIndex, entries[next].id == id else { continue }
            let entry = entries[next]
            if entry.client != client { return "entry \(id) belongs to client '\(entry.client)', not '\(client)'" }
            if let problem = entry.formProblem { return "entry \(id): \(problem)" }
            if Hex.encode(entry.fieldsSHA256) != link { return "entry \(id): its fields do not match its link (edited?)" }
            if Hex.encode(hash) != entry.entryHash { return "entry \(id): its entry_hash does not match the chain" }
            next += 1
        }
        if next < entries.endIndex { return "entry \(entries[next].id) is out of order or outside the links" }
        if Hex.encode(hash) != head.hash.lowercased() { return "the links do not lead to the head hash" }
        return nil
    }

    /// Reads a bundle file, checking its format, version and signature fields (not the signature itself: `check`).
    ///
    /// - Throws: `ServerError(.evidence)` naming the file and the field: missing, unreadable, not
    ///   JSON, another format or version, a field of the wrong type or malformed hex.
    public static func load(_ path: String) throws -> EvidenceBundle {
        let data = try EvidenceFile.contents(path, what: "evidence bundle", maxBytes: maxFileBytes)
        let bundle: EvidenceBundle
        do { bundle = try JSONDecoder().decode(EvidenceBundle.self, from: data) } catch {
            throw ServerError(file: path, .evidence, "not a valid evidence bundle: \(DecodingProblem.describe(error))")
        }
        guard bundle.format == formatName else {
            throw ServerError(file: path, .evidence, "field format is '\(bundle.format.prefix(60))', expected '\(formatName)'")
        }
        guard bundle.version == currentVersion else {
            throw ServerError(file: path, .evidence, "field version is \(bundle.version); this honeytrace reads version \(currentVersion)")
        }
        guard bundle.signature.algorithm == LedgerSigningKey.algorithm else {
            throw ServerError(file: path, .evidence, "field signature.algorithm is '\(bundle.signature.algorithm.prefix(40))', expected 'Ed25519'")
        }
        _ = try LedgerSigningKey.publicKey(bundle.signature.publicKey, field: "signature.public_key", path: path)
        _ = try LedgerSigningKey.bytes(bundle.signature.value, field: "signature.value", path: path, count: 64)
        return bundle
    }

    /// Writes the bundle as JSON, atomically.
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try AtomicFile.write(try encoder.encode(self) + Data("\n".utf8), to: path)
        } catch let error as FormatError {
            throw ServerError(file: error.file, .evidence, error.problem)
        }
    }
}
