import Foundation
import Testing
@testable import Stats

@Suite("Null-model thresholds (docs/algorithms.md §8b)")
struct NullModelThresholdTests {
    @Test("μ + z_{1−p}·σ with sample σ, and the empirical false-claim count")
    func threshold() throws {
        // PROWN-like null trigger accuracies of 20 independent models.
        let nulls = [0.53, 0.55, 0.58, 0.54, 0.56, 0.57, 0.55, 0.53, 0.58, 0.56,
                     0.54, 0.55, 0.57, 0.56, 0.53, 0.58, 0.55, 0.54, 0.57, 0.62]
        let fit = try nullModelThreshold(nullStatistics: nulls, falseClaimRate: 0.05)
        let mean = nulls.reduce(0, +) / 20
        let sd = (nulls.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 19).squareRoot()
        expectClose(fit.mean, mean, tolerance: 1e-14, "μ")
        expectClose(fit.standardDeviation, sd, tolerance: 1e-13, "σ")
        expectClose(fit.z, 1.6448536269514722, tolerance: 1e-14, "z_0.95")
        expectClose(fit.threshold, mean + 1.6448536269514722 * sd, tolerance: 1e-14, "threshold")
        #expect(fit.empiricalFalseClaims == nulls.filter { $0 > fit.threshold }.count)
        #expect(fit.empiricalFalseClaims == 1)  // the 0.62 model
        #expect(fit.nullCount == 20)
        #expect(fit.claims(0.85) && !fit.claims(0.55))
        // A soft-label surrogate at 85 % trigger accuracy (docs/algorithms.md §8.6) is far beyond the null.
        #expect(fit.normalPValue(0.851) < 1e-20)
        expectClose(fit.empiricalPValue(0.851), 1.0 / 21, tolerance: 1e-15, "empirical p floor")
        expectClose(fit.empiricalPValue(0.0), 1, tolerance: 1e-15, "empirical p ceiling")
        // A tighter false-claim rate raises the threshold.
        let tight = try nullModelThreshold(nullStatistics: nulls, falseClaimRate: 1e-4)
        #expect(tight.threshold > fit.threshold)
        #expect(tight.empiricalFalseClaims == 0)
    }

    @Test("false-claim rate of the fitted threshold on fresh normal nulls is near p")
    func calibration() throws {
        var rng = SplitMix64(seed: 99)
        func gaussian() -> Double {
            // Box–Muller.
            let u = max(rng.uniform(), 1e-300)
            let v = rng.uniform()
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        let nulls = (0..<2_000).map { _ in 0.55 + 0.02 * gaussian() }
        let fit = try nullModelThreshold(nullStatistics: nulls, falseClaimRate: 0.05)
        let fresh = (0..<20_000).map { _ in 0.55 + 0.02 * gaussian() }
        let rate = Double(fresh.filter(fit.claims).count) / Double(fresh.count)
        #expect(abs(rate - 0.05) < 0.01, "observed false-claim rate \(rate)")
    }

    @Test("degenerate and invalid inputs")
    func degenerate() throws {
        let constant = try nullModelThreshold(nullStatistics: [0.2, 0.2, 0.2], falseClaimRate: 0.05)
        #expect(constant.standardDeviation == 0 && constant.threshold == 0.2)
        #expect(constant.empiricalFalseClaims == 0)
        #expect(constant.normalPValue(0.2) == 1 && constant.normalPValue(0.3) == 0)
        #expect(throws: StatsError.self) { try nullModelThreshold(nullStatistics: [0.5]) }
        #expect(throws: StatsError.self) { try nullModelThreshold(nullStatistics: [0.5, .infinity]) }
        #expect(throws: StatsError.self) { try nullModelThreshold(nullStatistics: [0.5, 0.6], falseClaimRate: 0) }
    }
}
