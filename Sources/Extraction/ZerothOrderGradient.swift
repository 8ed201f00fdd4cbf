import TensorEngine

/// A gradient estimate from function values alone (forward differences along random unit
/// directions), how a data-free attacker differentiates through a victim it can only query
/// (DFME, docs/algorithms.md §5): for each point x of a batch and m directions uᵢ drawn
/// uniformly from the unit sphere of its d dimensions,
///
///     ∇f(x) ≈ (d / m) · Σᵢ (f(x + ε·uᵢ) − f(x)) / ε · uᵢ.
///
/// It costs m + 1 evaluations of f per point; its expectation is the gradient of a smoothed f,
/// and its error shrinks as m grows.
public struct ZerothOrderGradient: Sendable, Equatable {
    /// Directions per point (m).
    public let directions: Int
    /// Step along each direction (ε).
    public let epsilon: Float

    public init(directions: Int, epsilon: Float) {
        precondition(directions >= 1, "a zeroth-order estimate needs ≥ 1 direction")
        precondition(epsilon > 0 && epsilon.isFinite, "the finite-difference step must be positive")
        self.directions = directions
        self.epsilon = epsilon
    }

    /// m unit directions per point for `points` points of `dimension` values, `[points·m, dimension]`
    /// (point p's directions are rows p·m ..< (p + 1)·m): Gaussian draws, each row scaled to length 1.
    public func unitDirections(points: Int, dimension: Int, generator: inout SeededGenerator) -> Tensor {
        Autograd.inference {
            let u = Tensor.normal([points * directions, dimension], generator: &generator)
            let norms = (u * u).sum(axis: 1, keepDims: true).sqrt().clamp(min: 1e-12)
            return u / norms
        }
    }

    /// Where f is evaluated, `[points·(m + 1), dimension]`: for each point of `x` `[points, dimension]`,
    /// its m shifted copies x + ε·uᵢ followed by x itself.
    public func evaluationPoints(_ x: Tensor, directions u: Tensor) -> Tensor {
        let n = x.shape[0], d = x.count / max(n, 1), m = directions
        precondition(u.shape == [n * m, d], "directions \(u.shape) do not fit \(n) points of \(d) values at \(m) each")
        return Autograd.inference {
            let base = x.detached().reshaped([n, 1, d])
            let shifted = base + u.reshaped([n, m, d]) * epsilon
            return Tensor.concat([shifted, base], axis: 1).reshaped([n * (m + 1), d])
        }
    }

    /// The estimate `[points, dimension]` from f's values at `evaluationPoints` (in their order).
    public func estimate(values: [Float], directions u: Tensor) -> Tensor {
        let m = directions, n = values.count / (m + 1), d = u.shape[1]
        precondition(values.count == n * (m + 1) && u.shape[0] == n * m, "\(values.count) values do not fit \(u.shape[0]) directions at \(m) per point")
        var scaled = [Float](repeating: 0, count: n * m)
        let factor = Float(d) / (Float(m) * epsilon)
        for p in 0..<n {
            let at = values[p * (m + 1) + m]
            for i in 0..<m { scaled[p * m + i] = (values[p * (m + 1) + i] - at) * factor }
        }
        return Autograd.inference {
            (u.reshaped([n, m, d]) * Tensor(scaled, shape: [n, m, 1])).sum(axis: 1)
        }
    }

    /// The estimate at each row of `x` `[points, dimension]` of a function `f` that maps a batch
    /// `[k, dimension]` to one value per row; also returns f at the rows themselves.
    public func estimate(at x: Tensor, generator: inout SeededGenerator, _ f: (Tensor) throws -> [Float]) rethrows
        -> (gradient: Tensor, values: [Float]) {
        let n = x.shape[0], d = x.count / max(n, 1)
        let u = unitDirections(points: n, dimension: d, generator: &generator)
        let values = try f(evaluationPoints(x.reshaped([n, d]), directions: u))
        let m = directions
        return (estimate(values: values, directions: u), (0..<n).map { values[$0 * (m + 1) + m] })
    }
}
