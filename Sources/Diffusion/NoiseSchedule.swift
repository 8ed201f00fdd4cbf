import Foundation
import TensorEngine

/// DDPM's forward process with a linear β schedule (docs/algorithms.md §12.1): for t = 0 … T−1,
/// β_t = β_first + (β_last − β_first)·t/(T−1), α_t = 1 − β_t, ᾱ_t = Π_{s ≤ t} α_s, and a noisy
/// image x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε with ε ~ N(0, I). Images live in [−1, 1].
public struct NoiseSchedule: Sendable, Equatable, Codable {
    public let steps: Int
    public let betaFirst: Double, betaLast: Double
    public let betas: [Double]
    public let alphaBars: [Double]

    /// DDPM's defaults: T = 1000, β from 1e-4 to 0.02.
    public init(steps: Int = 1_000, betaFirst: Double = 1e-4, betaLast: Double = 0.02) throws {
        guard steps >= 2 else { throw DiffusionError("a noise schedule needs at least 2 steps, found \(steps)") }
        guard betaFirst > 0, betaLast >= betaFirst, betaLast < 1 else {
            throw DiffusionError("β must rise within (0, 1): first \(betaFirst), last \(betaLast)")
        }
        self.steps = steps; self.betaFirst = betaFirst; self.betaLast = betaLast
        betas = (0..<steps).map { betaFirst + (betaLast - betaFirst) * Double($0) / Double(steps - 1) }
        var product = 1.0
        alphaBars = betas.map { product *= 1 - $0; return product }
    }

    /// x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε for a batch `[N, …]` with one step per row.
    public func noised(_ x0: Tensor, noise: Tensor, timesteps: [Int]) -> Tensor {
        precondition(x0.shape == noise.shape && x0.shape.first == timesteps.count,
                     "noising needs images and noise of one shape with one step per row: \(x0.shape), \(noise.shape), \(timesteps.count) steps")
        let out = Tensor(uninitialized: x0.shape)
        let row = timesteps.isEmpty ? 0 : x0.count / timesteps.count
        for (r, t) in timesteps.enumerated() {
            let a = Float(alphaBars[t].squareRoot()), b = Float((1 - alphaBars[t]).squareRoot())
            for i in (r * row)..<((r + 1) * row) { out.data[i] = a * x0.data[i] + b * noise.data[i] }
        }
        return out
    }

    /// `count` steps uniform in 0..<T.
    public func randomSteps(_ count: Int, generator: inout SeededGenerator) -> [Int] {
        (0..<count).map { _ in generator.nextInt(below: steps) }
    }
}
