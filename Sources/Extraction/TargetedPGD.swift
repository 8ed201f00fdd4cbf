import Datasets
import NeuralNet
import TensorEngine
import Training

/// Targeted L∞ projected gradient descent against a surrogate, on raw [0, 1] pixels: JBDA-TR's
/// way of making new queries (docs/algorithms.md §5: ε = 0.1, T = 8 steps of 1.85·ε/T, a fresh random target
/// class at every step, clipped to the valid pixel range).
///
/// The surrogate sees normalised input; the normalisation is built from engine operations so
/// the gradient reaches the raw pixels: ∂loss/∂x = ∂loss/∂x̂ / std per channel.
public struct TargetedPGD: Codable, Sendable, Equatable {
    /// L∞ radius around the starting image.
    public var epsilon: Float
    /// Number of steps T.
    public var steps: Int
    /// Step size as a multiple of ε/T (1.85 in the reference).
    public var stepScale: Float

    public init(epsilon: Float = 0.1, steps: Int = 8, stepScale: Float = 1.85) {
        self.epsilon = epsilon
        self.steps = steps
        self.stepScale = stepScale
    }

    /// The step size 1.85·ε/T.
    public var stepSize: Float { stepScale * epsilon / Float(max(steps, 1)) }

    public func validate() throws {
        guard epsilon > 0, epsilon.isFinite else { throw ExtractionError(.invalidConfiguration, "PGD ε must be positive, found \(epsilon)") }
        guard steps >= 1 else { throw ExtractionError(.invalidConfiguration, "PGD needs at least 1 step, found \(steps)") }
        guard stepScale > 0, stepScale.isFinite else { throw ExtractionError(.invalidConfiguration, "PGD step scale must be positive, found \(stepScale)") }
    }

    /// Where each step's target classes come from.
    public enum Targets {
        /// The same target for every step, one per image.
        case fixed([Int])
        /// JBDA-TR: at every step, per image, a class drawn uniformly from all classes except
        /// the surrogate's prediction for the starting image.
        case freshRandom
    }

    /// The perturbed copies of raw images `x0` `[N, C, H, W]`: x ← clip(x − step·sign(∇ₓ CE(F(x), t)),
    /// x0 ± ε, [0, 1]) for T steps. The surrogate is left in evaluation mode; its parameters'
    /// gradients are neither computed nor touched.
    public func perturb(_ x0: Tensor, surrogate: Classifier, normalization: Normalization, targets: Targets,
                        generator: inout SeededGenerator) -> Tensor {
        precondition(x0.rank == 4, "PGD needs [N, C, H, W] images, shape is \(x0.shape)")
        let n = x0.shape[0], c = x0.shape[1], k = surrogate.classes
        precondition(normalization.fits(channels: c), "normalisation does not fit \(c)-channel images")
        if n == 0 { return x0.copy() }
        let start = Autograd.inference { x0.layout == .plain ? x0.copy() : x0.plain() }
        let (scale, shift) = normalization.affine(channels: c)

        surrogate.eval()
        let parameters = surrogate.parameters
        let saved = parameters.map(\.requiresGrad)
        for p in parameters { p.requiresGrad = false }
        defer { for (p, r) in zip(parameters, saved) { p.requiresGrad = r } }

        var fixed: [Int] = []
        var original: [Int] = []
        switch targets {
        case .fixed(let t):
            precondition(t.count == n && t.allSatisfy { (0..<k).contains($0) }, "PGD needs one target in 0..<\(k) per image")
            fixed = t
        case .freshRandom:
            precondition(k >= 2, "random targets need at least 2 classes")
            original = Autograd.inference { surrogate(start * scale + shift).argmax(axis: 1) }
        }

        let x = start.copy()
        let xs = x.data, x0s = start.data
        let eps = epsilon, alpha = stepSize
        for _ in 0..<steps {
            let stepTargets: [Int]
            if fixed.isEmpty {
                stepTargets = original.map { o in
                    let r = generator.nextInt(below: k - 1)
                    return r >= o ? r + 1 : r
                }
            } else {
                stepTargets = fixed
            }
            let input = Tensor(shape: x.shape, storage: x.storage, requiresGrad: true)
            let loss = Autograd.recordingGraph { Tensor.crossEntropy(surrogate(input * scale + shift), labels: stepTargets) }
            loss.backward()
            guard let grad = input.grad else { break }
            let g = grad.layout == .plain ? grad : Autograd.inference { grad.plain() }
            let gs = g.data
            for i in 0..<x.count {
                let d: Float = gs[i] > 0 ? 1 : (gs[i] < 0 ? -1 : 0)
                let v = xs[i] - alpha * d
                let lo = Swift.max(x0s[i] - eps, 0), hi = Swift.min(x0s[i] + eps, 1)
                xs[i] = Swift.min(Swift.max(v, lo), hi)
            }
        }
        return x
    }
}
