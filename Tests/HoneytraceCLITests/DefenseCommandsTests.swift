import Formats
import Foundation
import XCTest

/// The owner's commands end to end on small synthetic models: watermark create and inspect,
/// protect (refusing a key made for other weights), verify.
final class DefenseCommandsTests: CLITestCase {
    func testKeyLifecycleAndVerification() throws {
        try trainSynthetic(seed: 1, to: path("a"))
        try trainSynthetic(seed: 2, to: path("b"))
        // Held-out images: 200 uint8 images with every class present.
        var pixels = [UInt8](repeating: 0, count: 200 * 784)
        for i in pixels.indices { pixels[i] = UInt8((i * 7 + i / 784 * 13) % 256) }
        try NPY.write(uint8: pixels, shape: [200, 28, 28], to: path("held.npy"))
        try NPY.write(uint8: (0..<200).map { UInt8($0 % 10) }, shape: [200], to: path("held-labels.npy"))
        let key = path("a.htkey")
        let created = try CLI.succeed(["watermark", "create", path("a"), "--out", key, "--recipe", "composite", "--count", "10",
                                       "--held-out", path("held.npy"), "--held-out-labels", path("held-labels.npy"), "--seed", "3"])
        XCTAssertTrue(created.contains("10 composite watermarks"), created)
        let byDefault = try CLI.succeed(["watermark", "create", path("a"), "--out", path("default.htkey"), "--count", "5"])
        XCTAssertTrue(byDefault.contains("5 white-block watermarks"), "white-block is the default recipe: \(byDefault)")
        let defaultKey = try CLI.succeed(["watermark", "inspect", path("default.htkey")])
        XCTAssertTrue(defaultKey.contains("α = 8.0, β = 3.0"), "the default mixing power is 8: \(defaultKey)")
        XCTAssertTrue(defaultKey.contains("score watermark-probe")
                      && defaultKey.split(separator: "\n").contains { $0.hasPrefix("mark probe") && $0.hasSuffix("present") },
                      "the default score weighs the similarity by the key's mark probe: \(defaultKey)")
        XCTAssertTrue(defaultKey.contains("out-of-distribution gate at the 0.97 quantile"), "the gate is on by default: \(defaultKey)")
        // Built-in Fashion-MNIST: the key comes from the owner validation split, never the test set.
        XCTAssertTrue(defaultKey.contains("fashion-mnist/owner-validation (5000 images"), defaultKey)
        XCTAssertFalse(defaultKey.contains("fashion-mnist/test"), defaultKey)
        _ = try CLI.succeed(["watermark", "create", path("a"), "--out", path("block.htkey"), "--count", "5", "--block-size", "6"])
        XCTAssertTrue(try CLI.succeed(["watermark", "inspect", path("block.htkey")]).contains("6 px"))
        try CLI.fail(["watermark", "create", path("a"), "--out", path("x.htkey"), "--recipe", "composite", "--block-size", "4"],
                     mentioning: ["--block-size", "white-block only"])
        try CLI.fail(["watermark", "create", path("a"), "--out", path("x.htkey"), "--other-class", "2"], mentioning: ["--recipe composite"])
        let attributes = try FileManager.default.attributesOfItem(atPath: key)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, "keys are owner-only")
        let inspected = try CLI.succeed(["watermark", "inspect", key])
        XCTAssertTrue(inspected.contains("4 + region of 6 → 9"), inspected)
        XCTAssertFalse(inspected.lowercased().contains("secret:"), inspected)
        // --json on a composite key: its summary once held "classes" twice, and the JSON object trapped on it.
        let inspectedJSON = try CLI.json(try CLI.succeed(["watermark", "inspect", key, "--json"]))
        XCTAssertEqual(inspectedJSON["composite"] as? String, "4 + region of 6 → 9")
        XCTAssertEqual(inspectedJSON["classes"] as? String, "10")

