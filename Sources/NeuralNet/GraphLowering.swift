import TensorEngine

/// A reference-architecture classifier as the equivalent graph network, with copies of its
/// weights and statistics: what ONNX export writes for any model.
extension Classifier {
    /// The graph network this classifier runs for images `[C, H, W]` (a graph model returns its own).
    public func asGraph(inputShape: [Int]) throws -> GraphNetwork {
        if let graph { return graph }
        var lowering = GraphLowering()
        var x = lowering.input
        for (i, layer) in layers.dropLast().enumerated() { x = try lowering.lower(layer, name: String(i), input: x) }
        let features = x
        let logits = try lowering.lower(layers.last!, name: String(layers.count - 1), input: features)
        let network = try GraphNetwork(spec: GraphSpec(input: lowering.input, nodes: lowering.nodes, features: features, logits: logits),
                                       inputShape: inputShape)
        for (key, tensor) in network.stateDict() {
            let source = lowering.tensors[key]!
            tensor.data.update(from: source.data, count: tensor.count)
        }
        return network
    }
}

/// Turns layers into graph nodes named after their state-dict paths (dots become underscores).
struct GraphLowering {
    let input = "input"
    private(set) var nodes: [GraphSpec.Node] = []
    /// The layers' tensors by `<node>.<tensor>`.
    private(set) var tensors: [String: Tensor] = [:]

    /// Adds the nodes of `layer` reading `input`; returns the value it writes.
    mutating func lower(_ layer: Module, name: String, input: String) throws -> String {
        let node = name.replacingOccurrences(of: ".", with: "_")
        func add(_ op: GraphOp, _ inputs: [String], _ values: [String: Tensor] = [:]) -> String {
            for (t, v) in values { tensors["\(node).\(t)"] = v.plain() }
            nodes.append(GraphSpec.Node(name: node, op: op, inputs: inputs, output: node, tensorShapes: values.mapValues(\.shape)))
            return node
        }
        switch layer {
        case let conv as Conv2d:
            var values = ["weight": conv.weight]
            if let b = conv.bias { values["bias"] = b }
            return add(.conv(stride: conv.stride, padding: conv.padding, bias: conv.bias != nil), [input], values)
        case let bn as BatchNorm2d:
            return add(.batchNorm(eps: bn.eps, momentum: bn.momentum), [input],
                       ["weight": bn.weight, "bias": bn.bias, "running_mean": bn.runningMean, "running_var": bn.runningVar])
        case let linear as Linear:
            var values = ["weight": linear.weight]
            if let b = linear.bias { values["bias"] = b }
            return add(.linear(bias: linear.bias != nil), [input], values)
        case is ReLU:
            return add(.relu, [input])
        case let pool as MaxPool2d:
            return add(.maxPool(kernel: pool.kernel, stride: pool.stride), [input])
        case let pool as AvgPool2d:
            return add(.avgPool(kernel: pool.kernel, stride: pool.stride), [input])
        case is GlobalAvgPool:
            return add(.globalAvgPool, [input])
        case is Flatten:
            return add(.flatten(axis: 1), [input])
        case is Dropout:
            return add(.identity, [input])
        case let sequential as Sequential:
            var x = input
            for (i, l) in sequential.layers.enumerated() { x = try lower(l, name: "\(name).\(i)", input: x) }
            return x
        case let block as BasicBlock:
            var y = try lower(block.c1, name: "\(name).c1", input: input)
            y = try lower(block.b1, name: "\(name).b1", input: y)
            y = try lower(ReLU(), name: "\(name).relu1", input: y)
            y = try lower(block.c2, name: "\(name).c2", input: y)
            y = try lower(block.b2, name: "\(name).b2", input: y)
            let shortcut = try block.short.map { try lower($0, name: "\(name).short", input: input) } ?? input
            let sum = residualAdd(name: "\(name).add", inputs: [y, shortcut])
            return try lower(ReLU(), name: "\(name).relu2", input: sum)
        default:
            throw GraphError("layer \(name) (\(type(of: layer))) has no graph equivalent")
        }
    }

    /// A node that adds two values (the residual sum).
    private mutating func residualAdd(name: String, inputs: [String]) -> String {
        let node = name.replacingOccurrences(of: ".", with: "_")
        nodes.append(GraphSpec.Node(name: node, op: .binary(.add, constant: false, constantFirst: false), inputs: inputs, output: node))
        return node
    }
}
