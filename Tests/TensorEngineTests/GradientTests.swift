import XCTest
import TensorEngine
import TestSupport

/// Finite-difference checks of every differentiable operation.
final class GradientTests: XCTestCase {
    private func assertGradient(_ inputs: [Tensor], step: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
                                file: StaticString = #filePath, line: UInt = #line, _ f: @escaping ([Tensor]) -> Tensor) {
        if let problem = GradientCheck.check(inputs, step: step, atol: atol, rtol: rtol, f) {
            XCTFail(problem, file: file, line: line)
        }
    }

    func testBroadcastArithmetic() {
        let a = testTensor([2, 3, 4, 5], seed: 1)
        let row = testTensor([5], seed: 2)
        let channel = testTensor([1, 3, 1, 1], seed: 3)
        let same = testTensor([2, 3, 4, 5], seed: 4)
        let positive = testTensor([3, 1, 1], seed: 5).abs() + 0.5
        assertGradient([a, row]) { project($0[0] + $0[1]) }
        assertGradient([a, channel]) { project($0[0] - $0[1]) }
        assertGradient([a, same]) { project($0[0] * $0[1]) }
        assertGradient([a, positive]) { project($0[0] / $0[1]) }
        // Kinks (max, abs) are checked on inputs kept away from them.
        let apart = (a + awayFromZero([2, 3, 4, 5], seed: 6)).detached()
        assertGradient([a, apart]) { project(Tensor.maximum($0[0], $0[1])) }
        assertGradient([awayFromZero([2, 3, 4, 5], seed: 7)]) { project(($0[0] * 2 + 1) - 3 / ($0[0].abs() + 1)) }
    }

    func testUnaryFunctions() {
        let x = awayFromZero([3, 7], seed: 11)
        let positive = x.abs() + 0.3
        assertGradient([x]) { project($0[0].exp()) }
        assertGradient([positive]) { project($0[0].log()) }
        assertGradient([positive]) { project($0[0].sqrt()) }
        assertGradient([positive]) { project($0[0].pow(2.5)) }
        assertGradient([x]) { project($0[0].pow(2)) }
        assertGradient([x]) { project($0[0].sigmoid()) }
        assertGradient([x]) { project($0[0].tanh()) }
        assertGradient([x], step: 1e-3) { project($0[0].relu()) }
        assertGradient([x], step: 1e-3) { project($0[0].leakyRelu(0.2)) }
        assertGradient([x], step: 1e-3) { project($0[0].abs()) }
        assertGradient([x], step: 1e-3) { project($0[0].clamp(min: -0.5, max: 0.7)) }
        assertGradient([x]) { project(-$0[0]) }
    }

    func testReductions() {
        let x = testTensor([2, 3, 4], seed: 21)
        assertGradient([x]) { $0[0].sum() * $0[0].mean() }
        for axis in 0..<3 {
            assertGradient([x]) { project($0[0].sum(axis: axis)) }
            assertGradient([x]) { project($0[0].mean(axis: axis, keepDims: true)) }
            assertGradient([x], step: 1e-3) { project($0[0].max(axis: axis)) }
        }
    }

    func testSoftmaxFamilyAndLosses() {
        let z = testTensor([4, 6], seed: 31, scale: 2)
        assertGradient([z]) { project($0[0].softmax()) }
        assertGradient([z]) { project($0[0].logSoftmax()) }
        assertGradient([z]) { Tensor.crossEntropy($0[0], labels: [0, 5, 2, 2]) }
        let target = testTensor([4, 6], seed: 32).softmax()
        assertGradient([z, target]) { Tensor.softCrossEntropy($0[0], targets: $0[1]) }
    }

    func testMatmulAndLinear() {
        let a = testTensor([5, 7], seed: 41), b = testTensor([7, 3], seed: 42)
        assertGradient([a, b]) { project($0[0].matmul($0[1])) }
        let w = testTensor([4, 7], seed: 43), bias = testTensor([4], seed: 44)
        assertGradient([a, w, bias]) { project(Tensor.linear($0[0], weight: $0[1], bias: $0[2])) }
        assertGradient([a]) { project($0[0].transposed()) }
    }

    func testConvolution() {
        // Covers the per-image path, the grouped path (small planes), stride, padding and 1×1.
        let cases: [(x: [Int], w: [Int], stride: Int, padding: Int)] = [
            ([2, 3, 6, 5], [4, 3, 3, 3], 1, 1),
            ([3, 2, 7, 7], [3, 2, 3, 3], 2, 1),
            ([2, 4, 5, 5], [3, 4, 1, 1], 1, 0),
            ([2, 4, 6, 6], [5, 4, 1, 1], 2, 0),
            ([2, 1, 40, 40], [2, 1, 3, 3], 1, 0),
        ]
        for (i, c) in cases.enumerated() {
            let x = testTensor(c.x, seed: 50 + UInt64(i)), w = testTensor(c.w, seed: 60 + UInt64(i), scale: 0.5)
            let b = testTensor([c.w[0]], seed: 70 + UInt64(i))
            assertGradient([x, w, b]) { project(Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: c.stride, padding: c.padding)) }
        }
    }

    func testPoolingAndShaping() {
        let x = testTensor([2, 3, 6, 6], seed: 81)
        assertGradient([x], step: 1e-3) { project($0[0].maxPool2d(kernel: 2)) }
        assertGradient([x], step: 1e-3) { project($0[0].maxPool2d(kernel: 3, stride: 2)) }
        assertGradient([x]) { project($0[0].avgPool2d(kernel: 2)) }
        assertGradient([x]) { project($0[0].globalAvgPool()) }
        assertGradient([x]) { project($0[0].padded(top: 1, bottom: 2, left: 0, right: 3)) }
        for k in 1...3 { assertGradient([x]) { project($0[0].rotated90(k)) } }
        assertGradient([x]) { project($0[0].slice(1..<2)) }
        assertGradient([x]) { project($0[0].rows([1, 0, 1])) }
        assertGradient([x]) { project($0[0].reshaped([6, -1])) }
        let y = testTensor([2, 1, 6, 6], seed: 82)
        assertGradient([x, y]) { project(Tensor.concat([$0[0], $0[1]], axis: 1)) }
        let m = testTensor([3, 5], seed: 83)
        assertGradient([m]) { project($0[0].gather([4, 0, 2])) }
    }

    func testNearestUpsampling() {
        // A generator's 2× growth and an odd factor, on planes that are not square.
        let x = testTensor([2, 3, 3, 4], seed: 85)
        assertGradient([x]) { project($0[0].upsampledNearest(2)) }
        assertGradient([x]) { project($0[0].upsampledNearest(3)) }
        // Through a convolution, as in a generator block (the gradient reaches weights and input).
        let w = testTensor([2, 3, 3, 3], seed: 86, scale: 0.5)
        assertGradient([x, w]) { project(Tensor.conv2d($0[0].upsampledNearest(2), weight: $0[1], bias: nil, stride: 1, padding: 1)) }
    }

    func testBatchNorm() {
        for training in [true, false] {
            let x = testTensor([4, 3, 3, 3], seed: 91, scale: 2)
            let w = testTensor([3], seed: 92), b = testTensor([3], seed: 93)
            let rm = testTensor([3], seed: 94), rv = testTensor([3], seed: 95).abs() + 0.5
            assertGradient([x, w, b], step: 1e-2, atol: 3e-3) {
                // Fresh running statistics each call so the function is the same every time.
                project(Tensor.batchNorm($0[0], weight: $0[1], bias: $0[2], runningMean: rm.copy(), runningVar: rv.copy(),
                                         training: training))
            }
        }
    }
}
