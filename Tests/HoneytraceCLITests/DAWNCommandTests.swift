import Foundation
import XCTest

/// `dawn secret`, `verify --dawn-log` and `dawn export-log` end to end, and their errors.
final class DAWNCommandTests: CLITestCase {
    /// A DAWN log of `count` 28×28 images with wrong label 1 (original 0).
    func writeLog(_ name: String, count: Int, answered: String = "1") throws {
        let entries = (0..<count).map { i in
            let image = Data((0..<784).map { UInt8(($0 * 5 + i * 31) % 256) }).base64EncodedString()
            return "{\"image\": \"\(image)\", \"original_label\": 0, \"answered_label\": \(answered), \"digest\": \"\(String(repeating: "ab", count: 32))\"}"
        }
        let text = """
            {"format": "honeytrace-dawn-log", "version": 1, "client": "alice", "secret_fingerprint": "0011223344556677",
             "model_sha256": null, "input_shape": [1, 28, 28], "classes": 10, "watermark_size": 100,
             "entries": [\(entries.joined(separator: ", "))]}
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(name)))
    }

    func testSecretVerifyAndErrors() throws {
        let made = try CLI.succeed(["dawn", "secret", "--out", path("dawn.secret")])
        XCTAssertTrue(made.contains("fingerprint"), made)
        let secret = try String(contentsOfFile: path("dawn.secret"), encoding: .utf8)
        XCTAssertEqual(secret.trimmingCharacters(in: .whitespacesAndNewlines).count, 64)

        _ = try CLI.succeed(["train", "--data", "synthetic", "--limit", "200", "--epochs", "1", "--batch", "32", "--no-augment",
                             "--seed", "1", "--out", path("m")])
        try writeLog("alice.json", count: 3)
        // Three queries can never reach p ≤ 1e-4 against chance 1/9: the verdict is "not stolen" whatever the model answers.
        let report = try CLI.verifyJSON(["verify", "--dawn-log", path("alice.json"), "--suspect", path("m"), "--json"])
        XCTAssertEqual(report["queries"] as? Int, 3)
        XCTAssertEqual(report["client"] as? String, "alice")
        XCTAssertEqual(report["verdict"] as? String, "not stolen")
        XCTAssertEqual(report["chance"] as? Double ?? 0, 1.0 / 9, accuracy: 1e-12)
        // The fields every watermark's JSON shares.
        XCTAssertEqual(report["watermark"] as? String, "dawn")
        XCTAssertEqual(report["is_stolen"] as? Bool, false)
        XCTAssertEqual(report["score"] as? Double, report["agreement"] as? Double)
        XCTAssertNotNil(report["p_value"] as? Double)
        let text = try CLI.verify(["verify", "--dawn-log", path("alice.json"), "--suspect", path("m")], verdict: "not stolen")
        XCTAssertTrue(text.contains("agreement") && text.contains("p-value"), text)

        try writeLog("bad.json", count: 2, answered: "12")
        try CLI.fail(["verify", "--dawn-log", path("bad.json"), "--suspect", path("m")], mentioning: [path("bad.json"), "entries[0].answered_label"])
        try CLI.fail(["verify", "--dawn-log", path("alice.json"), "--key", path("k"), "--suspect", path("m")], mentioning: ["--key", "--dawn-log"])
        try CLI.fail(["dawn", "export-log", "--database", path("absent.sqlite"), "--client", "alice", "--out", path("x.json")],
                     mentioning: [path("absent.sqlite")])
        try CLI.fail(["serve", path("m"), "--dawn-secret", path("absent.secret"), "--port", "0", "--no-admin", "--database", ":memory:"],
                     mentioning: [path("absent.secret")])
    }
}
