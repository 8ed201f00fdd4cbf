/// One engine operation of a graph model, with its attributes. Its tensors (weights,
/// statistics, constants) live in the node's parameters, not here.
public enum GraphOp: Codable, Sendable, Equatable {
    /// 2-D convolution, weight [Cout, Cin, kh, kw] and optional bias [Cout]; square stride, symmetric zero padding.
    case conv(stride: Int, padding: Int, bias: Bool)
    /// Batch normalisation over channels (running statistics in evaluation mode).
    case batchNorm(eps: Float, momentum: Float)
    /// x · weightᵀ + bias on [N, in], weight [out, in].
    case linear(bias: Bool)
    case relu
    case maxPool(kernel: Int, stride: Int)
    case avgPool(kernel: Int, stride: Int)
    /// [N, C, H, W] → [N, C, 1, 1].
    case globalAvgPool
    /// [N, …] → [N, rest] (ONNX Flatten; only axis 1 keeps the batch).
    case flatten(axis: Int)
    /// New shape per sample, excluding the batch dimension; -1 is inferred.
    case reshape(shape: [Int])
    /// Softmax over the last axis.
    case softmax
    case identity
    /// Elementwise arithmetic with broadcasting on two values, or on one value and the node's
    /// `constant` tensor (`constantFirst` puts the constant on the left).
    case binary(BinaryOp, constant: Bool, constantFirst: Bool)

    /// Elementwise arithmetic a graph model runs.
    public enum BinaryOp: String, Codable, Sendable, CaseIterable {
        case add, sub, mul, div
    }

    /// How many value inputs the operation takes.
    public var arity: Int {
        if case .binary(_, let constant, _) = self { return constant ? 1 : 2 }
        return 1
    }

    /// The tensors a node of this operation holds, as (name, is trainable).
    public var tensorNames: [(name: String, trainable: Bool)] {
        switch self {
        case .conv(_, _, let bias), .linear(let bias):
            return [("weight", true)] + (bias ? [("bias", true)] : [])
        case .batchNorm:
            return [("weight", true), ("bias", true), ("running_mean", false), ("running_var", false)]
        case .binary(_, let constant, _):
            return constant ? [("constant", false)] : []
        default:
            return []
        }
    }
}
