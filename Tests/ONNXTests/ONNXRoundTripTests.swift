import Foundation
import NeuralNet
import ONNX
import TensorEngine
import Training
import XCTest

/// Export then import: graph models come back identical, reference architectures come back as
/// graph models with the same logits; graph models survive a model directory unchanged.
final class ONNXRoundTripTests: XCTestCase {
    func testImportedGraphModelsRoundTripIdentically() throws {
        for name in Fixture.names {
            let first = try ONNXImport.load(path: Fixture.onnx(name), options: Fixture.options(name)).model
            let again = try ONNXImport.model(from: try ONNXExport.data(of: first), label: "\(name) re-exported").model
            XCTAssertEqual(again.manifest.normalization, first.manifest.normalization, name)
            XCTAssertEqual(again.manifest.inputShape, first.manifest.inputShape, name)
            XCTAssertEqual(try XCTUnwrap(again.manifest.graph).nodes.map(\.op), try XCTUnwrap(first.manifest.graph).nodes.map(\.op), name)
            XCTAssertEqual(again.classifier.stateDict().map(\.1.scalars), first.classifier.stateDict().map(\.1.scalars), name)
            let pixels = try Fixture.expected(name).pixels
            let (a, b) = (first.forward(pixels: pixels), again.forward(pixels: pixels))
            XCTAssertEqual(a.logits.plain().scalars, b.logits.plain().scalars, name)
            XCTAssertEqual(a.features.plain().scalars, b.features.plain().scalars, name)
        }
    }

    func testReferenceArchitecturesExportWithTheirLogits() throws {
        for arch in Architecture.allCases {
            let model = referenceModel(arch)
            let pixels = Tensor.uniform([3, 1, 28, 28], generator: &generator)
            let back = try ONNXImport.model(from: try ONNXExport.data(of: model), label: arch.rawValue).model
            let (a, b) = (model.forward(pixels: pixels), back.forward(pixels: pixels))
            let dl = maxDifference(a.logits.plain().scalars, b.logits.plain().scalars)
            XCTAssertLessThan(dl, 1e-4, "\(arch.rawValue): \(dl)")
            XCTAssertLessThan(maxDifference(a.features.plain().scalars, b.features.plain().scalars), 1e-4, arch.rawValue)
            XCTAssertEqual(back.featureWidth, model.featureWidth)
            XCTAssertEqual(back.manifest.normalization, model.manifest.normalization)
        }
    }

    func testGraphModelSurvivesItsModelDirectory() throws {
        let model = try ONNXImport.load(path: Fixture.onnx("resnet-8")).model
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-roundtrip-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ModelDirectory.save(model, to: dir)
        let loaded = try ModelDirectory.load(dir)
        XCTAssertEqual(loaded.manifest, model.manifest)
        let pixels = try Fixture.expected("resnet-8").pixels
        XCTAssertEqual(logits(loaded, pixels), logits(model, pixels))

        // A damaged graph in model.json is refused with the file named, not run.
        let manifestPath = dir + "/" + ModelDirectory.manifestFile
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath))) as? [String: Any])
        // As a hand-made (format version 1) manifest, which carries no digest of itself.
        json["formatVersion"] = 1
        json["manifestSHA256"] = nil
        var graph = try XCTUnwrap(json["graph"] as? [String: Any])
        var nodes = try XCTUnwrap(graph["nodes"] as? [[String: Any]])
        nodes[0]["inputs"] = ["nowhere"]
        graph["nodes"] = nodes
        json["graph"] = graph
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: manifestPath))
        XCTAssertThrowsError(try ModelDirectory.load(dir)) { error in
            XCTAssertTrue("\(error)".contains("model.json") && "\(error)".contains("nowhere"), "\(error)")
        }
        // So is a tensor too large to allocate, before anything is allocated.
        nodes = try XCTUnwrap(graph["nodes"] as? [[String: Any]])
        nodes[0]["inputs"] = [graph["input"]!]
        nodes[0]["tensorShapes"] = ["weight": [1 << 20, 1 << 20, 3, 3], "bias": [1 << 20]]
        graph["nodes"] = nodes
        json["graph"] = graph
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: manifestPath))
        XCTAssertThrowsError(try ModelDirectory.load(dir)) { error in
            XCTAssertTrue("\(error)".contains("more than"), "\(error)")
        }
    }

    private var generator = SeededGenerator(seed: 19)

    /// A reference model with non-trivial batch-norm statistics.
    private func referenceModel(_ arch: Architecture) -> TrainedModel {
        let classifier = arch.build(seed: 7)
        for (name, t) in classifier.stateDict() where name.hasSuffix("running_mean") || name.hasSuffix("running_var") || name.hasSuffix(".bias") {
            let low: Float = name.hasSuffix("running_var") ? 0.5 : -0.2, high: Float = name.hasSuffix("running_var") ? 2 : 0.2
            for i in 0..<t.count { t.data[i] = low + (high - low) * generator.nextFloat() }
        }
        return TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: arch, classes: 10, inputShape: [1, 28, 28], normalization: .fashionMNIST, source: "test"))
    }
}
