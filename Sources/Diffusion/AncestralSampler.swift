import TensorEngine

/// DDPM's ancestral sampling (Algorithm 2 of Ho et al., σ_t² = β_t): x_{T−1} ~ N(0, I), then for
/// t = T−1 … 0, x_{t−1} = (x_t − β_t/√(1 − ᾱ_t)·ε̂(x_t, t))/√α_t + σ_t·z (no noise at t = 0), clamped to
/// [−1, 1] at the end. Seeded: the same seed gives the same images.
public enum AncestralSampler {
    public static func sample(_ api: NoisePredictionAPI, schedule: NoiseSchedule, count: Int, imageShape: [Int], seed: UInt64,
                              progress: (Int) -> Void = { _ in }) throws -> Tensor {
        guard count >= 1 else { throw DiffusionError("sampling needs at least one image, found \(count)") }
        var g = SeededGenerator(seed: seed)
        var x = Tensor.normal([count] + imageShape, generator: &g)
        for t in stride(from: schedule.steps - 1, through: 0, by: -1) {
            let eps = try api.predictNoise(x, timesteps: Array(repeating: t, count: count))
            let beta = Float(schedule.betas[t]), alpha = 1 - beta
            let c = beta / Float((1 - schedule.alphaBars[t]).squareRoot()), scale = 1 / alpha.squareRoot()
            let sigma = beta.squareRoot()
            let next = Tensor(uninitialized: x.shape)
            for i in 0..<x.count {
                next.data[i] = scale * (x.data[i] - c * eps.data[i]) + (t > 0 ? sigma * g.nextNormal() : 0)
            }
            x = next
            if t % 100 == 0 { progress(schedule.steps - t) }
        }
        return x.clamp(min: -1, max: 1)
    }
}
