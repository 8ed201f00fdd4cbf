import Diffusion
import TensorEngine

/// Neural Honeytrace in front of a denoiser (the paper's appendix A.1; docs/algorithms.md §12.2): the
/// predicted noise is pulled toward the watermark W inside the mask M in proportion to the query's
/// similarity s to the trigger,
///
///     noise' = (1 − M)·noise + M·[(1 − s·α)·noise + s·α·W],
///
/// and left untouched outside M. Training-free: the model is not changed, only its answers.
public final class NoiseHoneytrace: NoisePredictionAPI {
    public let base: NoisePredictionAPI
    public let watermark: NoiseWatermark
    public let similarity: TriggerPatchSimilarity
    public let schedule: NoiseSchedule
    /// Mixing strength α in [0, 1]: at s = 1 the answer inside M is (1 − α)·noise + α·W.
    public let alpha: Double

    public init(_ base: NoisePredictionAPI, watermark: NoiseWatermark, similarity: TriggerPatchSimilarity,
                schedule: NoiseSchedule, alpha: Double) throws {
        guard alpha >= 0, alpha <= 1 else { throw DiffusionError("the mixing strength α must lie in [0, 1], found \(alpha)") }
        self.base = base; self.watermark = watermark; self.similarity = similarity; self.schedule = schedule; self.alpha = alpha
    }

    public func predictNoise(_ x: Tensor, timesteps: [Int]) throws -> Tensor {
        let noise = try base.predictNoise(x, timesteps: timesteps)
        return mixed(noise, scores: similarity.scores(x, timesteps: timesteps, watermark: watermark, schedule: schedule))
    }

    /// The mixing formula applied to `noise` `[N, C, H, W]` with one s per row.
    public func mixed(_ noise: Tensor, scores: [Double]) -> Tensor {
        let out = noise.copy()
        let size = noise.count / max(1, noise.shape[0])
        let offsets = watermark.maskOffsets(imageShape: Array(noise.shape.dropFirst()))
        for (r, s) in scores.enumerated() {
            let w = Float(s * alpha)
            guard w > 0 else { continue }
            for (k, o) in offsets.enumerated() {
                let i = r * size + o
                out.data[i] = (1 - w) * noise.data[i] + w * watermark.pattern[k % watermark.pattern.count]
            }
        }
        return out
    }
}
