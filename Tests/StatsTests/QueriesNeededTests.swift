import Foundation
import Testing
@testable import Stats

@Suite("Queries needed for a claim")
struct QueriesNeededTests {
    let ref = Reference.shared

    @Test("paper Eq. 2 reproduces 7,730 / 1,857 / 193,252 (docs/algorithms.md §4.5) and the reference table")
    func paperEq2() {
        let eq2 = ref.eq2
        #expect(QueriesNeeded.paperEq2(wsr: 0.10) == 7_730)
        #expect(QueriesNeeded.paperEq2(wsr: 0.204) == 1_857)
        #expect(QueriesNeeded.paperEq2(wsr: 0.02) == 193_252)
        for c in eq2.cases {
            expectClose(QueriesNeeded.paperEq2Unrounded(wsr: c.wsr), c.unrounded, tolerance: 1e-13, "WSR \(c.wsr)")
            #expect(QueriesNeeded.paperEq2(wsr: c.wsr, alpha: eq2.alpha, beta: eq2.beta) == c.paper)
        }
        // The constant 2(z_{1−α/2} + z_{1−β})² = 77.30.
        expectClose(QueriesNeeded.paperEq2Unrounded(wsr: 1), eq2.constant, tolerance: 1e-14, "constant")
        #expect(QueriesNeeded.paperEq2(wsr: 0) == nil)
        // Neither floor nor ceiling reproduces all three figures; nearest does.
        let raw = [0.10, 0.204, 0.02].map { QueriesNeeded.paperEq2Unrounded(wsr: $0) }
        #expect(raw.map { Int($0.rounded(.down)) } != [7_730, 1_857, 193_252])
        #expect(raw.map { Int($0.rounded(.up)) } != [7_730, 1_857, 193_252])
    }

    @Test("exact binomial design (docs/algorithms.md §4.5): 160 / 40 / 17 queries with p₀ = 1.4 %, p₁ = WSR")
    func exactBinomialSpec() throws {
        let cases: [(Double, Int)] = [(0.114, 160), (0.30, 40), (0.50, 17)]
        for (wsr, expected) in cases {
            let design = try #require(QueriesNeeded.exactBinomial(nullRate: 0.014, alternativeRate: wsr))
            #expect(design.queries == expected, "WSR \(wsr)")
            #expect(design.size <= 1e-4 && design.power >= 0.99)
        }
        // Far fewer than Eq. 2 (5,948 for WSR 11.4 %) because the null rate is low.
        #expect(QueriesNeeded.paperEq2(wsr: 0.114)! > 30 * 160)
    }

    @Test("exact binomial design matches a brute-force scipy scan")
    func exactBinomialReference() throws {
        for row in ref.exact_design {
            let design = try #require(QueriesNeeded.exactBinomial(
                nullRate: row.p0, alternativeRate: row.p1, alpha: row.alpha, beta: row.beta))
            #expect(design.queries == row.n && design.criticalHits == row.k)
            expectClose(design.size, row.size, "size")
            expectClose(design.power, row.power, "power")
        }
    }

    @Test("critical values and power: size ≤ α, minimality, power sanity")
    func criticalValues() throws {
        let k = try #require(ExactBinomialDesign.criticalHits(queries: 160, nullRate: 0.014, alpha: 1e-4))
        #expect(k == 10)
        #expect(Binomial(trials: 160, probability: 0.014).upperTail(atLeast: k) <= 1e-4)
        #expect(Binomial(trials: 160, probability: 0.014).upperTail(atLeast: k - 1) > 1e-4)
        #expect(ExactBinomialDesign.criticalHits(queries: 2, nullRate: 0.5, alpha: 0.01) == nil)
        // The design one query short of the answer lacks power.
        let short = try #require(ExactBinomialDesign.at(queries: 159, nullRate: 0.014, alternativeRate: 0.114, alpha: 1e-4))
        #expect(short.power < 0.99)
        // More queries, more power in the long run; a stronger watermark needs fewer queries.
        let n1 = try #require(QueriesNeeded.exactBinomial(nullRate: 0.014, alternativeRate: 0.2))
        let n2 = try #require(QueriesNeeded.exactBinomial(nullRate: 0.014, alternativeRate: 0.25))
        #expect(n2.queries < n1.queries)
        #expect(QueriesNeeded.exactBinomial(nullRate: 0.3, alternativeRate: 0.2) == nil)
    }
}
