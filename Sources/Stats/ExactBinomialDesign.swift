/// A fixed-size exact binomial verification design: query n triggers, claim ownership when at
/// least `criticalHits` are answered with the target class.
public struct ExactBinomialDesign: Sendable, Hashable {
    /// Number of queries n.
    public let queries: Int
    /// Smallest k with P(X ≥ k | n, p₀) ≤ α: the rejection threshold.
    public let criticalHits: Int
    /// Actual false-claim probability P(X ≥ k | n, p₀) ≤ α.
    public let size: Double
    /// Power P(X ≥ k | n, p₁).
    public let power: Double
}

extension ExactBinomialDesign {
    /// Smallest k ≤ n with P(X ≥ k | n, p₀) ≤ α, or nil when even n hits of n are not significant.
    public static func criticalHits(queries n: Int, nullRate p0: Double, alpha: Double) -> Int? {
        precondition(n >= 0 && p0 >= 0 && p0 <= 1 && alpha > 0 && alpha < 1)
        let dist = Binomial(trials: n, probability: p0)
        // P(X ≥ k) decreases in k: binary search for the first k in 0…n + 1 at or below α.
        var lo = 0
        var hi = n + 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if dist.upperTail(atLeast: mid) <= alpha { hi = mid } else { lo = mid + 1 }
        }
        return lo <= n ? lo : nil
    }

    /// The design at a given n (nil when no k ≤ n is significant at level α).
    public static func at(
        queries n: Int, nullRate p0: Double, alternativeRate p1: Double, alpha: Double
    ) -> ExactBinomialDesign? {
        guard let k = criticalHits(queries: n, nullRate: p0, alpha: alpha) else { return nil }
        return ExactBinomialDesign(
            queries: n, criticalHits: k,
            size: Binomial(trials: n, probability: p0).upperTail(atLeast: k),
            power: Binomial(trials: n, probability: p1).upperTail(atLeast: k))
    }
}

extension QueriesNeeded {
    /// The smallest n for which the exact one-sided binomial test at level α (reject when
    /// hits ≥ the critical k) has power ≥ 1 − β against the alternative rate p₁.
    ///
    /// The power of an exact test is a sawtooth in n (the critical k moves in integer steps), so
    /// a few n just above the answer can fall back below 1 − β; this returns the first n that
    /// reaches it, scanning n = 1, 2, … up to `maxQueries` (nil if none does).
    ///
    /// With p₁ = WSR (not p₀ + WSR): the exclusive WSR is a lower bound on the suspect's raw hit
    /// rate, so the design is conservative.
    public static func exactBinomial(
        nullRate p0: Double, alternativeRate p1: Double,
        alpha: Double = 1e-4, beta: Double = 0.01, maxQueries: Int = 1_000_000
    ) -> ExactBinomialDesign? {
        precondition(p0 >= 0 && p0 < 1 && p1 >= 0 && p1 <= 1, "rates must lie in [0, 1]")
        precondition(alpha > 0 && alpha < 1 && beta > 0 && beta < 1, "α and β must lie in (0, 1)")
        guard p1 > p0 else { return nil }
        // The critical k is non-decreasing in n, so it is carried across iterations.
        var k = 1
        var n = 1
        while n <= maxQueries {
            let null = Binomial(trials: n, probability: p0)
            while k <= n, null.upperTail(atLeast: k) > alpha { k += 1 }
            if k <= n {
                let power = Binomial(trials: n, probability: p1).upperTail(atLeast: k)
                if power >= 1 - beta {
                    return ExactBinomialDesign(
                        queries: n, criticalHits: k, size: null.upperTail(atLeast: k), power: power)
                }
            }
            n += 1
        }
        return nil
    }
}
