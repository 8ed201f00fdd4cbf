import Testing
@testable import Stats

@Suite("Paired one-sided t-test")
struct PairedTTestTests {
    @Test("matches scipy's ttest_rel(alternative='greater')")
    func scipyValues() throws {
        let a = try pairedTTest([1, 2, 3, 4], [0, 0, 1, 1])
        #expect(abs(try #require(a.statistic) - 4.898979485566356) < 1e-9)
        #expect(abs(a.pValue - 0.008138301729714277) < 1e-9)
        #expect(a.degreesOfFreedom == 3 && a.meanDifference == 2 && a.count == 4)
        let b = try pairedTTest([0.3, 0.1, 0.5, 0.2, 0.4], [0.2, 0.2, 0.1, 0.0, 0.3])
        #expect(abs(try #require(b.statistic) - 1.7232808737106586) < 1e-9)
        #expect(abs(b.pValue - 0.07996739941871074) < 1e-9)
    }

    @Test("equal differences, too few pairs and unequal lengths")
    func edgeCases() throws {
        #expect(try pairedTTest([2, 3], [1, 2]).pValue == 0)
        #expect(try pairedTTest([1, 2], [1, 2]).pValue == 1)
        #expect(throws: StatsError.self) { try pairedTTest([1], [0]) }
        #expect(throws: StatsError.self) { try pairedTTest([1, 2], [0]) }
    }
}
