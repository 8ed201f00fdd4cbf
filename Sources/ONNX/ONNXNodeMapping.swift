import NeuralNet

/// Maps ONNX nodes onto graph-model nodes one by one, keeping every value's shape (for a
/// batch of `GraphShapes.batch`) so that each node is checked where it is read.
struct ONNXNodeMapping {
    let file: String
    let constants: [String: ONNXTensor]
    /// The batch size the exporter fixed, if it did (a Reshape to it keeps the batch).
    let exportBatch: Int?
    private(set) var nodes: [GraphSpec.Node] = []
    /// The values of each node's tensors, by `<node>.<tensor>`.
    private(set) var tensors: [String: [Float]] = [:]
    private(set) var shapes: [String: [Int]]
    /// Input values of the linear nodes (Gemm, MatMul), in order: the last is the default features.
    private(set) var linearInputs: [String] = []
    /// The value each ONNX node's name (and output) stands for, for naming the features.
    private(set) var outputOfNode: [String: String] = [:]
    private var usedNames = Set<String>()

    init(file: String, constants: [String: ONNXTensor], input: String, inputShape: [Int], exportBatch: Int?) {
        self.file = file
        self.constants = constants
        self.exportBatch = exportBatch
        shapes = [input: [GraphShapes.batch] + inputShape]
    }

