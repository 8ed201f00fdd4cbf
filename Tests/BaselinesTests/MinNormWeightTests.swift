@testable import Baselines
import Foundation
import TensorEngine
import XCTest

final class MinNormWeightTests: XCTestCase {
    /// ‖α·g1 + (1 − α)·g2‖² for one α.
    private func squaredNorm(_ a: Float, _ g1: [Float], _ g2: [Float]) -> Double {
        zip(g1, g2).reduce(0.0) { s, p in let v = Double(a * p.0 + (1 - a) * p.1); return s + v * v }
    }

    func testClosedFormMatchesABruteForceSearchOverTheSegment() {
        var rng = SeededGenerator(seed: 7)
        for trial in 0..<100 {
            let n = 1 + trial % 7
            let g1 = (0..<n).map { _ in Float.random(in: -2...2, using: &rng) }
            let g2 = (0..<n).map { _ in Float.random(in: -2...2, using: &rng) }
            let alpha = MinNormWeight.alpha(g1, g2)
            XCTAssert((0...1).contains(alpha))
            let best = (0...2_000).map { Float($0) / 2_000 }.min { squaredNorm($0, g1, g2) < squaredNorm($1, g1, g2) }!
            XCTAssertLessThanOrEqual(squaredNorm(alpha, g1, g2), squaredNorm(best, g1, g2) * (1 + 1e-6) + 1e-9, "trial \(trial)")
        }
    }

    func testHandComputedCases() {
        // Orthogonal unit vectors: the midpoint, norm² ½.
        XCTAssertEqual(MinNormWeight.alpha([1, 0], [0, 1]), 0.5, accuracy: 1e-6)
        // g1 = (1, 0), g2 = (3, 0): α* = (2·3)/4 = 1.5, clamped to 1 (g1 is the shorter).
        XCTAssertEqual(MinNormWeight.alpha([1, 0], [3, 0]), 1)
        // g1 = (2, 0), g2 = (−1, 0): α* = (−3·−1)/9 = ⅓, where the combination is 0.
        XCTAssertEqual(MinNormWeight.alpha([2, 0], [-1, 0]), 1.0 / 3, accuracy: 1e-6)
        // Equal gradients: every α is optimal; ½.
        XCTAssertEqual(MinNormWeight.alpha([1, 2], [1, 2]), 0.5)
    }

    func testNormalisationScalesTheGradientsBeforeTheWeight() {
        let g1: [Float] = [1, 0], g2: [Float] = [0, 4]
        // None: u = (1, 0), v = (0, 4): α = (v − u)·v / ‖u − v‖² = 16 / 17.
        XCTAssertEqual(MinNormWeight.alpha(g1, g2, losses: (1, 0.5), normalization: .none), 16.0 / 17, accuracy: 1e-6)
        // l2: two orthogonal unit vectors: ½.
        XCTAssertEqual(MinNormWeight.alpha(g1, g2, losses: (1, 0.5), normalization: .l2), 0.5, accuracy: 1e-5)
        // loss+: divisors min(1·1, 10) = 1 and min(0.5·4, 10) = 2: u = (1, 0), v = (0, 2): α = 4 / 5.
        XCTAssertEqual(MinNormWeight.alpha(g1, g2, losses: (1, 0.5), normalization: .lossPlus), 0.8, accuracy: 1e-5)
        // loss+ capped: g2 = (0, 40), loss 1: divisor min(40, 10) = 10, v = (0, 4): 16 / 17 (uncapped it would be ½).
        XCTAssertEqual(MinNormWeight.alpha(g1, [0, 40], losses: (1, 1), normalization: .lossPlus), 16.0 / 17, accuracy: 1e-5)
        // A zero gradient divides by ε, not by zero: α = 1 picks it, the min-norm point.
        XCTAssertEqual(MinNormWeight.alpha([0, 0], g2, losses: (1, 1), normalization: .l2), 1)
    }

    func testNormalisationNamesDecodeAndBadOnesAreRefused() throws {
        let decoded = try JSONDecoder().decode([GradientNormalization].self, from: Data(#"["none", "l2", "loss+"]"#.utf8))
        XCTAssertEqual(decoded, [.none, .l2, .lossPlus])
        XCTAssertThrowsError(try JSONDecoder().decode([GradientNormalization].self, from: Data(#"["loss"]"#.utf8)))
    }
}
