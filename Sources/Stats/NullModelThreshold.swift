/// A decision threshold for a watermark statistic calibrated on null models (docs/algorithms.md §8b): models
/// that never saw the API, whose statistic (WSR, trigger accuracy, …) is fitted by N(μ, σ).
public struct NullModelThreshold: Sendable, Hashable {
    /// The null models' statistics, as given.
    public let nullStatistics: [Double]
    /// Sample mean μ of the null statistics.
    public let mean: Double
    /// Sample standard deviation σ (n − 1 denominator).
    public let standardDeviation: Double
    /// Target false-claim rate p.
    public let falseClaimRate: Double
    /// z_{1−p}, the standard normal quantile.
    public let z: Double
    /// μ + z_{1−p}·σ; a suspect is claimed when its statistic is strictly above it.
    public let threshold: Double
    /// How many null models would have been (falsely) claimed: statistic > threshold.
    public let empiricalFalseClaims: Int

    /// Number of null models N.
    public var nullCount: Int { nullStatistics.count }

    /// Observed false-claim rate on the null models.
    public var empiricalFalseClaimRate: Double { Double(empiricalFalseClaims) / Double(nullCount) }

    /// Whether `statistic` exceeds the threshold.
    public func claims(_ statistic: Double) -> Bool { statistic > threshold }

    /// P-value of a suspect's statistic under the fitted normal, P(N(μ, σ) ≥ statistic).
    /// With σ = 0 it is 0 above μ and 1 otherwise.
    public func normalPValue(_ statistic: Double) -> Double {
        if standardDeviation == 0 { return statistic > mean ? 0 : 1 }
        return Normal(mean: mean, standardDeviation: standardDeviation).survival(statistic)
    }

    /// Distribution-free p-value (1 + #{null ≥ statistic}) / (N + 1): valid when the suspect
    /// and the null models are exchangeable under H0, never below 1/(N + 1).
    public func empiricalPValue(_ statistic: Double) -> Double {
        let atLeast = nullStatistics.lazy.filter { $0 >= statistic }.count
        return Double(1 + atLeast) / Double(nullCount + 1)
    }
}

/// Fits N(μ, σ) to the statistics of N ≥ 2 null models and returns the threshold
/// μ + z_{1−p}·σ at false-claim rate p, with the observed false-claim count.
///
/// The normal fit extrapolates: with N null models no empirical check can confirm a false-claim
/// rate much below 1/N, so report `empiricalFalseClaims` and the empirical p-value beside it.
public func nullModelThreshold(
    nullStatistics: [Double], falseClaimRate p: Double = 0.05
) throws(StatsError) -> NullModelThreshold {
    guard nullStatistics.count >= 2 else {
        throw .insufficientData("need at least 2 null models, got \(nullStatistics.count)")
    }
    guard nullStatistics.allSatisfy(\.isFinite) else {
        throw .invalidArgument("null statistics must be finite")
    }
    guard p > 0, p < 1 else { throw .invalidArgument("false-claim rate must lie in (0, 1)") }
    let n = Double(nullStatistics.count)
    let mean: Double
    var variance = 0.0
    if let first = nullStatistics.first, nullStatistics.allSatisfy({ $0 == first }) {
        mean = first
    } else {
        mean = nullStatistics.reduce(0, +) / n
        for x in nullStatistics { variance += (x - mean) * (x - mean) }
        variance /= n - 1
    }
    let sd = variance.squareRoot()
    let z = -Normal.standardQuantile(p)
    let threshold = mean + z * sd
    let falseClaims = nullStatistics.lazy.filter { $0 > threshold }.count
    return NullModelThreshold(
        nullStatistics: nullStatistics, mean: mean, standardDeviation: sd, falseClaimRate: p,
        z: z, threshold: threshold, empiricalFalseClaims: falseClaims)
}
