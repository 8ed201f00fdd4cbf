import Foundation

/// The parts of an ONNX model an image classifier import needs, read and checked: the
/// default-domain opset, the one image input, the constants (initializers and Constant
/// nodes), the other nodes in order, and the output.
struct ONNXGraphReader {
    /// Opsets whose operators the importer maps (torch.onnx.export's 13–17 and the next ones,
    /// whose definitions of the supported operators are the same).
    static let opsets: ClosedRange<Int64> = 13...21

    let file: String
    let opset: Int64
    let inputName: String
    /// `[C, H, W]` when the graph fixes them, and the batch size when the graph fixes it.
    let inputShape: [Int]?
    let inputBatch: Int?
    var constants: [String: ONNXTensor]
    /// Every node but Constant ones.
    let nodes: [Onnx_NodeProto]
    let outputName: String
    /// The model's metadata properties.
    let metadata: [String: String]

    init(data: Data, file: String) throws {
        self.file = file
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw ONNXError(.malformed, file: file, "not an ONNX model (protobuf decoding failed: \(error))")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw ONNXError(.malformed, file: file, "not an ONNX model: it holds no graph nodes")
        }
        let defaultDomain = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard let version = defaultDomain.first?.version else {
            throw ONNXError(.malformed, file: file, "the model imports no version of the default ONNX operator set")
        }
        guard Self.opsets.contains(version) else {
            throw ONNXError(.unsupportedGraph, file: file, "opset \(version) is not supported; export with opset_version \(Self.opsets.lowerBound)…\(Self.opsets.upperBound)")
        }
        opset = version
        metadata = Dictionary(model.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let graph = model.graph
        func problem(_ text: String) -> ONNXError { ONNXError(.malformed, file: file, text) }

        var constants: [String: ONNXTensor] = [:]
        for t in graph.initializer { constants[t.name] = try ONNXTensor(t, problem: problem) }
        guard graph.sparseInitializer.isEmpty else {
            throw ONNXError(.unsupportedGraph, file: file, "sparse initializers are not supported")
        }
        var nodes: [Onnx_NodeProto] = []
        for node in graph.node {
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw ONNXError.node(.unsupportedOperator, node, file: file, "operator domain '\(node.domain)' is not supported")
            }
            if node.opType == "Constant" {
                guard node.output.count == 1 else { throw ONNXError.node(.malformed, node, file: file, "a Constant has one output") }
                constants[node.output[0]] = try Self.constantValue(node, file: file)
            } else {
                nodes.append(node)
            }
        }
        self.constants = constants
        self.nodes = nodes

        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first else {
            throw ONNXError(.unsupportedGraph, file: file, "the graph has \(inputs.count) inputs (\(inputs.map(\.name).joined(separator: ", "))); an image classifier takes one batch of images")
        }
        inputName = input.name
        if case .tensorType(let t)? = input.type.value, t.hasShape {
            guard t.elemType == 1 else {
                throw ONNXError(.unsupportedGraph, file: file, "input '\(input.name)' has element type \(t.elemType); FLOAT images are expected")
            }
            let dims = t.shape.dim
            guard dims.count == 4 else {
                throw ONNXError(.unsupportedGraph, file: file, "input '\(input.name)' has \(dims.count) dimensions; images [N, C, H, W] are expected")
            }
            let fixed = dims.dropFirst().compactMap { d -> Int? in
                if case .dimValue(let v)? = d.value, v > 0, v < 1 << 20 { return Int(v) }
                return nil
            }
            inputShape = fixed.count == 3 ? fixed : nil
            if case .dimValue(let v)? = dims[0].value, v > 0, v < 1 << 20 { inputBatch = Int(v) } else { inputBatch = nil }
        } else {
            inputShape = nil
            inputBatch = nil
        }
        guard let output = graph.output.first else { throw ONNXError(.malformed, file: file, "the graph has no output") }
        outputName = output.name
    }

    /// The value of a Constant node.
    static func constantValue(_ node: Onnx_NodeProto, file: String) throws -> ONNXTensor {
        let a = try ONNXAttributes(node, file: file, known: ["value", "value_float", "value_floats", "value_int", "value_ints"])
        if let t = try a.tensor("value") {
            return try ONNXTensor(t) { ONNXError.node(.malformed, node, file: file, $0) }
        }
        if a.has("value_float") { return ONNXTensor(shape: [], floats: [try a.float("value_float", default: 0)]) }
        if a.has("value_int") {
            var t = ONNXTensor(shape: [], floats: [Float(try a.int("value_int", default: 0))])
            t.int64s = [Int64(try a.int("value_int", default: 0))]
            return t
        }
        if let ints = try a.ints("value_ints") {
            var t = ONNXTensor(shape: [ints.count], floats: ints.map { Float($0) })
            t.int64s = ints.map { Int64($0) }
            return t
        }
        if let floats = node.attribute.first(where: { $0.name == "value_floats" })?.floats {
            return ONNXTensor(shape: [floats.count], floats: floats)
        }
        throw ONNXError.node(.unsupportedAttribute, node, file: file, "a Constant needs attribute 'value', 'value_float(s)' or 'value_int(s)'")
    }
}
