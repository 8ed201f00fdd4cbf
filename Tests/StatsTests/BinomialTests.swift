import Foundation
import Testing
@testable import Stats

@Suite("Binomial distribution and Clopper–Pearson")
struct BinomialTests {
    let ref = Reference.shared

    @Test("pmf, upper tail P(X ≥ k) and lower tail P(X ≤ k) match the reference")
    func reference() {
        for row in ref.binom {
            let dist = Binomial(trials: row.n, probability: row.p)
            let label = "k \(row.k), n \(row.n), p \(row.p)"
            if let pmf = row.pmf { expectClose(dist.pmf(row.k), pmf, "pmf \(label)") }
            if let sf = row.sf_ge { expectClose(dist.upperTail(atLeast: row.k), sf, "P(X ≥ k) \(label)") }
            if let cdf = row.cdf { expectClose(dist.lowerTail(atMost: row.k), cdf, "P(X ≤ k) \(label)") }
            expectClose(dist.logUpperTail(atLeast: row.k), row.mp_log_sf_ge, "log P(X ≥ k) \(label)")
            if let logCDF = row.mp_log_cdf {
                expectClose(dist.logLowerTail(atMost: row.k), logCDF, "log P(X ≤ k) \(label)")
            }
        }
    }

    @Test("tiny tails: P(X ≥ 45 | n = 50, p = 0.01) by hand")
    func tinyTail() {
        let dist = Binomial(trials: 50, probability: 0.01)
        // Exact sum Σ_{j ≥ 45} C(50, j) pʲ q⁵⁰⁻ʲ; the j = 45 term dominates.
        var sum = 0.0
        for j in stride(from: 50, through: 45, by: -1) {
            sum += exp(logChoose(50, Double(j)) + Double(j) * log(0.01) + Double(50 - j) * log1p(-0.01))
        }
        expectClose(dist.upperTail(atLeast: 45), sum, tolerance: 1e-12, "tiny tail")
        #expect(dist.upperTail(atLeast: 45) < 1e-80)
        expectClose(dist.upperTail(atLeast: 50), 1e-100, tolerance: 1e-13, "pⁿ")
        // A tail far below the double range is still a finite logarithm.
        let far = Binomial(trials: 500, probability: 0.014)
        #expect(far.upperTail(atLeast: 400) == 0)
        #expect(far.logUpperTail(atLeast: 400) < -1300 && far.logUpperTail(atLeast: 400) > -1500)
    }

    @Test("edges, sums and monotonicity")
    func properties() {
        let dist = Binomial(trials: 30, probability: 0.37)
        #expect(dist.upperTail(atLeast: 0) == 1)
        #expect(dist.upperTail(atLeast: 31) == 0)
        #expect(dist.lowerTail(atMost: 30) == 1)
        #expect(dist.lowerTail(atMost: -1) == 0)
        var total = 0.0
        for k in 0...30 { total += dist.pmf(k) }
        expectClose(total, 1, tolerance: 1e-14, "Σ pmf")
        for k in 0...30 {
            expectClose(dist.upperTail(atLeast: k) + dist.lowerTail(atMost: k - 1), 1, tolerance: 1e-14, "tails sum to 1 at \(k)")
            if k < 30 {
                #expect(dist.upperTail(atLeast: k + 1) <= dist.upperTail(atLeast: k))
                expectClose(
                    dist.upperTail(atLeast: k) - dist.upperTail(atLeast: k + 1), dist.pmf(k),
                    tolerance: 1e-10, "pmf as a tail difference at \(k)")
            }
        }
        // Degenerate probabilities.
        #expect(Binomial(trials: 5, probability: 0).upperTail(atLeast: 1) == 0)
        #expect(Binomial(trials: 5, probability: 1).upperTail(atLeast: 5) == 1)
        #expect(Binomial(trials: 5, probability: 0).pmf(0) == 1)
        #expect(Binomial(trials: 0, probability: 0.3).pmf(0) == 1)
        // Upper tail increases with p.
        #expect(Binomial(trials: 100, probability: 0.2).upperTail(atLeast: 30)
            < Binomial(trials: 100, probability: 0.25).upperTail(atLeast: 30))
    }

    @Test("Clopper–Pearson intervals match scipy's exact proportion_ci")
    func clopperPearson() {
        for row in ref.clopper_pearson {
            let ci = clopperPearsonInterval(successes: row.k, trials: row.n, confidence: row.confidence)
            expectClose(ci.lower, row.lower, "lower \(row.k)/\(row.n) at \(row.confidence)")
            expectClose(ci.upper, row.upper, "upper \(row.k)/\(row.n) at \(row.confidence)")
        }
        // PROWN's guarantee (docs/algorithms.md §8.4): 64 of 64 at α = 0.05 → (α/2)^(1/64) = 0.944.
        let ci = clopperPearsonInterval(successes: 64, trials: 64, confidence: 0.95)
        expectClose(ci.lower, pow(0.025, 1.0 / 64), tolerance: 1e-13, "(α/2)^(1/m)")
        expectClose(
            clopperPearsonLowerBound(successes: 64, trials: 64, confidence: 0.95), pow(0.05, 1.0 / 64),
            tolerance: 1e-13, "one-sided")
        expectClose(
            clopperPearsonUpperBound(successes: 0, trials: 100, confidence: 0.95), 1 - pow(0.05, 1.0 / 100),
            tolerance: 1e-12, "rule of three")
    }

    @Test("Clopper–Pearson covers the true rate at least at the nominal level")
    func clopperPearsonCoverage() {
        // Exact coverage by enumeration for n = 40 across several p.
        for p in [0.01, 0.05, 0.2, 0.5, 0.81] {
            let dist = Binomial(trials: 40, probability: p)
            var coverage = 0.0
            for k in 0...40 {
                let ci = clopperPearsonInterval(successes: k, trials: 40, confidence: 0.9)
                if ci.lower <= p && p <= ci.upper { coverage += dist.pmf(k) }
            }
            #expect(coverage >= 0.9 - 1e-12, "coverage \(coverage) at p \(p)")
        }
    }
}
