import Foundation
import GRDB
import Honeytrace
@testable import HoneytraceServer
import XCTest

/// `ledger verify`, `ledger keygen`, `ledger export`, `ledger check-bundle` and `verify --evidence`
/// end to end, and their errors.
final class LedgerCommandTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-ledger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// A query database whose evidence ledger holds six one-image answers, alternately alice's and bob's.
    func makeLedger() throws -> String {
        let db = path("queries.sqlite")
        let ledger = try QueryLedger(path: db, modelSHA256: "m", keyFingerprint: "k")
        for i in 0..<6 {
            ledger.evidence.record(client: i % 2 == 0 ? "alice" : "bob", pixels: [Float(i) / 10, 0.5],
                                   output: DefenseOutput(rows: 1, classes: 2, probabilities: [0.4, 0.6], similarity: [0], mixed: [false],
                                                         flipped: [false]),
                                   mode: .label, heavy: false)
        }
        try ledger.close()
        return db
    }

    func testVerifyExportAndCheckBundle() throws {
        let db = try makeLedger()
        let intact = try CLI.succeed(["ledger", "verify", db])
        XCTAssertTrue(intact.contains("intact: 6 entries of 2 clients"), intact)
        XCTAssertEqual(intact.split(separator: "\n").count, 1, "one line when intact")
        let report = try CLI.json(try CLI.succeed(["ledger", "verify", db, "--json"]))
        XCTAssertEqual(report["intact"] as? Bool, true)
        XCTAssertEqual(report["entries"] as? Int, 6)
        let head = try XCTUnwrap(report["head_hash"] as? String)
        _ = try CLI.succeed(["ledger", "verify", db, "--head", head])

        let made = try CLI.succeed(["ledger", "keygen", "--out", path("owner.key")])
        XCTAssertTrue(made.contains(path("owner.key.pub")), made)
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: path("owner.key"))[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        try CLI.fail(["ledger", "keygen", "--out", path("owner.key")], mentioning: [path("owner.key"), "already exists"])
        _ = try CLI.succeed(["ledger", "keygen", "--out", path("other.key")])

        let exported = try CLI.succeed(["ledger", "export", "--client", "alice", "--ledger", db, "--signing-key", path("owner.key"),
                                        "--out", path("alice.json")])
        XCTAssertTrue(exported.contains("3 entries of client 'alice'"), exported)
        let checked = try CLI.succeed(["ledger", "check-bundle", path("alice.json"), "--public-key", path("owner.key.pub")])
        XCTAssertTrue(checked.contains("valid: 3 entries of client 'alice'") && checked.contains(head), checked)
        let checkJSON = try CLI.json(try CLI.succeed(["ledger", "check-bundle", path("alice.json"), "--public-key", path("owner.key.pub"), "--json"]))
        XCTAssertEqual(checkJSON["valid"] as? Bool, true)
        XCTAssertEqual(checkJSON["headHash"] as? String, head)

        let otherKey = try CLI.run(["ledger", "check-bundle", path("alice.json"), "--public-key", path("other.key.pub")])
        XCTAssertEqual(otherKey.status, 2)
        XCTAssertTrue(otherKey.stderr.contains("not by the trusted key"), otherKey.stderr)
        // The bundle edited after signing.
        let text = try String(contentsOfFile: path("alice.json"), encoding: .utf8)
        let edited = try XCTUnwrap(text.range(of: "\"defense\" : \"honest\""))
        try text.replacingCharacters(in: edited, with: "\"defense\" : \"flipped\"").write(toFile: path("edited.json"), atomically: true, encoding: .utf8)
        let tampered = try CLI.run(["ledger", "check-bundle", path("edited.json"), "--public-key", path("owner.key.pub")])
        XCTAssertEqual(tampered.status, 2)
        XCTAssertTrue(tampered.stderr.contains("does not check") && tampered.stderr.contains("entry 1"), tampered.stderr)

        // The ledger edited in place: verify names the row, exits 2, and nothing more is exported from it.
        let queue = try DatabaseQueue(path: db)
        try queue.write { try $0.execute(sql: "UPDATE evidence_ledger SET client = 'mallory' WHERE id = 3") }
        try queue.close()
        let broken = try CLI.run(["ledger", "verify", db])
        XCTAssertEqual(broken.status, 2)
        XCTAssertTrue(broken.stderr.contains("entry 3 (client mallory)"), broken.stderr)
        let brokenJSON = try CLI.json(try CLI.run(["ledger", "verify", db, "--json"]).stdout)
        XCTAssertEqual(brokenJSON["intact"] as? Bool, false)
        XCTAssertEqual((brokenJSON["first_bad"] as? [String: Any])?["id"] as? Int, 3)
        try CLI.fail(["ledger", "export", "--client", "alice", "--ledger", db, "--signing-key", path("owner.key"), "--out", path("x.json")],
                     mentioning: [db, "entry 3"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.json")))
    }

    func testMalformedInputsGiveClearErrors() throws {
        let db = try makeLedger()
        _ = try CLI.succeed(["ledger", "keygen", "--out", path("owner.key")])
        try "{ \"format\": 1 ".write(toFile: path("garbage.json"), atomically: true, encoding: .utf8)
        try CLI.fail(["ledger", "verify", path("absent.sqlite")], mentioning: [path("absent.sqlite"), "no such ledger"])
        try CLI.fail(["ledger", "verify", path("garbage.json")], mentioning: [path("garbage.json")])
        try CLI.fail(["ledger", "check-bundle", path("garbage.json"), "--public-key", path("owner.key.pub")],
                     mentioning: [path("garbage.json"), "not valid JSON"])
        try CLI.fail(["ledger", "check-bundle", path("absent.json"), "--public-key", path("owner.key.pub")], mentioning: [path("absent.json")])
        try CLI.fail(["ledger", "check-bundle", path("garbage.json"), "--public-key", path("garbage.json")],
                     mentioning: [path("garbage.json"), "key file"])
        try CLI.fail(["ledger", "export", "--client", "alice", "--ledger", db, "--signing-key", path("owner.key.pub"), "--out", path("b.json")],
                     mentioning: [path("owner.key.pub"), "public key file"])
        try CLI.fail(["ledger", "export", "--client", "carol", "--ledger", db, "--signing-key", path("owner.key"), "--out", path("b.json")],
                     mentioning: ["carol", "alice, bob"])
        try CLI.fail(["ledger", "keygen", "--out", path("no-such-dir/k")], mentioning: [path("no-such-dir/k")])
        try CLI.fail(["verify", "--dawn-log", path("log.json"), "--suspect", path("m"), "--evidence", path("b.json")],
                     mentioning: ["--evidence", "--key"])
        // The bundle is read before the key, the model or any query.
        try CLI.fail(["verify", "--suspect", path("m"), "--key", path("absent.htkey"), "--evidence", path("garbage.json")],
                     mentioning: [path("garbage.json")])
    }

    func testVerifyAttachesTheBundle() throws {
        _ = try CLI.succeed(["train", "--data", "synthetic", "--limit", "200", "--epochs", "1", "--batch", "32", "--no-augment",
                             "--seed", "1", "--out", path("m")])
        _ = try CLI.succeed(["watermark", "create", path("m"), "--out", path("m.htkey"), "--count", "5"])
        let db = try makeLedger()
        _ = try CLI.succeed(["ledger", "keygen", "--out", path("owner.key")])
        _ = try CLI.succeed(["ledger", "export", "--client", "bob", "--ledger", db, "--signing-key", path("owner.key"), "--out", path("bob.json")])
        let arguments = ["verify", "--suspect", path("m"), "--key", path("m.htkey"), "--pairs", "20", "--evidence", path("bob.json"),
                         "--evidence-public-key", path("owner.key.pub")]
        let report = try CLI.verifyJSON(arguments + ["--json"])
        let evidence = try XCTUnwrap(report["evidenceBundle"] as? [String: Any], "\(report)")
        XCTAssertEqual(evidence["client"] as? String, "bob")
        XCTAssertEqual(evidence["entries"] as? Int, 3)
        XCTAssertEqual(evidence["headID"] as? Int, 6)
        XCTAssertEqual(evidence["signatureValid"] as? Bool, true)
        XCTAssertEqual(evidence["chainIntact"] as? Bool, true)
        XCTAssertEqual(evidence["keyTrusted"] as? Bool, true)
        let text = try CLI.run(arguments)
        XCTAssertTrue(text.stdout.contains("evidence         client 'bob': 3 entries, head #6"), text.stdout)
        XCTAssertTrue(text.stdout.contains("signature valid, chain intact"), text.stdout)
    }
}
