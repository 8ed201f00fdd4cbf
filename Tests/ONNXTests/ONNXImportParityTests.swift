import ONNX
import TensorEngine
import Training
import XCTest

/// The three reference architectures as exported by torch.onnx.export (scripts/make_onnx_fixtures.py)
/// give PyTorch's logits and penultimate features within 1e-4 once imported.
final class ONNXImportParityTests: XCTestCase {
    func testImportedLogitsAndFeaturesMatchPyTorch() throws {
        for name in Fixture.names {
            let result = try ONNXImport.load(path: Fixture.onnx(name), options: Fixture.options(name))
            let expected = try Fixture.expected(name)
            let model = result.model
            XCTAssertEqual(model.manifest.architecture, .graph)
            let out = model.forward(pixels: expected.pixels)
            XCTAssertEqual(out.logits.shape, [6, 10], name)
            let dl = maxDifference(out.logits.plain().scalars, expected.logits)
            let df = maxDifference(out.features.plain().scalars, expected.features)
            XCTAssertLessThan(dl, 1e-4, "\(name): logits differ from PyTorch's by \(dl)")
            XCTAssertLessThan(df, 1e-4, "\(name): features differ from PyTorch's by \(df)")
            print("\(name): max |logits − PyTorch| = \(dl), max |features − PyTorch| = \(df)")
        }
    }

    func testNormalisationIsFoundAtTheHeadOfTheGraph() throws {
        let fmnist = try ONNXImport.load(path: Fixture.onnx("fmnist-cnn")).model.manifest
        XCTAssertEqual(fmnist.normalization.mean, [0.2860])
        XCTAssertEqual(fmnist.normalization.std, [0.3530])
        XCTAssertEqual(fmnist.inputShape, [1, 28, 28])
        XCTAssertFalse(try XCTUnwrap(fmnist.graph).nodes.contains { $0.op == .binary(.sub, constant: true, constantFirst: false) },
                       "the Sub of the normalisation leaves the graph")
        let resnet = try ONNXImport.load(path: Fixture.onnx("resnet-8")).model.manifest
        XCTAssertEqual(resnet.normalization.mean, [0.49, 0.48, 0.45])
        XCTAssertEqual(resnet.normalization.std, [0.25, 0.24, 0.26])
        XCTAssertEqual(resnet.inputShape, [3, 16, 16])
        // vgg-mini's graph has no normalisation: without options its pixels enter as they are.
        let vgg = try ONNXImport.load(path: Fixture.onnx("vgg-mini"))
        XCTAssertEqual(vgg.model.manifest.normalization, .identity)
        XCTAssertTrue(vgg.notes.contains { $0.contains("none found") }, "\(vgg.notes)")
    }

    func testResidualAddsAndBatchNormsAreGraphNodes() throws {
        let resnet = try XCTUnwrap(try ONNXImport.load(path: Fixture.onnx("resnet-8")).model.manifest.graph)
        XCTAssertEqual(resnet.nodes.filter { $0.op == .binary(.add, constant: false, constantFirst: false) }.count, 3)
        let vgg = try XCTUnwrap(try ONNXImport.load(path: Fixture.onnx("vgg-mini"), options: Fixture.options("vgg-mini")).model.manifest.graph)
        XCTAssertEqual(vgg.nodes.filter { if case .batchNorm = $0.op { return true } else { return false } }.count, 6)
    }

    func testFeaturesCanBeNamedByTheOwner() throws {
        // The fmnist-cnn fixture's first Gemm feeds a ReLU then the last Gemm: naming the first Gemm's
        // node gives its (pre-ReLU) output as the features.
        let named = try ONNXImport.load(path: Fixture.onnx("fmnist-cnn"), options: ONNXImportOptions(features: "/net/net.7/Gemm"))
        let byDefault = try ONNXImport.load(path: Fixture.onnx("fmnist-cnn"))
        let pixels = try Fixture.expected("fmnist-cnn").pixels
        let a = named.model.forward(pixels: pixels), b = byDefault.model.forward(pixels: pixels)
        XCTAssertEqual(a.logits.plain().scalars, b.logits.plain().scalars)
        XCTAssertEqual(a.features.shape, b.features.shape)
        XCTAssertEqual(a.features.plain().scalars.map { max($0, 0) }, b.features.plain().scalars, "the default features are the ReLU of the named ones")
        XCTAssertNotEqual(a.features.plain().scalars, b.features.plain().scalars)
    }
}
