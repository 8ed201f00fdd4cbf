#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

/// A confidence interval for a proportion.
public struct ConfidenceInterval: Sendable, Hashable {
    /// Lower end.
    public let lower: Double
    /// Upper end.
    public let upper: Double
    /// Nominal coverage, e.g. 0.95.
    public let confidence: Double
}

/// Exact (Clopper–Pearson) two-sided interval for a binomial proportion: the ends are the
/// α/2 and 1 − α/2 quantiles of Beta(k, n − k + 1) and Beta(k + 1, n − k), α = 1 − confidence
/// (0 when k = 0, 1 when k = n). Coverage is at least `confidence` for every true p.
public func clopperPearsonInterval(
    successes k: Int, trials n: Int, confidence: Double = 0.95
) -> ConfidenceInterval {
    precondition(n >= 0 && k >= 0 && k <= n, "need 0 ≤ successes ≤ trials")
    precondition(confidence > 0 && confidence < 1, "confidence must lie in (0, 1)")
    let halfAlpha = (1 - confidence) / 2
    let lower = k == 0 ? 0 : inverseRegularizedIncompleteBeta(
        a: Double(k), b: Double(n - k + 1), p: halfAlpha)
    let upper = k == n ? 1 : inverseRegularizedIncompleteBetaComplement(
        a: Double(k + 1), b: Double(n - k), q: halfAlpha)
    return ConfidenceInterval(lower: lower, upper: upper, confidence: confidence)
}

/// One-sided exact lower confidence bound for a binomial proportion: the (1 − confidence)
/// quantile of Beta(k, n − k + 1); P(p ≥ bound) ≥ confidence. With k = n this is
/// (1 − confidence)^(1/n) (PROWN's per-trigger guarantee, docs/algorithms.md §8.4, uses the two-sided α/2).
public func clopperPearsonLowerBound(
    successes k: Int, trials n: Int, confidence: Double = 0.95
) -> Double {
    precondition(n >= 0 && k >= 0 && k <= n, "need 0 ≤ successes ≤ trials")
    precondition(confidence > 0 && confidence < 1, "confidence must lie in (0, 1)")
    if k == 0 { return 0 }
    return inverseRegularizedIncompleteBeta(a: Double(k), b: Double(n - k + 1), p: 1 - confidence)
}

/// One-sided exact upper confidence bound for a binomial proportion: the `confidence` quantile
/// of Beta(k + 1, n − k). A conservative null rate estimated from reference models, for example.
public func clopperPearsonUpperBound(
    successes k: Int, trials n: Int, confidence: Double = 0.95
) -> Double {
    precondition(n >= 0 && k >= 0 && k <= n, "need 0 ≤ successes ≤ trials")
    precondition(confidence > 0 && confidence < 1, "confidence must lie in (0, 1)")
    if k == n { return 1 }
    return inverseRegularizedIncompleteBetaComplement(
        a: Double(k + 1), b: Double(n - k), q: 1 - confidence)
}
