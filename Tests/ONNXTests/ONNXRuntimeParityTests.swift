import Foundation
import NeuralNet
import ONNX
import TensorEngine
import Training
import XCTest

/// What `honeytrace export` writes runs in onnxruntime with the engine's logits (skipped, saying
/// so, where python3 lacks onnxruntime).
final class ONNXRuntimeParityTests: XCTestCase {
    func testExportedReferenceArchitecturesRunInONNXRuntime() throws {
        try ONNXRuntime.require()
        var g = SeededGenerator(seed: 23)
        let scratch = FileManager.default.temporaryDirectory
        for arch in Architecture.allCases {
            let classifier = arch.build(seed: 11)
            for (name, t) in classifier.stateDict() where name.hasSuffix("running_var") {
                for i in 0..<t.count { t.data[i] = 0.5 + 1.5 * g.nextFloat() }
            }
            let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
                architecture: arch, classes: 10, inputShape: [1, 28, 28], normalization: .fashionMNIST, source: "test"))
            let path = scratch.appendingPathComponent("\(arch.rawValue)-\(UUID().uuidString).onnx").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ONNXExport.write(model, to: path)
            let pixels = Tensor.uniform([4, 1, 28, 28], generator: &g)
            let theirs = try ONNXRuntime.logits(model: path, pixels: pixels, scratch: scratch)
            let d = maxDifference(logits(model, pixels), theirs)
            XCTAssertLessThan(d, 1e-4, "\(arch.rawValue): onnxruntime's logits differ by \(d)")
            print("\(arch.rawValue): max |logits − onnxruntime| = \(d)")
        }
    }

    func testExportedGraphModelsRunInONNXRuntime() throws {
        try ONNXRuntime.require()
        let scratch = FileManager.default.temporaryDirectory
        for name in Fixture.names {
            let model = try ONNXImport.load(path: Fixture.onnx(name), options: Fixture.options(name)).model
            let path = scratch.appendingPathComponent("\(name)-\(UUID().uuidString).onnx").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ONNXExport.write(model, to: path)
            let expected = try Fixture.expected(name)
            let theirs = try ONNXRuntime.logits(model: path, pixels: expected.pixels, scratch: scratch)
            let d = maxDifference(theirs, expected.logits)
            XCTAssertLessThan(d, 1e-4, "\(name): onnxruntime on the re-export differs from PyTorch by \(d)")
            print("\(name): max |onnxruntime(re-export) − PyTorch| = \(d)")
        }
    }
}