        // Calibration takes only the owner's data: held-out images and outliers generated from them.
        let calibration = try CLI.run(["calibrate", path("a"), "--key", path("default.htkey"), "--out", path("calibrated.htkey"),
                                       "--budget", "1", "--confidence", "0.95", "--heavy-client-after", "500"])
        XCTAssertEqual(calibration.status, 0, calibration.stderr)
        let calibrated = calibration.stdout
        // Its progress bars, on a pipe: one finished line each (time spent), no redraws.
        let bars = calibration.stderr.split(separator: "\n").filter { $0.hasPrefix("calibrate") }
        XCTAssertEqual(bars.count, 2, calibration.stderr)
        XCTAssertTrue(bars.allSatisfy { $0.contains("3/3") && !$0.contains("\r") && !$0.contains("eta") }, calibration.stderr)
        let quiet = try CLI.run(["calibrate", path("a"), "--key", path("default.htkey"), "--out", path("calibrated-json.htkey"), "--json"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertFalse(quiet.stderr.contains("calibrate ["), "no bars under --json: \(quiet.stderr)")
        XCTAssertTrue(calibrated.contains("generated outliers") && !calibrated.contains("mnist-5k"), calibrated)
        XCTAssertTrue(calibrated.contains("on fashion-mnist/owner-validation; budget 1.0 points"), "--budget is --budget-points' old name: \(calibrated)")
        XCTAssertTrue(calibrated.contains("at confidence 0.95 on unseen data"), calibrated)
        // The heavy-client defense is calibrated to its own budget and written into the key.
        XCTAssertTrue(calibrated.contains("heavy clients (after 500 queries)"), calibrated)
        XCTAssertTrue(try CLI.succeed(["watermark", "inspect", path("calibrated.htkey")]).contains("after 500 queries"))
        try CLI.fail(["calibrate", path("a"), "--key", path("default.htkey"), "--out", path("x.htkey"), "--heavy-client-after=-3"],
                     mentioning: ["--heavy-client-after '-3'"])
        try CLI.fail(["calibrate", path("a"), "--key", path("default.htkey"), "--out", path("x.htkey"), "--budget-points", "150"],
                     mentioning: ["--budget-points 150.0", "percentage points"])
        try CLI.fail(["calibrate", path("a"), "--key", path("default.htkey"), "--out", path("x.htkey"), "--confidence", "2"],
                     mentioning: ["confidence 2"])
        _ = try CLI.succeed(["protect", path("a"), "--key", key])
        try CLI.fail(["protect", path("b"), "--key", key], mentioning: ["key was made for model weights"])
        _ = try CLI.succeed(["protect", path("b"), "--key", key, "--force"])

        // Corrupted key: a clear error naming the file.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: key))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: path("cut.htkey")))
        try CLI.fail(["watermark", "inspect", path("cut.htkey")], mentioning: ["cut.htkey"])
        bytes[9] ^= 0x5A
        try bytes.write(to: URL(fileURLWithPath: path("bad.htkey")))
        try CLI.fail(["watermark", "inspect", path("bad.htkey")], mentioning: ["bad.htkey"])

        // Model b was never trained on watermarked answers: not stolen, with a p-value and queries spent.
        let report = try CLI.verifyJSON(["verify", "--suspect", path("b"), "--key", key, "--reference", path("a"),
                                                   "--pairs", "50", "--json"])
        XCTAssertEqual(report["verdict"] as? String, "not stolen")
        XCTAssertEqual(report["queriesSpent"] as? Int, 100)
        XCTAssertNotNil(report["pValue"] as? Double)
    }
}

/// `honeytrace serve` in a child process, and `verify --endpoint` against it.
final class ServeCommandTests: CLITestCase {
    func testVerifyGivesTheSameReportThroughTheEndpointAsOnDisk() throws {
        // The key's target is one these synthetic models often answer, so the reports compared below hold
        // non-zero counts (measured: 59 of 60 triggers and controls).
        let key = try syntheticModelsAndKey()

        let (server, url) = try startServer([path("b"), "--undefended", "--port", "0", "--no-admin",
                                             "--database", path("queries.sqlite")])
        let remote = try CLI.verifyJSON(["verify", "--endpoint", url, "--key", key, "--pairs", "60", "--json"])
        server.terminate()  // SIGTERM: graceful shutdown
        server.waitUntilExit()
        XCTAssertEqual(server.terminationStatus, 0, "SIGTERM should stop the server cleanly")

        let local = try CLI.verifyJSON(["verify", "--suspect", path("b"), "--key", key, "--pairs", "60", "--json"])
        XCTAssertGreaterThan(local["triggerHits"] as? Int ?? 0, 0, "the comparison needs answers of the target class")
        for field in ["verdict", "triggerHits", "controlHits", "pValue", "queriesSpent"] {
            XCTAssertEqual("\(remote[field] ?? "missing")", "\(local[field] ?? "missing")", "\(field) differs: endpoint vs disk")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("queries.sqlite")), "the query database is written")
    }

    func testServeRefusesBadInputsWithClearErrors() throws {
        _ = try CLI.succeed(["train", "--data", "synthetic", "--limit", "200", "--epochs", "1", "--seed", "1", "--out", path("a")])
        try CLI.fail(["serve", path("a")], mentioning: ["--key", "--undefended"])
        try Data("not a key".utf8).write(to: URL(fileURLWithPath: path("bad.htkey")))
        try CLI.fail(["serve", path("a"), "--key", path("bad.htkey"), "--port", "0"], mentioning: ["bad.htkey"])
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path("broken.sqlite")))
        try CLI.fail(["serve", path("a"), "--undefended", "--port", "0", "--no-admin", "--database", path("broken.sqlite")],
                     mentioning: ["broken.sqlite"])
        try CLI.fail(["serve", path("a"), "--undefended", "--answers", "topk:0"], mentioning: ["answers"])
        try CLI.fail(["serve", path("a"), "--perturbation", "rounding-9"], mentioning: ["--perturbation", "rounding-9", "rounding-1"])
        try CLI.fail(["verify", "--endpoint", "ftp://x", "--key", path("bad.htkey")], mentioning: ["bad.htkey"])
        try CLI.fail(["verify", "--key", path("bad.htkey")], mentioning: ["--suspect", "--endpoint"])
    }
}
