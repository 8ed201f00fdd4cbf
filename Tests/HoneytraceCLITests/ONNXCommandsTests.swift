import Formats
import Foundation
import XCTest

/// A PyTorch fmnist-cnn exported to ONNX, end to end through the owner's commands: import,
/// predict, watermark create, calibrate, protect, verify (from disk and through serve); and export back to ONNX.
final class ONNXCommandsTests: CLITestCase {
    /// The fixture scripts/make_onnx_fixtures.py writes: fmnist-cnn trained for one epoch, its normalisation in the graph.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ONNXTests/Fixtures/fmnist-cnn.onnx").path

    func testImportedONNXModelGoesThroughTheOwnersCommands() throws {
        let imported = try CLI.succeed(["import", "--onnx", Self.fixture, "--out", path("m")])
        XCTAssertTrue(imported.contains("found at the head of the graph"), imported)
        XCTAssertTrue(imported.contains("features: the input of the last Gemm"), imported)

        // Predict on 20 Fashion-MNIST-sized images.
        var pixels = [UInt8](repeating: 0, count: 20 * 784)
        for i in pixels.indices { pixels[i] = UInt8((i * 7 + i / 784 * 13) % 256) }
        try NPY.write(uint8: pixels, shape: [20, 28, 28], to: path("x.npy"))
        let predicted = try CLI.json(try CLI.succeed(["predict", path("m"), "--input", path("x.npy"), "--output", "logits", "--json"]))
        XCTAssertEqual((predicted["logits"] as? [[Double]])?.count, 20)

        let created = try CLI.succeed(["watermark", "create", path("m"), "--out", path("m.htkey"), "--count", "5", "--seed", "3"])
        XCTAssertTrue(created.contains("5 white-block watermarks"), created)
        let calibrated = try CLI.succeed(["calibrate", path("m"), "--key", path("m.htkey"), "--out", path("cal.htkey"), "--budget-points", "1"])
        XCTAssertTrue(calibrated.contains("bare accuracy"), calibrated)
        _ = try CLI.succeed(["protect", path("m"), "--key", path("cal.htkey")])
        let report = try CLI.verifyJSON(["verify", "--suspect", path("m"), "--key", path("cal.htkey"), "--pairs", "30", "--json"])
        XCTAssertNotNil(report["verdict"] as? String)
        XCTAssertEqual(report["queriesSpent"] as? Int, 60)
        // Served (undefended), the graph model gives verify the same answers as from disk.
        let (server, url) = try startServer([path("m"), "--undefended", "--port", "0", "--no-admin", "--database", ":memory:"])
        let remote = try CLI.verifyJSON(["verify", "--endpoint", url, "--key", path("cal.htkey"), "--pairs", "30", "--json"])
        server.terminate()
        server.waitUntilExit()
        for field in ["verdict", "triggerHits", "controlHits", "queriesSpent"] {
            XCTAssertEqual("\(remote[field] ?? "missing")", "\(report[field] ?? "missing")", "\(field): endpoint vs disk")
        }

        // Export and import again: the same logits.
        _ = try CLI.succeed(["export", "--onnx", path("m"), "--out", path("m.onnx")])
        _ = try CLI.succeed(["import", "--onnx", path("m.onnx"), "--out", path("m2")])
        let again = try CLI.json(try CLI.succeed(["predict", path("m2"), "--input", path("x.npy"), "--output", "logits", "--json"]))
        XCTAssertEqual(again["logits"] as? [[Double]], predicted["logits"] as? [[Double]])
    }

    func testImportRefusesBrokenAndUnsupportedFiles() throws {
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: path("bad.onnx")))
        try CLI.fail(["import", "--onnx", path("bad.onnx"), "--out", path("x")], mentioning: ["bad.onnx", "not an ONNX model"])
        try CLI.fail(["import", "--onnx", Self.fixture, "--arch", "fmnist-cnn", "--out", path("x")], mentioning: ["--arch"])
        try CLI.fail(["import", "--onnx", Self.fixture, "--mean", "0.5", "--out", path("x")], mentioning: ["--mean and --std"])
        try CLI.fail(["import", "--onnx", Self.fixture, "--classes", "3", "--out", path("x")], mentioning: ["--classes"])
        try CLI.fail(["import", "--onnx", Self.fixture, "--features", "nothing", "--out", path("x")], mentioning: ["'nothing'"])
        try CLI.fail(["train", "--arch", "graph", "--out", path("x")], mentioning: ["graph"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x")))
    }
}
