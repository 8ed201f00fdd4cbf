#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TensorEngine
import Training

/// The output perturbations of docs/algorithms.md §6 (weak reference defenses, and what D-DAE's attacker
/// simulates). Each maps one probability row to the row the API returns; rows are independent.
public enum OutputPerturbation: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The row unchanged.
    case none
    /// Reverse sigmoid (Lee et al.): y' ∝ max(y − β·(σ(γ·logit(y)) − ½), 0), renormalised.
    /// Probabilities near 0 or 1 are pulled toward the middle, which misleads a surrogate's
    /// gradients; the ranking of small probabilities can invert (a row's smallest entry may
    /// come out larger than its second smallest).
    case reverseSigmoid(beta: Float, gamma: Float)
    /// Each probability rounded to `decimals` decimals (half away from zero); the row is
    /// returned as rounded, not renormalised, as a rounding API would.
    case rounding(decimals: Int)
    /// Only the top-1 label, as a one-hot row.
    case top1
    /// y + N(0, std²) per entry, negative values set to 0, renormalised (a row whose every
    /// entry falls to 0 is returned unchanged). Random: draws from the wrapper's generator.
    case gaussianNoise(std: Float)
    /// A top-1-preserving flip: the probabilities of all classes except the argmax are
    /// permuted at random (Fisher–Yates); the argmax and its probability stay.
    case topPreservingShuffle

    /// docs/algorithms.md §6's reverse sigmoid (β = 0.7, γ = 0.4).
    public static let defaultReverseSigmoid = OutputPerturbation.reverseSigmoid(beta: 0.7, gamma: 0.4)
    /// The noise level used when none is given (std 0.05 on probabilities).
    public static let defaultGaussianNoise = OutputPerturbation.gaussianNoise(std: 0.05)

    /// The perturbations D-DAE's attacker trains its recovery model on (docs/algorithms.md §5): reverse
    /// sigmoid, rounding to 1 and 2 decimals, Gaussian noise, top-1-preserving flips, and the
    /// identity (so an unperturbed answer is left as it is).
    public static let dDAEDefaults: [OutputPerturbation] = [
        .none, defaultReverseSigmoid, .rounding(decimals: 1), .rounding(decimals: 2), defaultGaussianNoise,
        .topPreservingShuffle,
    ]

    /// The perturbations a defense column, `honeytrace serve --perturbation` and a configuration
    /// name, each with its settings fixed (docs/algorithms.md §6): reverse sigmoid β 0.7 γ 0.4,
    /// rounding to 1 or 2 decimals, the top-1 label only, Gaussian noise σ 0.05 renormalised.
    public static let named: [(name: String, perturbation: OutputPerturbation)] = [
        ("reverse-sigmoid", defaultReverseSigmoid), ("rounding-1", .rounding(decimals: 1)), ("rounding-2", .rounding(decimals: 2)),
        ("top-1-only", .top1), ("gaussian-noise", defaultGaussianNoise),
    ]

    /// The perturbation called `name` in `named`, or nil.
    public init?(named name: String) {
        guard let match = Self.named.first(where: { $0.name == name }) else { return nil }
        self = match.perturbation
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .reverseSigmoid(let b, let g): return "reverse-sigmoid(β=\(b), γ=\(g))"
        case .rounding(let d): return "rounding(\(d))"
        case .top1: return "top-1"
        case .gaussianNoise(let s): return "gaussian-noise(σ=\(s))"
        case .topPreservingShuffle: return "top-preserving-shuffle"
        }
    }

    /// Whether the perturbation draws random numbers.
    public var isRandom: Bool {
        switch self {
        case .gaussianNoise, .topPreservingShuffle: return true
        default: return false
        }
    }

    /// The answer mode a perturbed probability API ends up with.
    public var answerMode: AnswerMode { self == .top1 ? .label : .probabilities }

    /// The answer mode the perturbation imposes on an API that was not told one (top-1: labels),
    /// or nil when any mode will do.
    public var fixedAnswerMode: AnswerMode? { self == .top1 ? .label : nil }

    /// Throws unless the parameters are in range.
    public func validate() throws {
        switch self {
        case .reverseSigmoid(let b, let g):
            guard b > 0, b.isFinite, g > 0, g.isFinite else {
                throw PredictionError(.invalidConfiguration, "reverse sigmoid needs β > 0 and γ > 0, found β = \(b), γ = \(g)")
            }
        case .rounding(let d):
            guard (0...6).contains(d) else {
                throw PredictionError(.invalidConfiguration, "rounding needs 0…6 decimals, found \(d)")
            }
        case .gaussianNoise(let s):
            guard s >= 0, s.isFinite else {
                throw PredictionError(.invalidConfiguration, "Gaussian noise needs a finite std ≥ 0, found \(s)")
            }
        case .none, .top1, .topPreservingShuffle:
            break
        }
    }

    /// The perturbed copy of one probability row.
    public func apply(_ row: [Float], generator: inout SeededGenerator) -> [Float] {
        switch self {
        case .none:
            return row
        case .reverseSigmoid(let beta, let gamma):
            let b = Double(beta), g = Double(gamma)
            let shifted = row.map { p -> Float in
                let y = Swift.min(Swift.max(Double(p), 1e-12), 1 - 1e-12)
                let r = b * (1 / (1 + exp(-g * log(y / (1 - y)))) - 0.5)
                return Float(Swift.max(Double(p) - r, 0))
            }
            return ProbabilityRow.normalized(shifted)
        case .rounding(let decimals):
            let scale = pow(10, Double(decimals))
            return row.map { Float((Double($0) * scale).rounded(.toNearestOrAwayFromZero) / scale) }
        case .top1:
            return ProbabilityRow.oneHot(row)
        case .gaussianNoise(let std):
            let noisy = row.map { Swift.max($0 + std * generator.nextNormal(), 0) }
            return noisy.reduce(0, +) > 0 ? ProbabilityRow.normalized(noisy) : row
        case .topPreservingShuffle:
            guard row.count > 2 else { return row }
            let top = ProbabilityRow.argmax(row)
            let others = row.indices.filter { $0 != top }
            var values = others.map { row[$0] }
            for i in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(i, generator.nextInt(below: i + 1)) }
            var out = row
            for (j, v) in zip(others, values) { out[j] = v }
            return out
        }
    }
}
