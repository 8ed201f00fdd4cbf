/// Result of the one-sided paired t-test, H1: mean(first − second) > 0.
public struct PairedTestResult: Sendable, Hashable, Codable {
    /// t = d̄ / (s_d / √n); nil when every difference is equal (s_d = 0).
    public let statistic: Double?
    /// n − 1.
    public let degreesOfFreedom: Double
    /// One-sided p-value P(T ≥ t) under H0: mean difference ≤ 0.
    public let pValue: Double
    /// Mean of the differences.
    public let meanDifference: Double
    /// Number of pairs.
    public let count: Int
}

/// One-sided paired t-test of H0: mean(first − second) ≤ 0 against H1: > 0, on pairs measured on
/// the same unit (e.g. the same image with and without a trigger); matches
/// `scipy.stats.ttest_rel(first, second, alternative="greater")`. When every difference is equal,
/// t is undefined: p = 0 for a positive common difference and 1 otherwise.
///
/// Throws `StatsError.insufficientData` for fewer than two pairs, `StatsError.invalidArgument` for
/// samples of different lengths or non-finite values.
public func pairedTTest(_ first: [Double], _ second: [Double]) throws(StatsError) -> PairedTestResult {
    guard first.count == second.count else {
        throw .invalidArgument("a paired test needs samples of one length (\(first.count) and \(second.count))")
    }
    guard first.count >= 2 else { throw .insufficientData("a paired test needs at least 2 pairs, found \(first.count)") }
    guard first.allSatisfy(\.isFinite), second.allSatisfy(\.isFinite) else { throw .invalidArgument("observations must be finite") }
    let d = zip(first, second).map { $0 - $1 }
    let n = Double(d.count)
    let mean = d.reduce(0, +) / n
    let variance = d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
    guard variance > 0 else {
        return PairedTestResult(statistic: nil, degreesOfFreedom: n - 1, pValue: mean > 0 ? 0 : 1, meanDifference: mean, count: d.count)
    }
    let t = mean / (variance / n).squareRoot()
    return PairedTestResult(statistic: t, degreesOfFreedom: n - 1, pValue: StudentT(degreesOfFreedom: n - 1).survival(t),
                            meanDifference: mean, count: d.count)
}
