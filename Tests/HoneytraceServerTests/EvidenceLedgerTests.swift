import Formats
import Foundation
import GRDB
import Honeytrace
@testable import HoneytraceServer
import HummingbirdTesting
import Training
import XCTest

/// The evidence ledger: one hash-chained entry per answered query; `EvidenceChain.verify` names the
/// first edited, deleted or moved entry; signed bundles check and tampered ones do not.
final class EvidenceLedgerTests: XCTestCase {
    /// One answered image: the defense's diagnostics and the probabilities answered.
    func output(similarity: Float, mixed: Bool, flipped: Bool) -> DefenseOutput {
        DefenseOutput(rows: 1, classes: 3, probabilities: [0.25, 0.25, 0.5], similarity: [similarity], mixed: [mixed], flipped: [flipped])
    }

    /// A ledger of `requests` one-image requests per server run (two runs, so the chain continues
    /// across a restart), alternating alice and bob; entry i (from 1) has a distinct image.
    func makeLedger(_ path: String, requests: Int = 4) throws {
        var image = 0
        for _ in 0..<2 {
            let ledger = try QueryLedger(path: path, modelSHA256: "model-hash", keyFingerprint: "key-fp", answerMode: "probabilities")
            for r in 0..<requests {
                image += 1
                ledger.evidence.record(client: r % 2 == 0 ? "alice" : "bob", pixels: [Float](repeating: Float(image) / 100, count: 4),
                                       output: output(similarity: Float(r) / 4, mixed: r >= 1, flipped: r == 3), mode: .probabilities,
                                       heavy: r == 2, dawnRows: [r == 1])
                if r == requests / 2 { try ledger.flush() }
            }
            try ledger.close()
        }
    }

