import TensorEngine

/// A network that runs a `GraphSpec`: the "graph" architecture, for models imported from
/// other frameworks. Each node with tensors is a child module named after the node, so the
/// state dict holds `<node>.weight`, `<node>.running_mean`, ….
public final class GraphNetwork: Module, @unchecked Sendable {
    public let spec: GraphSpec
    public let shapes: GraphShapes
    /// The tensors of each node that has any, by node name.
    public let nodeTensors: [String: GraphNodeTensors]

    /// A network with zero-filled tensors of the spec's shapes; the spec must fit `inputShape`.
    public init(spec: GraphSpec, inputShape: [Int]) throws {
        self.spec = spec
        shapes = try GraphShapes(spec, inputShape: inputShape)
        var tensors: [String: GraphNodeTensors] = [:]
        for node in spec.nodes where !node.op.tensorNames.isEmpty {
            tensors[node.name] = GraphNodeTensors(op: node.op, shapes: node.tensorShapes)
        }
        nodeTensors = tensors
        foldingCaches = Dictionary(uniqueKeysWithValues: spec.nodes.compactMap { node in
            if case .conv = node.op { return (node.name, FoldedConvolutionCache()) } else { return nil }
        })
        super.init()
    }

    /// Folded inference weights of each convolution node, kept between calls.
    private let foldingCaches: [String: FoldedConvolutionCache]

    public override var children: [(String, Module)] {
        spec.nodes.compactMap { node in nodeTensors[node.name].map { (node.name, $0) } }
    }

    /// Logits and penultimate features ([N, F]) of normalised images. When nothing records, a
    /// convolution followed by its batch norm (evaluation mode) and ReLU runs as one folded oneDNN
    /// convolution, as the reference architectures do; the values are the same within float rounding.
    public func run(_ x: Tensor) -> (logits: Tensor, features: Tensor) {
        var values: [String: Tensor] = [spec.input: x]
        var remainingUses: [String: Int] = [:]
        for node in spec.nodes { for i in node.inputs { remainingUses[i, default: 0] += 1 } }
        var i = 0
        while i < spec.nodes.count {
            let fused = Autograd.isRecording ? 1 : foldedRun(at: i)
            let last = spec.nodes[i + fused - 1]
            values[last.output] = fused > 1 ? fold(spec.nodes[i..<(i + fused)], values[spec.nodes[i].inputs[0]]!)
                                            : apply(spec.nodes[i], spec.nodes[i].inputs.map { values[$0]! })
            // Drop values no later node reads, unless they are outputs.
            for node in spec.nodes[i..<(i + fused)] {
                for input in node.inputs {
                    remainingUses[input]! -= 1
                    if remainingUses[input] == 0 && input != spec.features && input != spec.logits { values[input] = nil }
                }
            }
            i += fused
        }
        let features = values[spec.features]!.plain()
        return (values[spec.logits]!.plain(), features.reshaped([features.shape[0], -1]))
    }

    /// How many nodes from `index` run as one folded convolution: a convolution, then optionally
    /// a batch norm in evaluation mode, then optionally a ReLU, each reading only the one before,
    /// whose output nothing else reads; 1 when there is nothing to fold.
    private func foldedRun(at index: Int) -> Int {
        guard case .conv = spec.nodes[index].op, nodeTensors[spec.nodes[index].name]?.isTraining == false else { return 1 }
        var count = 1
        func follows(_ next: Int) -> Bool {
            guard next < spec.nodes.count else { return false }
            let out = spec.nodes[next - 1].output
            return spec.nodes[next].inputs == [out] && out != spec.features && out != spec.logits
                && spec.nodes.filter { $0.inputs.contains(out) }.count == 1
        }
        if follows(index + count), case .batchNorm = spec.nodes[index + count].op,
           nodeTensors[spec.nodes[index + count].name]?.isTraining == false { count += 1 }
        if follows(index + count), spec.nodes[index + count].op == .relu { count += 1 }
        return count
    }

