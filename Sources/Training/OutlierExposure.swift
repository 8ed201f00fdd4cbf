import TensorEngine

/// Outlier exposure: each training batch also carries synthetic outliers, and the loss adds
/// `weight` × cross-entropy from their predictions to the uniform distribution. The outliers
/// never come from an attacker's pool (docs/algorithms.md §11): half are uniform noise, half are the batch's
/// own images with their pixels permuted (same pixel statistics, no object).
public struct OutlierExposure: Codable, Sendable, Equatable {
    /// λ, the weight of the uniform-target term.
    public var weight: Float
    /// Outliers per batch as a fraction of the batch size.
    public var fraction: Float

    public init(weight: Float = 1, fraction: Float = 0.5) {
        self.weight = weight
        self.fraction = fraction
    }

    public func validate() throws {
        guard weight > 0, weight.isFinite else { throw TrainingError("outlier exposure weight must be positive, found \(weight)") }
        guard fraction > 0, fraction <= 4 else { throw TrainingError("outlier fraction must lie in (0, 4], found \(fraction)") }
    }

    /// Outliers for one normalised batch `[B, C, H, W]`: uniform noise in [0, 1] mapped through the
    /// per-channel affine normalisation (`mean`, `std` per channel), and pixel-permuted copies.
    public func outliers(for batch: Tensor, mean: [Float], std: [Float], seed: UInt64) -> Tensor {
        let b = batch.shape[0], c = batch.shape[1], plane = batch.shape[2] * batch.shape[3], size = c * plane
        let count = max(2, Int((Float(b) * fraction).rounded()))
        var g = SeededGenerator(seed: seed)
        let out = Tensor(uninitialized: [count, c, batch.shape[2], batch.shape[3]])
        let src = (batch.layout == .plain ? batch : Autograd.inference { batch.plain() }).data
        let dst = out.data
        var permutation = Array(0..<plane)
        for i in 0..<count {
            if i % 2 == 0 {
                for ch in 0..<c {
                    let m = mean.count == 1 ? mean[0] : mean[ch], s = std.count == 1 ? std[0] : std[ch]
                    for p in 0..<plane { dst[i * size + ch * plane + p] = (g.nextFloat() - m) / s }
                }
            } else {
                let source = g.nextInt(below: b)
                for p in stride(from: plane - 1, to: 0, by: -1) { permutation.swapAt(p, g.nextInt(below: p + 1)) }
                for ch in 0..<c {
                    for p in 0..<plane { dst[i * size + ch * plane + p] = src[source * size + ch * plane + permutation[p]] }
                }
            }
        }
        return out
    }
}
