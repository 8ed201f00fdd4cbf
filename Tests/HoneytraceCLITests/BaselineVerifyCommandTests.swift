import Foundation
import XCTest

/// `verify --baseline DIR`: a training-time baseline's own verdict (its fresh triggers against a
/// null pool), the figure `baseline rate` measures, and the refusals.
final class BaselineVerifyCommandTests: CLITestCase {
    func testBaselineVerdictIsItsTriggerAccuracyAgainstTheNullPool() throws {
        _ = try CLI.succeed(["baseline", "train", "--kind", "composite", "--limit", "1500", "--epochs", "2", "--seed", "3", "--out", path("b")])
        var members: [String] = []
        for i in 0..<3 {
            _ = try CLI.succeed(["train", "--limit", "800", "--epochs", "1", "--seed", "\(20 + i)", "--out", path("pool/n\(i)")])
            members.append(#"{"name": "n\#(i)", "architecture": "fmnist-cnn"}"#)
        }
        try Data(("[" + members.joined(separator: ", ") + "]").utf8).write(to: URL(fileURLWithPath: path("pool/pool.json")))

        let own = try CLI.json(try CLI.run(["verify", "--baseline", path("b"), "--null-pool", path("pool"), path("b"), "--json"]).stdout)
        let rate = try CLI.json(try CLI.succeed(["baseline", "rate", "--baseline", path("b"), path("b"), "--split", "validation", "--json"]))
        // The same triggers (owner validation, the baseline's settings) as `baseline rate`, judged against 3 null models.
        XCTAssertEqual(try XCTUnwrap(own["triggerAccuracy"] as? Double), try XCTUnwrap(rate["watermarkRate"] as? Double), accuracy: 1e-12)
        XCTAssertEqual(own["triggers"] as? Int, 2000)
        XCTAssertEqual(own["nullModels"] as? Int, 3)
        XCTAssertEqual(own["watermark"] as? String, "composite")
        let accuracy = try XCTUnwrap(own["triggerAccuracy"] as? Double), threshold = try XCTUnwrap(own["threshold"] as? Double)
        XCTAssertEqual(own["verdict"] as? String, accuracy > threshold ? "stolen" : "not stolen")
        XCTAssertGreaterThan(accuracy, 0.5, "the watermarked model answers most of its own triggers with the target")

        try CLI.fail(["verify", "--baseline", path("b"), path("b")], mentioning: ["--baseline", "--null-pool"])
        try CLI.fail(["verify", "--baseline", path("b"), "--null-pool", path("pool"), "--false-claim-rate", "0", path("b")],
                     mentioning: ["--false-claim-rate"])
        try CLI.fail(["verify", "--baseline", path("pool/n0"), "--null-pool", path("pool"), path("b")], mentioning: ["n0", "baseline.json"])
        // A null pool that holds the owner's watermarked model is no null pool.
        try FileManager.default.copyItem(atPath: path("b"), toPath: path("pool/n3"))
        try Data(("[" + (members + [#"{"name": "n3", "architecture": "fmnist-cnn"}"#]).joined(separator: ", ") + "]").utf8)
            .write(to: URL(fileURLWithPath: path("pool/pool.json")))
        try CLI.fail(["verify", "--baseline", path("b"), "--null-pool", path("pool"), path("b")], mentioning: ["n3", "owner model's weights"])
    }
}
