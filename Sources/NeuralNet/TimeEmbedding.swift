import Foundation
import TensorEngine

/// The sinusoidal embedding of a diffusion step (the Transformer's position encoding, as DDPM
/// uses it): for i < d/2, frequency fᵢ = 10000^(−i/(d/2)), the row of step t is
/// [sin(t·f₀) … sin(t·f_{d/2−1}), cos(t·f₀) … cos(t·f_{d/2−1})]. Fixed, not trained: a small MLP
/// on top learns what the network needs from it.
public enum TimeEmbedding {
    /// `[N, dimension]` rows for `timesteps` (dimension even, ≥ 2).
    public static func sinusoidal(_ timesteps: [Int], dimension: Int) -> Tensor {
        precondition(dimension >= 2 && dimension % 2 == 0, "a sinusoidal time embedding needs an even dimension ≥ 2, got \(dimension)")
        let half = dimension / 2
        var values = [Float](repeating: 0, count: timesteps.count * dimension)
        for (row, t) in timesteps.enumerated() {
            for i in 0..<half {
                let angle = Double(t) * exp(-log(10_000.0) * Double(i) / Double(half))
                values[row * dimension + i] = Float(sin(angle))
                values[row * dimension + half + i] = Float(cos(angle))
            }
        }
        return Tensor(values, shape: [timesteps.count, dimension])
    }
}
