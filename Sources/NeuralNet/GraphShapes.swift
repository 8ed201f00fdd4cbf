import TensorEngine

/// What a graph spec computes for one input shape: every value's shape, checked op by op
/// before anything runs, so that a damaged or hostile spec is refused rather than reaching
/// the engine's preconditions.
public struct GraphShapes: Sendable, Equatable {
    /// Shape of each value for a batch of two images (the batch dimension included).
    public let values: [String: [Int]]
    /// Features per image (the features value flattened).
    public let featureWidth: Int
    public let classes: Int

    /// Most values all node tensors together may hold (1 GiB of floats): checked before any is allocated.
    public static let maxTensorValues = 1 << 28

    /// Batch size the shapes are inferred with; any constant must broadcast along it.
    public static let batch = 2

    /// Infers the shapes for images `[C, H, W]`; throws `GraphError` naming the first node that does not fit.
    public init(_ spec: GraphSpec, inputShape: [Int]) throws {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw GraphError("input shape \(inputShape) is not [C, H, W] of positive sizes")
        }
        var shapes: [String: [Int]] = [spec.input: [Self.batch] + inputShape]
        var names = Set<String>()
        var tensorValues = 0
        for node in spec.nodes {
            func fail(_ problem: String) -> GraphError { GraphError("node '\(node.name)': \(problem)") }
            guard !node.name.isEmpty, !node.name.contains("."), names.insert(node.name).inserted else {
                throw fail("node names must be unique, non-empty and without dots")
            }
            guard shapes[node.output] == nil else { throw fail("value '\(node.output)' is written twice") }
            guard node.inputs.count == node.op.arity else {
                throw fail("takes \(node.op.arity) inputs, has \(node.inputs.count)")
            }
            let inputs = try node.inputs.map { name -> [Int] in
                guard let s = shapes[name] else { throw fail("reads value '\(name)' before it is made") }
                return s
            }
            let expected = Set(node.op.tensorNames.map(\.name))
            guard Set(node.tensorShapes.keys) == expected else {
                throw fail("holds tensors \(node.tensorShapes.keys.sorted()), expected \(expected.sorted())")
            }
            for (name, shape) in node.tensorShapes {
                guard shape.count <= 6, shape.allSatisfy({ (1...Self.maxTensorValues).contains($0) }) else { throw fail("tensor '\(name)' has shape \(shape)") }
                let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
                tensorValues += min(count, Self.maxTensorValues + 1)
                guard tensorValues <= Self.maxTensorValues else { throw fail("the graph's tensors hold more than \(Self.maxTensorValues) values") }
            }
            let out = try Self.output(of: node.op, inputs: inputs, tensors: node.tensorShapes, fail: fail)
            guard out.first == Self.batch, out.allSatisfy({ $0 > 0 }), Tensor.elementCount(out) <= 1 << 28 else {
                throw fail("output shape \(out) does not keep the batch dimension")
            }
            shapes[node.output] = out
        }
        guard let features = shapes[spec.features] else { throw GraphError("features value '\(spec.features)' is never made") }
        guard let logits = shapes[spec.logits] else { throw GraphError("logits value '\(spec.logits)' is never made") }
        guard logits.count == 2, logits[1] >= 2 else { throw GraphError("logits value '\(spec.logits)' has shape \(logits), expected [N, classes ≥ 2]") }
        values = shapes
        featureWidth = features.dropFirst().reduce(1, *)
        classes = logits[1]
    }

    /// The output shape of one operation, or an error from `fail`.
    public static func output(of op: GraphOp, inputs: [[Int]], tensors: [String: [Int]], fail: (String) -> GraphError) throws -> [Int] {
        let x = inputs[0]
        func spatial() throws -> (Int, Int, Int, Int) {
            guard x.count == 4 else { throw fail("needs [N, C, H, W], got \(x)") }
            return (x[0], x[1], x[2], x[3])
        }
        switch op {
        case .conv(let stride, let padding, _):
            let (n, c, h, w) = try spatial()
            let wt = tensors["weight"] ?? []
            guard wt.count == 4, wt[1] == c else { throw fail("weight \(wt) does not fit input \(x)") }
            guard stride >= 1, padding >= 0, padding < 1 << 12 else { throw fail("stride \(stride) / padding \(padding)") }
            if let b = tensors["bias"], b != [wt[0]] { throw fail("bias \(b), expected [\(wt[0])]") }
            let oh = (h + 2 * padding - wt[2]) / stride + 1, ow = (w + 2 * padding - wt[3]) / stride + 1
            guard h + 2 * padding >= wt[2], w + 2 * padding >= wt[3] else { throw fail("kernel \(wt[2])×\(wt[3]) larger than padded input \(x)") }
            return [n, wt[0], oh, ow]
        case .batchNorm(let eps, let momentum):
            guard x.count == 4 || x.count == 2 else { throw fail("needs [N, C, H, W] or [N, C], got \(x)") }
            guard eps >= 0, eps.isFinite, (0...1).contains(momentum) else { throw fail("eps \(eps) / momentum \(momentum)") }
            for (name, s) in tensors where s != [x[1]] { throw fail("\(name) \(s), expected [\(x[1])]") }
            return x
        case .linear:
            let wt = tensors["weight"] ?? []
            guard x.count == 2, wt.count == 2, wt[1] == x[1] else { throw fail("weight \(wt) does not fit input \(x)") }
            if let b = tensors["bias"], b != [wt[0]] { throw fail("bias \(b), expected [\(wt[0])]") }
            return [x[0], wt[0]]
        case .relu, .identity:
            return x
        case .softmax:
            guard x.count >= 2 else { throw fail("needs a batch of rows, got \(x)") }
            return x
        case .maxPool(let k, let s), .avgPool(let k, let s):
            let (n, c, h, w) = try spatial()
            guard k >= 1, s >= 1, h >= k, w >= k else { throw fail("window \(k) stride \(s) does not fit input \(x)") }
            return [n, c, (h - k) / s + 1, (w - k) / s + 1]
        case .globalAvgPool:
            let (n, c, _, _) = try spatial()
            return [n, c, 1, 1]
        case .flatten(let axis):
            guard axis == 1 else { throw fail("flatten axis \(axis): only axis 1 ([N, rest]) keeps the batch") }
            return [x[0], x.dropFirst().reduce(1, *)]
        case .reshape(let shape):
            let count = x.dropFirst().reduce(1, *)
            guard shape.filter({ $0 == -1 }).count <= 1, shape.allSatisfy({ $0 == -1 || $0 > 0 }) else { throw fail("reshape to \(shape)") }
            let known = shape.filter { $0 > 0 }.reduce(1, *)
            guard known > 0, count % known == 0, shape.contains(-1) || known == count else {
                throw fail("cannot reshape \(Array(x.dropFirst())) to \(shape)")
            }
            return [x[0]] + shape.map { $0 == -1 ? count / known : $0 }
        case .binary(_, let constant, _):
            let other = constant ? tensors["constant"] ?? [] : inputs[1]
            guard let out = Tensor.broadcastShape(x, other) else { throw fail("shapes \(x) and \(other) do not broadcast") }
            return out
        }
    }
}
