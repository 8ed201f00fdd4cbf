import Foundation
@testable import ONNX
import TensorEngine
import XCTest

/// Other spellings of the same classifier than torch.onnx.export's: a trailing Softmax, MatMul
/// + Add for Gemm, a Constant shape with Reshape for Flatten, Identity, Mul for the
/// normalisation's Div, AveragePool — each imported to the same logits (or onnxruntime's).
final class ONNXGraphVariantsTests: XCTestCase {
    private func fmnist() throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: Fixture.onnx("fmnist-cnn"))))
    }

    private func node(_ op: String, _ inputs: [String], _ output: String, name: String) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.input = inputs
        n.output = [output]
        n.name = name
        return n
    }

    private func logitsOf(_ model: Onnx_ModelProto) throws -> (logits: [Float], notes: [String]) {
        let result = try ONNXImport.model(from: try model.serializedData(), label: "variant.onnx")
        return (logits(result.model, try Fixture.expected("fmnist-cnn").pixels), result.notes)
    }

    func testTrailingSoftmaxIsDropped() throws {
        var model = try fmnist()
        let reference = try logitsOf(model).logits
        model.graph.node.append(node("Softmax", [model.graph.output[0].name], "probabilities", name: "softmax"))
        model.graph.output[0].name = "probabilities"
        let (values, notes) = try logitsOf(model)
        XCTAssertEqual(values, reference)
        XCTAssertTrue(notes.contains { $0.contains("dropped the trailing Softmax 'softmax'") }, "\(notes)")
    }

    func testMatMulAddReshapeIdentityAndMulImportAlike() throws {
        var model = try fmnist()
        let reference = try logitsOf(model).logits
        var nodes = model.graph.node
        // Flatten → Constant shape [0, -1] + Reshape.
        let flatten = try XCTUnwrap(nodes.firstIndex { $0.opType == "Flatten" })
        var shape = Onnx_NodeProto()
        shape.opType = "Constant"
        shape.name = "shape"
        shape.output = ["flat_shape"]
        var value = Onnx_AttributeProto()
        value.name = "value"
        value.type = .tensor
        value.t = ONNXTensor.proto(name: "flat_shape", int64s: [0, -1])
        shape.attribute = [value]
        let flat = nodes[flatten]
        nodes[flatten] = node("Reshape", [flat.input[0], "flat_shape"], flat.output[0], name: "reshape")
        nodes.insert(shape, at: flatten)
        // The last Gemm (transB = 1) → MatMul by Wᵀ, Add of the bias, Identity.
        let gemm = try XCTUnwrap(nodes.lastIndex { $0.opType == "Gemm" })
        let g = nodes[gemm]
        let w = try ONNXTensor(try XCTUnwrap(model.graph.initializer.first { $0.name == g.input[1] })) { ONNXError(.malformed, file: "", $0) }
        model.graph.initializer.append(ONNXTensor.proto(name: "w_t", shape: [w.shape[1], w.shape[0]],
                                                        floats: ONNXNodeMapping.transposed(w).floats))
        nodes[gemm] = node("MatMul", [g.input[0], "w_t"], "product", name: "matmul")
        nodes.insert(contentsOf: [node("Add", ["product", g.input[2]], "sum", name: "add_bias"), node("Identity", ["sum"], g.output[0], name: "same")],
                     at: gemm + 1)
        // The normalisation's Div → Mul by 1/std.
        let div = try XCTUnwrap(nodes.firstIndex { $0.opType == "Div" })
        model.graph.initializer.append(ONNXTensor.proto(name: "inverse_std", shape: [1, 1, 1, 1], floats: [1 / 0.3530]))
        nodes[div] = node("Mul", [nodes[div].input[0], "inverse_std"], nodes[div].output[0], name: "scale")
        model.graph.node = nodes

        let result = try ONNXImport.model(from: try model.serializedData(), label: "variant.onnx")
        XCTAssertEqual(result.model.manifest.normalization.std[0], 0.3530, accuracy: 1e-6)
        XCTAssertTrue(result.notes.contains { $0.contains("input of the last Gemm/MatMul") }, "\(result.notes)")
        let values = logits(result.model, try Fixture.expected("fmnist-cnn").pixels)
        XCTAssertLessThan(maxDifference(values, reference), 1e-5)
    }

    func testAveragePoolMatchesONNXRuntime() throws {
        try ONNXRuntime.require()
        var model = try fmnist()
        for i in model.graph.node.indices where model.graph.node[i].opType == "MaxPool" {
            model.graph.node[i].opType = "AveragePool"
            model.graph.node[i].attribute.removeAll { $0.name == "dilations" }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("average-\(UUID().uuidString).onnx")
        defer { try? FileManager.default.removeItem(at: path) }
        try model.serializedData().write(to: path)
        let imported = try ONNXImport.load(path: path.path).model
        let pixels = try Fixture.expected("fmnist-cnn").pixels
        let theirs = try ONNXRuntime.logits(model: path.path, pixels: pixels, scratch: FileManager.default.temporaryDirectory)
        XCTAssertLessThan(maxDifference(logits(imported, pixels), theirs), 1e-4)
    }
}
