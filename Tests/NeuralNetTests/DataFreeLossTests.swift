import Foundation
import NeuralNet
import TensorEngine
import TestSupport
import XCTest

/// The data-free attacks' losses (DFMS, DisGUIDE): values against hand-computed ones and
/// gradients against finite differences.
final class DataFreeLossTests: XCTestCase {
    func testClassDiversityIsTheNegativeEntropyOfTheBatchMean() {
        // p̄ = (0.3, 0.4, 0.3): Σ p̄ log p̄ = 2·0.3·ln 0.3 + 0.4·ln 0.4.
        let p = Tensor([0.5, 0.5, 0, 0.1, 0.3, 0.6], shape: [2, 3])
        let expected = 2 * 0.3 * Foundation.log(0.3) + 0.4 * Foundation.log(0.4)
        XCTAssertEqual(Double(Loss.classDiversity(p).item), expected, accuracy: 1e-6)
        XCTAssertEqual(expected, -1.0889, accuracy: 1e-4)
        // Uniform on average: its minimum, −log K; one class throughout: 0.
        XCTAssertEqual(Loss.classDiversity(Tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], shape: [3, 3])).item, -Foundation.log(Float(3)), accuracy: 1e-6)
        XCTAssertEqual(Loss.classDiversity(Tensor([0, 1, 0, 1], shape: [2, 2])).item, 0, accuracy: 1e-6)
    }

    func testMeanEntropyOfTheRows() {
        // Rows (0.5, 0.5) and (1, 0): entropies ln 2 and 0.
        XCTAssertEqual(Loss.meanEntropy(Tensor([0.5, 0.5, 1, 0], shape: [2, 2])).item, Foundation.log(Float(2)) / 2, accuracy: 1e-6)
        XCTAssertEqual(Loss.meanEntropy(Tensor([0.25, 0.25, 0.25, 0.25], shape: [1, 4])).item, Foundation.log(Float(4)), accuracy: 1e-6)
    }

    func testSoftmaxDisagreementIsTheStandardDeviationOfTheTwoOutputs() {
        // softmax(0, 0) = (0.5, 0.5), softmax(ln 3, 0) = (0.75, 0.25): |Δ| = 0.25 at both classes,
        // the sample standard deviation of two values a, b is |a − b|/√2.
        let a = Tensor([0, 0], shape: [1, 2]), b = Tensor([Foundation.log(Float(3)), 0], shape: [1, 2])
        XCTAssertEqual(Loss.softmaxDisagreement(a, b).item, 0.25 / Float(2).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(Loss.softmaxDisagreement(a, a).item, 0)
        // Two rows: the mean over rows and classes (second row agrees).
        let a2 = Tensor([0, 0, 1, 2], shape: [2, 2]), b2 = Tensor([Foundation.log(Float(3)), 0, 1, 2], shape: [2, 2])
        XCTAssertEqual(Loss.softmaxDisagreement(a2, b2).item, 0.125 / Float(2).squareRoot(), accuracy: 1e-6)
    }

    func testGradientsMatchFiniteDifferences() {
        let logits = testTensor([6, 5], seed: 1, scale: 1.5)
        XCTAssertNil(GradientCheck.check([logits], step: 1e-2) { Loss.classDiversity($0[0].softmax()) })
        // On probabilities directly (positive rows, not normalised: the mean need not sum to 1).
        let positive = Autograd.inference { testTensor([4, 3], seed: 2).exp() }
        XCTAssertNil(GradientCheck.check([positive], step: 1e-3) { Loss.classDiversity($0[0]) })
        XCTAssertNil(GradientCheck.check([logits], step: 1e-2) { Loss.meanEntropy($0[0].softmax()) })
        XCTAssertNil(GradientCheck.check([positive], step: 1e-3) { Loss.meanEntropy($0[0]) })
        let a = testTensor([5, 4], seed: 3, scale: 2), b = testTensor([5, 4], seed: 4, scale: 2)
        XCTAssertNil(GradientCheck.check([a, b], step: 1e-3) { Loss.softmaxDisagreement($0[0], $0[1]) })
    }
}