    /// Maps one node, or throws naming it.
    mutating func map(_ node: Onnx_NodeProto) throws {
        func fail(_ kind: ONNXError.Kind, _ text: String) -> ONNXError { ONNXError.node(kind, node, file: file, text) }
        guard let output = node.output.first, !output.isEmpty else { throw fail(.malformed, "the node has no output") }
        guard node.output.dropFirst().allSatisfy(\.isEmpty) else {
            throw fail(.unsupportedAttribute, "only the first output is supported, the node also makes \(node.output.dropFirst().filter { !$0.isEmpty })")
        }
        let op: GraphOp
        var inputs = [String]()
        var tensors: [String: ONNXTensor] = [:]
        func attributes(_ known: Set<String>) throws -> ONNXAttributes { try ONNXAttributes(node, file: file, known: known) }
        func value(_ i: Int) throws -> String {
            guard i < node.input.count, !node.input[i].isEmpty else { throw fail(.malformed, "input \(i) is missing") }
            guard shapes[node.input[i]] != nil else {
                if constants[node.input[i]] != nil { throw fail(.unsupportedAttribute, "input \(i) '\(node.input[i])' is a constant where a computed value is expected") }
                throw fail(.malformed, "input '\(node.input[i])' is not made by any earlier node")
            }
            return node.input[i]
        }
        func constant(_ i: Int, _ what: String) throws -> ONNXTensor {
            guard i < node.input.count, let c = constants[node.input[i]] else {
                throw fail(.unsupportedAttribute, "the \(what) (input \(i)) must be a constant initializer")
            }
            return c
        }
        func expectInputs(_ range: ClosedRange<Int>) throws {
            guard range.contains(node.input.count) else { throw fail(.malformed, "takes \(range) inputs, has \(node.input.count)") }
        }

        switch node.opType {
        case "Conv":
            try expectInputs(2...3)
            let a = try attributes(["kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"])
            let w = try constant(1, "weight")
            guard w.shape.count == 4 else { throw fail(.unsupportedAttribute, "weight of shape \(w.shape); only 2-D convolutions are supported") }
            if let k = try a.ints("kernel_shape"), k != Array(w.shape[2...]) { throw a.unsupported("kernel_shape", "\(k)", "the weight is \(w.shape)") }
            let stride = try Self.square(a, "strides", default: 1)
            let pads = try a.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, Set(pads).count == 1, pads[0] >= 0 else { throw a.unsupported("pads", "\(pads)", "only equal padding on all sides") }
            guard (try a.ints("dilations") ?? [1, 1]).allSatisfy({ $0 == 1 }) else { throw a.unsupported("dilations", "\(try a.ints("dilations")!)") }
            guard try a.int("group", default: 1) == 1 else { throw a.unsupported("group", "\(try a.int("group", default: 1))", "only group 1") }
            let autoPad = try a.string("auto_pad", default: "NOTSET")
            guard autoPad == "NOTSET" || (autoPad == "VALID" && pads[0] == 0) else { throw a.unsupported("auto_pad", autoPad) }
            inputs = [try value(0)]
            tensors["weight"] = w
            if node.input.count == 3, !node.input[2].isEmpty { tensors["bias"] = try constant(2, "bias") }
            op = .conv(stride: stride, padding: pads[0], bias: tensors["bias"] != nil)
        case "Gemm":
            try expectInputs(2...3)
            let a = try attributes(["alpha", "beta", "transA", "transB"])
            guard try a.int("transA", default: 0) == 0 else { throw a.unsupported("transA", "1") }
            let transB = try a.int("transB", default: 0)
            let alpha = try a.float("alpha", default: 1), beta = try a.float("beta", default: 1)
            let b = try constant(1, "weight B")
            guard b.shape.count == 2 else { throw fail(.unsupportedAttribute, "B has shape \(b.shape), expected a matrix") }
            var weight = transB == 1 ? b : Self.transposed(b)
            if alpha != 1 { weight.floats = weight.floats.map { $0 * alpha } }
            inputs = [try value(0)]
            tensors["weight"] = weight
            if node.input.count == 3, !node.input[2].isEmpty {
                var c = try constant(2, "bias C")
                guard c.count == weight.shape[0] || c.count == 1 else { throw fail(.unsupportedAttribute, "C has shape \(c.shape), expected [\(weight.shape[0])]") }
                c = ONNXTensor(shape: [weight.shape[0]], floats: c.count == 1 ? Array(repeating: c.floats[0] * beta, count: weight.shape[0]) : c.floats.map { $0 * beta })
                tensors["bias"] = c
            }
            op = .linear(bias: tensors["bias"] != nil)
            linearInputs.append(inputs[0])
        case "MatMul":
            try expectInputs(2...2)
            _ = try attributes([])
            let b = try constant(1, "right-hand matrix")
            guard b.shape.count == 2 else { throw fail(.unsupportedAttribute, "the right-hand constant has shape \(b.shape), expected a matrix") }
            inputs = [try value(0)]
            tensors["weight"] = Self.transposed(b)
            op = .linear(bias: false)
            linearInputs.append(inputs[0])
        case "Add", "Sub", "Mul", "Div":
            try expectInputs(2...2)
            _ = try attributes([])
            let binary: GraphOp.BinaryOp = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div][node.opType]!
            if let c = constants[node.input[1]] {
                inputs = [try value(0)]
                tensors["constant"] = c
                op = .binary(binary, constant: true, constantFirst: false)
            } else if let c = constants[node.input[0]] {
                inputs = [try value(1)]
                tensors["constant"] = c
                op = .binary(binary, constant: true, constantFirst: true)
            } else {
                inputs = [try value(0), try value(1)]
                op = .binary(binary, constant: false, constantFirst: false)
            }
        case "Relu", "GlobalAveragePool", "Identity":
            try expectInputs(1...1)
            _ = try attributes([])
            inputs = [try value(0)]
            op = Self.attributeFreeUnary[node.opType]!
        case "MaxPool", "AveragePool":
            try expectInputs(1...1)
            let isMax = node.opType == "MaxPool"
            let a = try attributes(isMax ? ["kernel_shape", "strides", "pads", "ceil_mode", "dilations", "auto_pad", "storage_order"]
                                         : ["kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad", "auto_pad", "dilations"])
            let kernel = try Self.square(a, "kernel_shape", default: nil)
            let stride = try Self.square(a, "strides", default: 1)
            let pads = try a.ints("pads") ?? [0, 0, 0, 0]
            guard pads.allSatisfy({ $0 == 0 }) else { throw a.unsupported("pads", "\(pads)", "only unpadded pooling") }
            guard try a.int("ceil_mode", default: 0) == 0 else { throw a.unsupported("ceil_mode", "1") }
            guard (try a.ints("dilations") ?? [1, 1]).allSatisfy({ $0 == 1 }) else { throw a.unsupported("dilations", "\(try a.ints("dilations")!)") }
            let autoPad = try a.string("auto_pad", default: "NOTSET")
            guard autoPad == "NOTSET" || autoPad == "VALID" else { throw a.unsupported("auto_pad", autoPad) }
            inputs = [try value(0)]
            op = isMax ? .maxPool(kernel: kernel, stride: stride) : .avgPool(kernel: kernel, stride: stride)
        case "BatchNormalization":
            try expectInputs(5...5)
            let a = try attributes(["epsilon", "momentum", "training_mode"])
            guard try a.int("training_mode", default: 0) == 0 else { throw a.unsupported("training_mode", "1", "only inference") }
            inputs = [try value(0)]
            for (i, name) in ["weight", "bias", "running_mean", "running_var"].enumerated() { tensors[name] = try constant(i + 1, name) }
            op = .batchNorm(eps: try a.float("epsilon", default: 1e-5), momentum: 1 - (try a.float("momentum", default: 0.9)))
        case "Flatten":
            try expectInputs(1...1)
            let a = try attributes(["axis"])
            let axis = try a.int("axis", default: 1)
            guard axis == 1 else { throw a.unsupported("axis", "\(axis)", "only axis 1 ([N, rest]) keeps the batch") }
            inputs = [try value(0)]
            op = .flatten(axis: 1)
        case "Reshape":
            try expectInputs(2...2)
            let a = try attributes(["allowzero"])
            guard try a.int("allowzero", default: 0) == 0 else { throw a.unsupported("allowzero", "1") }
            let target = try constant(1, "shape")
            guard let t = target.int64s, !t.isEmpty, t.allSatisfy({ $0 >= -1 && $0 < 1 << 30 }) else {
                throw fail(.unsupportedAttribute, "the shape must be a constant list of integers")
            }
            inputs = [try value(0)]
            let inShape = shapes[inputs[0]]!
            guard t[0] == 0 || t[0] == -1 || Int(t[0]) == exportBatch else {
                throw fail(.unsupportedAttribute, "reshape to \(t) fixes the batch size; export with a dynamic batch axis or use Flatten")
            }
            let perSample = t.dropFirst().enumerated().map { i, d -> Int in d == 0 && i + 1 < inShape.count ? inShape[i + 1] : Int(d) }
            // A -1 in front with every other size fixed keeps the batch only when the rest is one sample.
            if t[0] == -1 && perSample.contains(-1) { throw fail(.unsupportedAttribute, "reshape to \(t) leaves two sizes open") }
            op = .reshape(shape: perSample)
        case "Softmax":
            try expectInputs(1...1)
            let a = try attributes(["axis"])
            inputs = [try value(0)]
            let rank = shapes[inputs[0]]!.count
            let axis = try a.int("axis", default: -1)
            guard axis == -1 || axis == rank - 1 else { throw a.unsupported("axis", "\(axis)", "only the last axis") }
            op = .softmax
        case "Dropout":
            try expectInputs(1...3)
            _ = try attributes(["seed"])
            if node.input.count == 3, !node.input[2].isEmpty {
                guard let mode = constants[node.input[2]], mode.floats.allSatisfy({ $0 == 0 }) else {
                    throw fail(.unsupportedAttribute, "training_mode must be a constant false")
                }
            }
            inputs = [try value(0)]
            op = .identity
        default:
            throw fail(.unsupportedOperator, "operator \(node.opType) is not supported")
        }

