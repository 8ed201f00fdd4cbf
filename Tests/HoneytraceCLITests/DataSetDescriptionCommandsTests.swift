import Foundation
import TestSupport
import XCTest

/// An owner's own data set: CIFAR-10 binary batches generated here (3×32×32, ten classes), named
/// by a data-set description, go through train → evaluate → watermark create → calibrate →
/// serve → verify from the CLI, run from another directory and with no Fashion-MNIST on the path.
final class DataSetDescriptionCommandsTests: CLITestCase {
    func testACIFARShapedModelGoesThroughEveryOwnerCommand() throws {
        let dataDir = path("my-data")
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        try CIFARBatches.write(dataDir + "/data_batch_1.bin", count: 600, seed: 1)
        try CIFARBatches.write(dataDir + "/test_batch.bin", count: 200, seed: 2)
        // The owner's validation part is a slice of a second file; file names are relative to the description.
        try CIFARBatches.write(dataDir + "/data_batch_2.bin", count: 400, seed: 3)
        let description = """
            {"name": "my-cifar", "format": "cifar-10", "input_shape": [3, 32, 32],
             "class_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
             "train": {"files": ["data_batch_1.bin"]},
             "owner_validation": {"files": ["data_batch_2.bin"], "range": [0, 300]},
             "test": {"files": ["test_batch.bin"]}}
            """
        try Data(description.utf8).write(to: URL(fileURLWithPath: dataDir + "/dataset.json"))
        let elsewhere = path("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        // No Fashion-MNIST anywhere: a command that reached for it would fail.
        let environment = ["HONEYTRACE_FASHION_MNIST": path("no-fashion-mnist"), "HONEYTRACE_DATA_ROOT": path("no-data-root")]
        @discardableResult
        func run(_ arguments: [String], expect: Set<Int32> = [0]) throws -> String {
            let r = try ProcessOutput.run(CLI.executable, arguments, environment: environment, directory: elsewhere)
            XCTAssertTrue(expect.contains(r.status), "\(arguments.prefix(2)) exited \(r.status): \(r.stderr)")
            return r.stdout
        }
        let model = path("model"), key = path("key.htkey")
        try run(["train", "--data", dataDir, "--arch", "fmnist-cnn", "--epochs", "3", "--batch", "32", "--lr", "0.02",
                 "--no-augment", "--seed", "1", "--out", model])
        let manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: model + "/model.json"))) as? [String: Any])
        XCTAssertEqual(manifest["inputShape"] as? [Int], [3, 32, 32])
        XCTAssertEqual((manifest["classNames"] as? [String])?.first, "airplane")
        XCTAssertEqual((manifest["normalization"] as? [String: Any]).flatMap { ($0["mean"] as? [Double])?.count }, 3,
                       "per-channel statistics of the train part")
        let evaluated = try CLI.json(try run(["evaluate", model, "--data", dataDir + "/dataset.json", "--json"]))
        XCTAssertEqual(evaluated["data"] as? String, "my-cifar/test")
        XCTAssertGreaterThan(evaluated["accuracy"] as? Double ?? 0, 0.5, "colour and stripe make the classes easy")

        let created = try run(["watermark", "create", model, "--data", dataDir, "--recipe", "composite", "--count", "10",
                               "--seed", "3", "--out", key])
        XCTAssertTrue(created.contains("10 composite watermarks"), created)
        let inspected = try CLI.json(try run(["watermark", "inspect", key, "--json"]))
        XCTAssertTrue("\(inspected)".contains("my-cifar/owner-validation"), "the key records the owner's part: \(inspected)")
        try run(["calibrate", model, "--key", key, "--data", dataDir, "--budget-points", "5"])
        try run(["protect", model, "--key", key, "--data", dataDir, "--evaluate"])

        // Serve the protected model and verify through its URL with triggers from the owner's part.
        let server = Process()
        server.executableURL = CLI.executable
        server.arguments = ["serve", model, "--key", key, "--port", "0", "--no-admin", "--database", ":memory:"]
        server.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while !text.contains("\n"), Date() < deadline, server.isRunning {
            text += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        let url = try XCTUnwrap(text.range(of: #"http://[0-9.]+:[0-9]+"#, options: .regularExpression).map { String(text[$0]) },
                                "the server did not start: \(text)")
        let verified = try CLI.json(try run(["verify", "--endpoint", url, "--key", key, "--data", dataDir, "--pairs", "40", "--json"],
                                            expect: [0, 2]))
        XCTAssertNotNil(verified["verdict"] as? String)
        XCTAssertEqual(verified["queriesSpent"] as? Int, 80, "40 triggers and 40 controls")
        server.terminate()
        server.waitUntilExit()

        // Errors name the description and the field.
        try Data(#"{"name": "x", "format": "cifar-10", "train": {"images": "a.npy", "labels": "b.npy"}}"#.utf8)
            .write(to: URL(fileURLWithPath: path("bad.json")))
        let bad = try ProcessOutput.run(CLI.executable, ["train", "--data", path("bad.json"), "--out", path("x")], environment: environment)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("bad.json") && bad.stderr.contains("'train'") && bad.stderr.contains("'files'"), bad.stderr)
        try Data(#"{"name": "x", "format": "jpeg", "train": {"files": ["a"]}}"#.utf8).write(to: URL(fileURLWithPath: path("jpeg.json")))
        let jpeg = try ProcessOutput.run(CLI.executable, ["train", "--data", path("jpeg.json"), "--out", path("x")], environment: environment)
        XCTAssertTrue(jpeg.stderr.contains("format") && jpeg.stderr.contains("cifar-10"), jpeg.stderr)
        try CLI.fail(["train", "--data", "fashion", "--out", path("x")], mentioning: ["--data 'fashion'", "fashion-mnist, synthetic, npy or a data-set description"])
        let noValidation = try ProcessOutput.run(CLI.executable, ["calibrate", model, "--key", key, "--data", path("jpeg.json")],
                                                 environment: environment)
        XCTAssertNotEqual(noValidation.status, 0)
    }
}
