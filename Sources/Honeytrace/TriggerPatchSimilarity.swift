import Diffusion
import Foundation
import TensorEngine

/// s for a denoiser query (x_t, t) (docs/algorithms.md §12.2): the posterior probability that the
/// query's corner patch was the white trigger rather than the black background of the owner's
/// images, under DDPM's forward model at step t. With a = √ᾱ_t, σ² = 1 − ᾱ_t and S the sum of x_t
/// over the patch's n pixels, the log-likelihood ratio of "x₀ = +1 there" against "x₀ = −1 there" is
/// LLR = 2a·S/σ², and s = sigmoid(LLR + log(π/(1 − π))) for a prior share π of triggered queries.
///
/// Why this score: it uses only what the API sees, knows how much noise step t hides (a faint patch
/// at a noisy step is weak evidence, the same patch at a clean step strong), and is graded — a
/// noisy corner that happens to look bright earns a small s, which is what lets a thief's copy learn
/// the association from natural queries. π sets how weak evidence counts: with a small π, s stays
/// near 0 wherever the corner is not plainly white, so honest queries pay almost nothing but a
/// thief's natural queries (images with dark corners) almost never see W either; with the default
/// π = ½ (even odds) the noisiest steps, where the corner says little, answer with s near ½, and the
/// copy learns W there, at a cost to honest queries at those steps that the experiment measures.
public struct TriggerPatchSimilarity: Sendable, Equatable, Codable {
    public let prior: Double

    public init(prior: Double = 0.5) {
        precondition(prior > 0 && prior < 1, "the prior share of triggered queries must lie in (0, 1), got \(prior)")
        self.prior = prior
    }

    /// s from the patch's pixel sum at a step with cumulative ᾱ `alphaBar`.
    public func score(patchSum: Double, alphaBar: Double) -> Double {
        let variance = max(1 - alphaBar, 1e-12)
        let llr = 2 * alphaBar.squareRoot() * patchSum / variance + log(prior / (1 - prior))
        return 1 / (1 + exp(-min(max(llr, -700), 700)))
    }

    /// s for every row of a query batch `[N, C, H, W]` at `timesteps`.
    public func scores(_ x: Tensor, timesteps: [Int], watermark: NoiseWatermark, schedule: NoiseSchedule) -> [Double] {
        let size = x.count / max(1, x.shape[0])
        let offsets = watermark.maskOffsets(imageShape: Array(x.shape.dropFirst()))
        return timesteps.enumerated().map { r, t in
            let sum = offsets.reduce(0.0) { $0 + Double(x.data[r * size + $1]) }
            return score(patchSum: sum, alphaBar: schedule.alphaBars[t])
        }
    }
}