    /// Runs a folded convolution (`foldedRun`) on `x`.
    private func fold(_ nodes: ArraySlice<GraphSpec.Node>, _ x: Tensor) -> Tensor {
        let conv = nodes.first!
        guard case .conv(let stride, let padding, _) = conv.op else { preconditionFailure("a folded run starts with a convolution") }
        let t = nodeTensors[conv.name]!
        var batchNorm: FoldedBatchNorm? = nil
        if let bnNode = nodes.dropFirst().first, case .batchNorm(let eps, _) = bnNode.op, let bn = nodeTensors[bnNode.name] {
            batchNorm = FoldedBatchNorm(weight: bn["weight"]!, bias: bn["bias"]!, runningMean: bn["running_mean"]!,
                                        runningVar: bn["running_var"]!, eps: eps)
        }
        return Tensor.foldedConv2d(x, weight: t["weight"]!, bias: t["bias"], stride: stride, padding: padding, batchNorm: batchNorm,
                                   residual: nil, relu: nodes.last!.op == .relu, cache: foldingCaches[conv.name]!)
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor { run(x).logits }

    /// One node's operation on its input values.
    func apply(_ node: GraphSpec.Node, _ inputs: [Tensor]) -> Tensor {
        let x = inputs[0]
        let t = nodeTensors[node.name]
        switch node.op {
        case .conv(let stride, let padding, _):
            return Tensor.conv2d(x, weight: t!["weight"]!, bias: t!["bias"], stride: stride, padding: padding)
        case .batchNorm(let eps, let momentum):
            // The node's own mode: a graph Classifier's train()/eval() reaches the node tensors, its children.
            return t!.batchNorm(x, eps: eps, momentum: momentum, training: t!.isTraining)
        case .linear:
            return Tensor.linear(x, weight: t!["weight"]!, bias: t!["bias"])
        case .relu:
            return x.relu()
        case .maxPool(let k, let s):
            return x.maxPool2d(kernel: k, stride: s)
        case .avgPool(let k, let s):
            return x.avgPool2d(kernel: k, stride: s)
        case .globalAvgPool:
            return x.globalAvgPool().reshaped([x.shape[0], x.shape[1], 1, 1])
        case .flatten:
            return x.flattened()
        case .reshape(let shape):
            return x.reshaped([x.shape[0]] + shape)
        case .softmax:
            return x.softmax()
        case .identity:
            return x
        case .binary(let op, let constant, let constantFirst):
            var (a, b) = constant ? (x, t!["constant"]!) : (x, inputs[1])
            if constantFirst { swap(&a, &b) }
            switch op {
            case .add: return a + b
            case .sub: return a - b
            case .mul: return a * b
            case .div: return a / b
            }
        }
    }
}

/// The tensors of one graph node: trainable ones as parameters, the rest (running statistics,
/// constants) as buffers, in the order `GraphOp.tensorNames` gives.
public final class GraphNodeTensors: Module, @unchecked Sendable {
    public let tensors: [(name: String, tensor: Tensor, trainable: Bool)]

    init(op: GraphOp, shapes: [String: [Int]]) {
        tensors = op.tensorNames.map { name, trainable in
            (name, name == "running_var" ? Tensor.ones(shapes[name]!) : Tensor.zeros(shapes[name]!, requiresGrad: trainable), trainable)
        }
        super.init()
    }

    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

    /// Batch normalisation with this node's weight, bias and running statistics.
    func batchNorm(_ x: Tensor, eps: Float, momentum: Float, training: Bool) -> Tensor {
        Tensor.batchNorm(x, weight: self["weight"]!, bias: self["bias"]!, runningMean: self["running_mean"]!,
                         runningVar: self["running_var"]!, training: training, momentum: momentum, eps: eps)
    }

    public override var ownParameters: [(String, Tensor)] { tensors.filter(\.trainable).map { ($0.name, $0.tensor) } }
    public override var ownBuffers: [(String, Tensor)] { tensors.filter { !$0.trainable }.map { ($0.name, $0.tensor) } }
}