    /// Runs `sql` on the ledger's database directly, as someone with write access would.
    func tamper(_ path: String, _ sql: String) throws {
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: sql) }
        try db.close()
    }

    func testChainRoundTrip() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try makeLedger(path)
        let report = try EvidenceChain.verify(ledger: path)
        XCTAssertTrue(report.intact, "\(report)")
        XCTAssertEqual(report.entries, 8)
        XCTAssertEqual(report.clients, 2)
        XCTAssertEqual(report.headID, 8)
        XCTAssertNil(report.firstBad)

        var entries: [EvidenceEntry] = []
        _ = try EvidenceChain.walk(ledger: path) { entry, _ in entries.append(entry) }
        XCTAssertEqual(entries.map(\.client), ["alice", "bob", "alice", "bob", "alice", "bob", "alice", "bob"])
        XCTAssertEqual(entries.map(\.defense), ["honest", "mixed", "mixed", "flipped", "honest", "mixed", "mixed", "flipped"])
        XCTAssertEqual(entries.map(\.heavy), [false, false, true, false, false, false, true, false])
        XCTAssertEqual(entries.map(\.dawn), [false, true, false, false, false, true, false, false])
        XCTAssertEqual(entries[3].similarity, 0.75)
        XCTAssertEqual(entries[0].modelSHA256, "model-hash")
        XCTAssertEqual(entries[0].keyFingerprint, "key-fp")
        // The query digest is SHA-256 of the image's Float32 little-endian bytes.
        let pixels = [Float](repeating: 0.01, count: 4)
        XCTAssertEqual(entries[0].querySHA256, Hashing.sha256(pixels.withUnsafeBytes { Data($0) }))
        XCTAssertEqual(entries[0].answerSHA256, Hashing.sha256(Data(answerBytes([0.25, 0.25, 0.5]))))

        // Entry 1's hash rebuilt from docs/server.md's canonical encoding, by hand.
        let e = entries[0]
        var enc = Array("honeytrace-evidence-v1".utf8) + be(UInt64(1)) + text("alice") + be(UInt64(bitPattern: e.answeredAtMs))
        enc += text("model-hash") + text("key-fp") + text(e.querySHA256) + text("honest") + [0, 0] + be32(e.similarity.bitPattern)
        enc += text(e.answerSHA256)
        let fields = try XCTUnwrap(Hex.decode(Hashing.sha256(Data(enc))))
        XCTAssertEqual(e.entryHash, Hashing.sha256(Data([UInt8](repeating: 0, count: 32) + fields)))
    }

    /// Through the HTTP router: every answered image gets an entry whose answer digest is that of
    /// the JSON answer the client received.
    func testServerRecordsEveryAnsweredQuery() async throws {
        let dir = try scratchDirectory(self)
        let server = try PredictionServer(model: try fx.defended(), configuration: testConfiguration(dir), clients: try testClients())
        let pixels = fx.images(3)
        let answered = try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/v1/predict", method: .post, headers: [.authorization: "Bearer \(aliceKey)"],
                                     body: jsonBody(pixels, size: imageSize)) { response -> [[Double]] in
                XCTAssertEqual(response.status, .ok)
                return try XCTUnwrap((response.json as? [String: Any])?["probabilities"] as? [[Double]])
            }
        }
        try server.ledger.close()
        var entries: [EvidenceEntry] = []
        let report = try EvidenceChain.walk(ledger: dir + "/queries.sqlite") { entry, _ in entries.append(entry) }
        XCTAssertTrue(report.intact)
        XCTAssertEqual(entries.count, 3)
        for (r, entry) in entries.enumerated() {
            XCTAssertEqual(entry.client, "alice")
            XCTAssertEqual(entry.keyFingerprint, fx.key.secretFingerprint)
            XCTAssertEqual(entry.querySHA256, Hashing.sha256(pixels[(r * imageSize)..<((r + 1) * imageSize)].withUnsafeBytes { Data($0) }))
            XCTAssertEqual(entry.answerSHA256, Hashing.sha256(Data(answerBytes(answered[r].map { Float($0) }))), "row \(r)")
        }
    }

    func testEditedEntryIsNamed() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try makeLedger(path)
        try tamper(path, "UPDATE evidence_ledger SET defense = 'honest' WHERE id = 4")
        let report = try EvidenceChain.verify(ledger: path)
        XCTAssertFalse(report.intact)
        XCTAssertEqual(report.firstBad?.id, 4)
        XCTAssertEqual(report.firstBad?.client, "bob")
        XCTAssertEqual(report.entries, 3, "the entries before it check")
        XCTAssertTrue(report.firstBad?.problem.contains("edited") ?? false, "\(report)")

        // Editing the time or the similarity (a value SQLite stores as REAL) is caught the same way.
        try makeLedger(path + "2")
        try tamper(path + "2", "UPDATE evidence_ledger SET similarity = 0.5 WHERE id = 6")
        XCTAssertEqual(try EvidenceChain.verify(ledger: path + "2").firstBad?.id, 6)
    }

    func testDeletedEntryIsNamed() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try makeLedger(path)
        try tamper(path, "DELETE FROM evidence_ledger WHERE id = 3")
        let bad = try XCTUnwrap(try EvidenceChain.verify(ledger: path).firstBad)
        XCTAssertEqual(bad.id, 4)
        XCTAssertEqual(bad.client, "bob")
        XCTAssertTrue(bad.problem.contains("entry 3 is missing"), bad.problem)

        // Deleting and renumbering the rest so the ids run on breaks the hashes instead.
        try tamper(path, "UPDATE evidence_ledger SET id = id - 1 WHERE id > 3")
        let renumbered = try XCTUnwrap(try EvidenceChain.verify(ledger: path).firstBad)
        XCTAssertEqual(renumbered.id, 3)
        XCTAssertEqual(renumbered.client, "bob")
    }

    func testSwappedEntriesAreNamed() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try makeLedger(path)
        // Rows 2 and 5 exchange places: every column but the id.
        let columns = "client, answered_at_ms, model_sha256, key_fingerprint, query_sha256, defense, heavy, dawn, similarity, answer_sha256, entry_hash"
        try tamper(path, """
            CREATE TEMP TABLE swap AS SELECT * FROM evidence_ledger WHERE id IN (2, 5);
            UPDATE evidence_ledger SET (\(columns)) = (SELECT \(columns) FROM swap WHERE swap.id = 7 - evidence_ledger.id) WHERE id IN (2, 5);
            """)
        let bad = try XCTUnwrap(try EvidenceChain.verify(ledger: path).firstBad)
        XCTAssertEqual(bad.id, 2)
        XCTAssertEqual(bad.client, "alice", "row 2 now holds entry 5, alice's")
    }

    func testRemovedTailShowsOnlyAgainstAPublishedHead() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try makeLedger(path)
        let published = try XCTUnwrap(try EvidenceChain.verify(ledger: path).headHash)
        XCTAssertEqual(try EvidenceChain.verify(ledger: path, publishedHead: published.uppercased()).publishedHeadFound, true)
        try tamper(path, "DELETE FROM evidence_ledger WHERE id = 8")
        XCTAssertTrue(try EvidenceChain.verify(ledger: path).intact, "a shorter chain is still a chain")
        let report = try EvidenceChain.verify(ledger: path, publishedHead: published)
        XCTAssertEqual(report.publishedHeadFound, false)
        XCTAssertFalse(report.intact)
    }

    /// Values of the wrong type or outside their canonical form are named, never a crash.
    func testMalformedValuesAreNamed() throws {
        let path = try scratchDirectory(self) + "/queries.sqlite"
        try makeLedger(path)
        try tamper(path, "UPDATE evidence_ledger SET heavy = 'yes' WHERE id = 2")
        let bad = try XCTUnwrap(try EvidenceChain.verify(ledger: path).firstBad)
        XCTAssertEqual(bad.id, 2)
        XCTAssertTrue(bad.problem.contains("column heavy") && bad.problem.contains("yes"), bad.problem)
        try tamper(path, "UPDATE evidence_ledger SET heavy = 0 WHERE id = 2; UPDATE evidence_ledger SET query_sha256 = upper(query_sha256) WHERE id = 2")
        XCTAssertTrue(try EvidenceChain.verify(ledger: path).firstBad?.problem.contains("query_sha256") ?? false)

        // Not a query database, or one without the table: an error naming the file.
        let other = try scratchDirectory(self) + "/other.sqlite"
        try tamper(other, "CREATE TABLE t (x)")
        assertThrows(try EvidenceChain.verify(ledger: other), mentioning: [other, "no evidence ledger"])
        assertThrows(try EvidenceChain.verify(ledger: other + "-absent"), mentioning: ["absent", "no such ledger"])
    }

    func testBundleSignsAndChecks() throws {
        let dir = try scratchDirectory(self)
        let path = dir + "/queries.sqlite"
        try makeLedger(path)
        let key = LedgerSigningKey.generate()
        try key.save(to: dir + "/owner.key")
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: dir + "/owner.key")[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        assertThrows(try key.save(to: dir + "/owner.key"), mentioning: ["owner.key", "already exists"])
        let trusted = try LedgerSigningKey.loadPublicKey(dir + "/owner.key.pub")
        XCTAssertEqual(try LedgerSigningKey.load(dir + "/owner.key").publicKeyHex, key.publicKeyHex)

        let bundle = try EvidenceBundle.export(ledger: path, client: "bob", signingKey: key)
        XCTAssertEqual(bundle.entries.map(\.id), [2, 4, 6, 8])
        XCTAssertEqual(bundle.firstID, 2)
        XCTAssertEqual(bundle.links.count, 7)
        XCTAssertEqual(bundle.head.hash, try EvidenceChain.verify(ledger: path).headHash)
        try bundle.write(to: dir + "/bob.json")
        let loaded = try EvidenceBundle.load(dir + "/bob.json")
        XCTAssertEqual(loaded, bundle)
        let check = loaded.check(trustedKey: trusted, path: "bob.json")
        XCTAssertTrue(check.valid, check.problem ?? "")
        XCTAssertEqual(check.entries, 4)
        XCTAssertTrue(check.keyTrusted)

        // An entry edited after export: the signature and the chain both fail.
        var edited = loaded
        edited.entries[1].defense = "honest"
        let editedCheck = edited.check(trustedKey: trusted, path: "bob.json")
        XCTAssertFalse(editedCheck.signatureValid)
        XCTAssertFalse(editedCheck.chainIntact)
        XCTAssertTrue(editedCheck.problem?.contains("entry 4") ?? false, editedCheck.problem ?? "")
        // Re-signed by someone else: a valid signature, but not by the trusted key.
        let forger = LedgerSigningKey.generate()
        var forged = edited
        forged.signature.publicKey = forger.publicKeyHex
        forged.signature.value = Hex.encode(try forger.privateKey.signature(for: forged.signedDigest))
        XCTAssertTrue(forged.check(trustedKey: nil, path: "x").signatureValid, "valid under its own key")
        XCTAssertFalse(forged.check(trustedKey: trusted, path: "x").signatureValid)
        // A link dropped: the chain no longer reaches the head.
        var short = loaded
        short.links.removeLast()
        XCTAssertFalse(short.check(trustedKey: trusted, path: "x").chainIntact)

        assertThrows(try EvidenceBundle.export(ledger: path, client: "carol", signingKey: key), mentioning: ["carol", "alice, bob"])
        try tamper(path, "UPDATE evidence_ledger SET client = 'carol' WHERE id = 5")
        assertThrows(try EvidenceBundle.export(ledger: path, client: "bob", signingKey: key), mentioning: [path, "entry 5", "nothing exported"])
    }

    func testMalformedBundleAndKeyFilesAreNamed() throws {
        let dir = try scratchDirectory(self)
        try makeLedger(dir + "/queries.sqlite")
        let key = LedgerSigningKey.generate()
        try key.save(to: dir + "/owner.key")
        try EvidenceBundle.export(ledger: dir + "/queries.sqlite", client: "alice", signingKey: key).write(to: dir + "/alice.json")
        let good = try String(contentsOfFile: dir + "/alice.json", encoding: .utf8)
        func bundle(_ text: String) -> String {
            let path = dir + "/bad-\(UUID().uuidString).json"
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
            return path
        }
        assertThrows(try EvidenceBundle.load(dir + "/absent.json"), mentioning: ["absent.json", "no such evidence bundle"])
        assertThrows(try EvidenceBundle.load(dir), mentioning: [dir, "directory"])
        assertThrows(try EvidenceBundle.load(bundle("{ not json")), mentioning: ["not valid JSON"])
        assertThrows(try EvidenceBundle.load(bundle(good.replacingOccurrences(of: "\"similarity\" : 0\n", with: "\"similarity\" : \"zero\"\n"))),
                     mentioning: ["entries[0].similarity", "expected a number"])
        assertThrows(try EvidenceBundle.load(bundle(good.replacingOccurrences(of: "\"client\" : \"alice\",\n  \"entries\"", with: "\"entries\""))),
                     mentioning: ["field client is missing"])
        let signature = try XCTUnwrap(good.range(of: #""value" : "[0-9a-f]+""#, options: .regularExpression))
        assertThrows(try EvidenceBundle.load(bundle(good.replacingCharacters(in: signature, with: "\"value\" : \"abc\""))),
                     mentioning: ["signature.value", "128 hex digits"])
        assertThrows(try EvidenceBundle.load(bundle(good.replacingOccurrences(of: "honeytrace-evidence-bundle", with: "other"))),
                     mentioning: ["field format", "other"])

        // Key files: a public key is no signing key; damaged fields are named.
        assertThrows(try LedgerSigningKey.load(dir + "/owner.key.pub"), mentioning: ["owner.key.pub", "public key file"])
        assertThrows(try LedgerSigningKey.load(bundle("{\"format\": \"honeytrace-signing-key\", \"algorithm\": \"Ed25519\", \"private_key\": \"12\", \"public_key\": \"34\"}")),
                     mentioning: ["field private_key", "64 hex digits"])
        assertThrows(try LedgerSigningKey.loadPublicKey(bundle("{\"format\": \"honeytrace-public-key\", \"algorithm\": \"Ed25519\"}")),
                     mentioning: ["field public_key is missing"])
        assertThrows(try LedgerSigningKey.loadPublicKey(bundle("[1, 2]")), mentioning: ["not a honeytrace key file"])
        let other = LedgerSigningKey.generate().publicKeyHex
        let mixed = try String(contentsOfFile: dir + "/owner.key", encoding: .utf8)
            .replacingOccurrences(of: key.publicKeyHex, with: other)
        assertThrows(try LedgerSigningKey.load(bundle(mixed)), mentioning: ["field public_key", "not the public key of private_key"])
    }

    // MARK: API keys

    func testKeyDigestsAreComparedInConstantTime() throws {
        XCTAssertTrue(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        XCTAssertFalse(ConstantTime.equal([1, 2, 3], [0, 2, 3]))
        XCTAssertFalse(ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        XCTAssertFalse(ConstantTime.equal([1, 2, 3], [1, 2]))
        // Every lookup compares the presented key's digest with every client's, whether it matches the first, the last or none.
        final class Counter: @unchecked Sendable { var calls = 0 }
        let counter = Counter()
        let keys = (0..<5).map { "client-key-\($0)-0123456789abcdef" }
        let registry = try ClientRegistry(checking: keys.enumerated().map { ClientEntry(name: "c\($0.offset)", key: $0.element, rateLimit: nil) },
                                          compare: { counter.calls += 1; return ConstantTime.equal($0, $1) })
        for (key, name) in [(keys[0], "c0"), (keys[4], "c4"), ("no-such-key-0123456789", nil)] {
            counter.calls = 0
            XCTAssertEqual(registry.client(forKey: key)?.name, name)
            XCTAssertEqual(counter.calls, 5)
        }
    }

    func testHashedKeysAreAcceptedAndPlainKeysWarned() throws {
        let bobHash = ClientRegistry.hash(bobKey).uppercased()
        let registry = try ClientRegistry.parse(Data("""
            {"clients": [{"name": "alice", "key": "\(aliceKey)"}, {"name": "bob", "key_sha256": "\(bobHash)"}]}
            """.utf8))
        XCTAssertEqual(registry.client(forKey: bobKey)?.name, "bob")
        XCTAssertEqual(registry.client(forKey: aliceKey)?.name, "alice")
        XCTAssertNil(registry.client(forKey: bobHash), "the digest itself is no key")
        XCTAssertEqual(registry.plainKeyClients, ["alice"])
        let warning = try XCTUnwrap(registry.plainKeyWarning)
        XCTAssertTrue(warning.contains("alice") && warning.contains("key_sha256") && !warning.contains("bob"), warning)
        let hashedOnly = try ClientRegistry.parse(Data("{\"clients\": [{\"name\": \"bob\", \"key_sha256\": \"\(bobHash)\"}]}".utf8))
        XCTAssertNil(hashedOnly.plainKeyWarning)
        // A digest in other than ASCII hex digits (full-width digits are Unicode hex digits) is refused by name.
        XCTAssertThrowsError(try ClientRegistry.parse(Data("{\"clients\": [{\"name\": \"bob\", \"key_sha256\": \"\(String(repeating: "ａ", count: 64))\"}]}".utf8))) {
            XCTAssertTrue("\($0)".contains("key_sha256 must be 64 hex digits"), "\($0)")
        }
    }

    // MARK: Helpers

    /// `AnswerDigest`'s bytes for a probabilities answer, built by hand from docs/server.md.
    func answerBytes(_ p: [Float]) -> [UInt8] {
        Array("honeytrace-answer-v1".utf8) + text("probabilities") + be(UInt64(p.count)) + p.flatMap { be32($0.bitPattern) }
    }

    func be(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
    func be32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) } }
    func text(_ s: String) -> [UInt8] { be32(UInt32(s.utf8.count)) + Array(s.utf8) }
}