        let name = uniqueName(node)
        let graphNode = GraphSpec.Node(name: name, op: op, inputs: inputs, output: output,
                                       tensorShapes: tensors.mapValues(\.shape))
        let out: [Int]
        do {
            out = try GraphShapes.output(of: op, inputs: inputs.map { shapes[$0]! }, tensors: graphNode.tensorShapes) { GraphError($0) }
        } catch let error as GraphError {
            throw fail(.unsupportedGraph, error.description)
        }
        guard out.first == GraphShapes.batch, shapes[output] == nil else {
            throw fail(.unsupportedGraph, "its output \(out) does not keep the batch dimension, or its name is reused")
        }
        shapes[output] = out
        nodes.append(graphNode)
        for (t, v) in tensors { self.tensors["\(name).\(t)"] = v.floats }
        outputOfNode[node.name] = output
        outputOfNode[output] = output
    }

    /// A node name for the state dict: the ONNX name without dots or slashes, made unique.
    private mutating func uniqueName(_ node: Onnx_NodeProto) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        var base = String(node.name.map { allowed.contains($0) ? $0 : "_" })
        while base.hasPrefix("_") { base.removeFirst() }
        if base.isEmpty { base = node.opType.lowercased() }
        var name = base, n = 2
        while usedNames.contains(name) { name = "\(base)_\(n)"; n += 1 }
        usedNames.insert(name)
        return name
    }

    /// The one-input operators without attributes, and what each runs.
    static let attributeFreeUnary: [String: GraphOp] = ["Relu": .relu, "GlobalAveragePool": .globalAvgPool, "Identity": .identity]

    /// A square 2-D attribute ([k, k]) as one size.
    static func square(_ a: ONNXAttributes, _ name: String, default value: Int?) throws -> Int {
        guard let v = try a.ints(name) else {
            if let value { return value }
            throw ONNXError.node(.malformed, a.node, file: a.file, "attribute '\(name)' is required")
        }
        guard v.count == 2, v[0] == v[1], v[0] >= 1 else { throw a.unsupported(name, "\(v)", "only square 2-D values") }
        return v[0]
    }

    static func transposed(_ m: ONNXTensor) -> ONNXTensor {
        let (r, c) = (m.shape[0], m.shape[1])
        var out = [Float](repeating: 0, count: m.count)
        for i in 0..<r { for j in 0..<c { out[j * r + i] = m.floats[i * c + j] } }
        return ONNXTensor(shape: [c, r], floats: out)
    }
}
