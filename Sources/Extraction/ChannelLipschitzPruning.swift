import NeuralNet
import TensorEngine

/// Channel Lipschitzness-based pruning (CLP; Zheng et al., "Data-free backdoor removal based on
/// channel Lipschitzness", ECCV 2022): a thief's data-free attempt to remove a watermark (a
/// backdoor) from its copy. Each convolution's output channel k, with the batch norm after it
/// folded in, is the map x ↦ (γ_k / √(σ²_k + ε)) · W_k ∗ x; the spectral norm of W_k (reshaped to
/// in-channels × kernel positions) times |γ_k| / √(σ²_k + ε) bounds that channel's Lipschitz
/// constant (its UCLC). Backdoor channels stand out with large bounds, so within each layer the
/// channels whose bound exceeds mean + u · std are switched off (batch-norm weight and bias set to
/// 0, or, without a batch norm, the channel's weights and bias).
public enum ChannelLipschitzPruning {
    /// One convolution's channel bounds, with the batch norm folded into them when one follows.
    public struct Layer: Sendable {
        public var convolution: String
        public var batchNorm: String?
        public var bounds: [Double]
    }

    /// What `prune` switched off.
    public struct Outcome: Codable, Sendable, Equatable {
        public var prunedChannels: Int
        public var totalChannels: Int
        /// Pruned channels per convolution, by state-dict name.
        public var perLayer: [String: Int]
    }

    /// Every convolution of `network` in forward order, each paired with the batch norm that
    /// directly follows it over the same channels.
    static func convolutions(of network: Module) -> [(name: String, conv: Conv2d, bn: (name: String, module: BatchNorm2d)?)] {
        var flat: [(String, Module)] = []
        func walk(_ m: Module, _ prefix: String) {
            flat.append((prefix, m))
            for (name, child) in m.children { walk(child, prefix.isEmpty ? name : prefix + "." + name) }
        }
        walk(network, "")
        var out: [(String, Conv2d, (String, BatchNorm2d)?)] = []
        for (i, (name, module)) in flat.enumerated() {
            guard let conv = module as? Conv2d else { continue }
            var bn: (String, BatchNorm2d)?
            if i + 1 < flat.count, let next = flat[i + 1].1 as? BatchNorm2d, next.weight.count == conv.weight.shape[0] {
                bn = (flat[i + 1].0, next)
            }
            out.append((name, conv, bn))
        }
        return out
    }

    /// The largest singular value of the rows × cols matrix `m` (row-major), by power iteration on
    /// mᵀm; exact to float precision for the small kernels of a convolution channel.
    static func spectralNorm(_ m: ArraySlice<Float>, rows: Int, cols: Int, iterations: Int = 100) -> Double {
        let base = m.startIndex
        var gram = [Double](repeating: 0, count: cols * cols)
        for r in 0..<rows {
            for i in 0..<cols {
                let a = Double(m[base + r * cols + i])
                guard a != 0 else { continue }
                for j in 0..<cols { gram[i * cols + j] += a * Double(m[base + r * cols + j]) }
            }
        }
        var v = [Double](repeating: 1 / Double(cols).squareRoot(), count: cols)
        var eigen = 0.0
        for _ in 0..<iterations {
            var w = [Double](repeating: 0, count: cols)
            for i in 0..<cols { for j in 0..<cols { w[i] += gram[i * cols + j] * v[j] } }
            let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return 0 }
            eigen = norm
            v = w.map { $0 / norm }
        }
        return eigen.squareRoot()
    }

    /// Each convolution's per-channel Lipschitz upper bounds (UCLC).
    public static func layers(of network: Module) -> [Layer] {
        convolutions(of: network).map { Layer(convolution: $0.name, batchNorm: $0.bn?.name, bounds: bounds(of: $0.conv, bn: $0.bn?.module)) }
    }

    /// Switches off, in every convolution, the channels whose bound exceeds mean + `u` · std of
    /// its layer's bounds (population std). Changes `network` in place.
    @discardableResult
    public static func prune(_ network: Module, u: Double) -> Outcome {
        var outcome = Outcome(prunedChannels: 0, totalChannels: 0, perLayer: [:])
        for (name, conv, bn) in convolutions(of: network) {
            let bounds = bounds(of: conv, bn: bn?.module)
            let mean = bounds.reduce(0, +) / Double(bounds.count)
            let std = (bounds.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(bounds.count)).squareRoot()
            let threshold = mean + u * std
            let pruned = bounds.indices.filter { bounds[$0] > threshold }
            let perChannel = conv.weight.count / conv.weight.shape[0]
            for k in pruned {
                if let bn = bn?.module {
                    bn.weight.data[k] = 0
                    bn.bias.data[k] = 0
                } else {
                    for i in 0..<perChannel { conv.weight.data[k * perChannel + i] = 0 }
                    if let bias = conv.bias { bias.data[k] = 0 }
                }
            }
            outcome.prunedChannels += pruned.count
            outcome.totalChannels += bounds.count
            outcome.perLayer[name] = pruned.count
        }
        return outcome
    }

    /// The UCLC of each output channel of `conv`, the batch norm `bn` folded in.
    static func bounds(of conv: Conv2d, bn: BatchNorm2d?) -> [Double] {
        let shape = conv.weight.shape
        let perChannel = shape[1] * shape[2] * shape[3]
        let weights = conv.weight.scalars
        return (0..<shape[0]).map { k in
            let norm = spectralNorm(weights[(k * perChannel)..<((k + 1) * perChannel)], rows: shape[1], cols: shape[2] * shape[3])
            guard let bn else { return norm }
            return norm * Double(abs(bn.weight.scalars[k])) / (Double(bn.runningVar.scalars[k]) + Double(bn.eps)).squareRoot()
        }
    }
}
