@testable import Baselines
import Foundation
import TensorEngine
import TestSupport
import XCTest

final class BaselineLossesTests: XCTestCase {
    func testContrastiveTermOnTinyLogits() throws {
        // Rows of classes {4, 6, 9} in batch order: 0, 2, 3, 4, 5 → pairs (0, 2), (3, 4); row 5 is
        // left over and row 1 (class 0) is ignored however far away it is.
        let logits = Tensor([0, 0, 100, 100, 0.3, 0.4, 1, 1, 1, 1.6, 7, 7], shape: [6, 2])
        let labels = [4, 0, 4, 6, 9, 9]
        let loss = try XCTUnwrap(BaselineLoss.contrastive(logits, labels: labels, classes: [4, 6, 9]))
        // (0, 2): same label, d = 0.5 → ½·0.25 = 0.125; (3, 4): different, d = 0.6 → ½·(1 − 0.6)² = 0.08.
        XCTAssertEqual(loss.item, (0.125 + 0.08) / 2, accuracy: 1e-6)
        // Different labels farther apart than the margin cost nothing.
        let far = try XCTUnwrap(BaselineLoss.contrastive(Tensor([0, 0, 1, 3], shape: [2, 2]), labels: [4, 9], classes: [4, 6, 9]))
        XCTAssertEqual(far.item, 0, accuracy: 1e-7)
        XCTAssertNil(BaselineLoss.contrastive(logits, labels: [4, 0, 1, 2, 3, 5], classes: [4, 6, 9]), "one row makes no pair")
    }

    func testContrastiveGradientMatchesFiniteDifferences() {
        let logits = testTensor([6, 3], seed: 3, scale: 0.4)
        let labels = [4, 6, 4, 9, 6, 6]
        XCTAssertNil(GradientCheck.check([logits]) { BaselineLoss.contrastive($0[0], labels: labels, classes: [4, 6, 9])! })
    }

    /// SNNL of four 1-D points 0, 1, 3, 4 in groups a, a, b, b, written out term by term.
    private func handSNNL(temperature t: Double, epsilon: Double) -> Double {
        let e = { (d: Double) in Foundation.exp(-d * d / t) }
        let ratios = [e(1) / (e(1) + e(3) + e(4)),   // point 0: peer 1
                      e(1) / (e(1) + e(2) + e(3)),   // point 1: peer 0
                      e(1) / (e(3) + e(2) + e(1)),   // point 3: peer 4
                      e(1) / (e(4) + e(3) + e(1))]   // point 4: peer 3
        return -ratios.map { Foundation.log(epsilon + $0) }.reduce(0, +) / 4
    }

    func testSoftNearestNeighbourLossOnFourPoints() {
        let h = Tensor([0, 1, 3, 4], shape: [4, 1])
        for t in [0.5, 2.0, 10.0] {
            let value = BaselineLoss.softNearestNeighbour(h, groups: [0, 0, 1, 1], temperature: Tensor([Float(t)], shape: [1, 1]), epsilon: 1e-5)
            XCTAssertEqual(Double(value.item), handSNNL(temperature: t, epsilon: 1e-5), accuracy: 1e-5, "T = \(t)")
        }
        // A point without peers contributes −log ε.
        let lonely = BaselineLoss.softNearestNeighbour(Tensor([0, 1, 3], shape: [3, 1]), groups: [0, 0, 1],
                                                       temperature: Tensor([1], shape: [1, 1]), epsilon: 1e-5)
        let e = { (d: Double) in Foundation.exp(-d * d) }
        let expected = -(Foundation.log(1e-5 + e(1) / (e(1) + e(3))) + Foundation.log(1e-5 + e(1) / (e(1) + e(2))) + Foundation.log(1e-5)) / 3
        XCTAssertEqual(Double(lonely.item), expected, accuracy: 1e-4)
    }

    func testSoftNearestNeighbourGradientInTemperatureAndFeatures() {
        let h = Tensor([0, 1, 3, 4], shape: [4, 1])
        let t = Tensor([2], shape: [1, 1])
        // Central difference of the hand-written value in T.
        let step = 1e-3
        let numeric = (handSNNL(temperature: 2 + step, epsilon: 1e-5) - handSNNL(temperature: 2 - step, epsilon: 1e-5)) / (2 * step)
        t.requiresGrad = true
        BaselineLoss.softNearestNeighbour(h, groups: [0, 0, 1, 1], temperature: t, epsilon: 1e-5).backward()
        XCTAssertEqual(Double(t.grad!.item), numeric, accuracy: 1e-4 + 1e-3 * abs(numeric))
        let features = testTensor([5, 3], seed: 11)
        XCTAssertNil(GradientCheck.check([features, Tensor([1.5], shape: [1, 1])], step: 1e-2) {
            BaselineLoss.softNearestNeighbour($0[0], groups: [0, 1, 0, 1, 1], temperature: $0[1])
        })
    }

    func testSoftNearestNeighbourStaysFiniteForFarApartPoints() {
        // exp(−10⁶) underflows to 0 for every pair; the shift by the nearest distance keeps the ratio.
        let h = Tensor([0, 1000, 3000, 4000], shape: [4, 1])
        let value = BaselineLoss.softNearestNeighbour(h, groups: [0, 0, 1, 1], temperature: Tensor([1], shape: [1, 1]))
        XCTAssert(value.item.isFinite)
        XCTAssertEqual(value.item, -Float(Foundation.log(1 + 1e-5)), accuracy: 1e-5, "every nearest neighbour is a peer")
    }
}
