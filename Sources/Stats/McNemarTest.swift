#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

/// Result of the exact one-sided McNemar test on paired trigger/control queries.
public struct McNemarTestResult: Sendable, Hashable {
    /// Discordant pairs where only the trigger was answered with the target class (b).
    public let triggerOnly: Int
    /// Discordant pairs where only the control was answered with the target class (c).
    public let controlOnly: Int
    /// b + c.
    public var discordant: Int { triggerOnly + controlOnly }
    /// P(Binomial(b + c, ½) ≥ b); 1 when there are no discordant pairs.
    public let pValue: Double
    /// Natural log of the p-value.
    public let logPValue: Double
}

/// Exact one-sided McNemar test (docs/algorithms.md §4.4, specificity): among pairs where exactly one of the
/// trigger and its control is answered t, under H0 (the trigger adds nothing beyond a bias toward
/// t) each such pair is equally likely to favour either, so b ~ Binomial(b + c, ½) and
/// p = P(X ≥ b). A verdict from this test cannot be won by bias toward t alone.
public func exactMcNemarTest(triggerOnly b: Int, controlOnly c: Int) throws(StatsError) -> McNemarTestResult {
    guard b >= 0, c >= 0 else { throw .invalidArgument("counts must be non-negative") }
    let logP = Binomial(trials: b + c, probability: 0.5).logUpperTail(atLeast: b)
    return McNemarTestResult(triggerOnly: b, controlOnly: c, pValue: exp(logP), logPValue: logP)
}

/// Exact one-sided McNemar test from paired outcomes: `triggerHits[i]` and `controlHits[i]`
/// say whether trigger i and its control were answered with the target class.
public func exactMcNemarTest(triggerHits: [Bool], controlHits: [Bool]) throws(StatsError) -> McNemarTestResult {
    guard triggerHits.count == controlHits.count else {
        throw .invalidArgument("trigger and control outcomes must be paired (\(triggerHits.count) vs \(controlHits.count))")
    }
    var b = 0
    var c = 0
    for (t, u) in zip(triggerHits, controlHits) where t != u {
        if t { b += 1 } else { c += 1 }
    }
    return try exactMcNemarTest(triggerOnly: b, controlOnly: c)
}
