import Datasets

/// Input normalisation at the head of a graph: `(x - mean) / std` as Sub then Div (or Mul by
/// 1/std) by constants, either step alone allowed, with one value or one per channel.
struct ONNXNormalizationHead {
    let normalization: Normalization
    /// Indices into the reader's nodes of the Sub/Div/Mul nodes that make it.
    let nodeIndices: [Int]
    /// The value the rest of the graph reads instead of the input.
    let output: String

    /// Finds the normalisation that the only consumers of `reader.inputName` apply, or nil.
    init?(_ reader: ONNXGraphReader, channels: Int) {
        var value = reader.inputName
        var mean: [Float]? = nil, std: [Float]? = nil
        var indices: [Int] = []
        while indices.count < 2 {
            let users = reader.nodes.indices.filter { reader.nodes[$0].input.contains(value) }
            guard users.count == 1, value != reader.outputName else { break }
            let node = reader.nodes[users[0]]
            guard node.input.count == 2, node.input[0] == value, node.output.count == 1, node.attribute.isEmpty,
                  let c = reader.constants[node.input[1]], let perChannel = Self.perChannel(c, channels: channels) else { break }
            switch node.opType {
            case "Sub" where mean == nil && std == nil: mean = perChannel
            case "Div" where std == nil: std = perChannel
            case "Mul" where std == nil && perChannel.allSatisfy({ $0 != 0 }): std = perChannel.map { 1 / $0 }
            default: break
            }
            guard indices.count < [mean, std].compactMap({ $0 }).count else { break }
            indices.append(users[0])
            value = node.output[0]
        }
        guard !indices.isEmpty else { return nil }
        let m = mean ?? [0], s = std ?? [1]
        let width = max(m.count, s.count)
        let fullMean = m.count == width ? m : Array(repeating: m[0], count: width)
        let fullStd = s.count == width ? s : Array(repeating: s[0], count: width)
        guard let n = try? Normalization.validated(mean: fullMean, std: fullStd) else { return nil }
        normalization = n
        nodeIndices = indices
        output = value
    }

    /// One value, or one per channel laid out along the channel axis of [N, C, H, W] ([C,1,1] or [1,C,1,1]).
    static func perChannel(_ t: ONNXTensor, channels: Int) -> [Float]? {
        if t.count == 1 { return t.floats }
        guard t.count == channels else { return nil }
        let dims = t.shape.filter { $0 != 1 }
        guard dims == [channels], t.shape.count <= 4 else { return nil }
        let axis = t.shape.count - (t.shape.lastIndex(of: channels) ?? 0)
        // Counted from the right, the channel axis is the third; a [C] constant would broadcast along the width.
        return (t.shape.count >= 3 && axis == 3) ? t.floats : nil
    }
}
