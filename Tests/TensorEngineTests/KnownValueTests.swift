import XCTest
import TensorEngine
import TestSupport

/// Small hand-computed cases for the kernels.
final class KnownValueTests: XCTestCase {
    func testConvolutionByHand() {
        // 1×1×3×3 input 1…9, 2×2 kernel of ones plus bias 0.5, no padding: sums of 2×2 windows.
        let x = Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3])
        let w = Tensor.ones([1, 1, 2, 2])
        let y = Tensor.conv2d(x, weight: w, bias: Tensor([0.5], shape: [1]))
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.scalars, [12.5, 16.5, 24.5, 28.5])
        // Padding 1, stride 2 with a centre-only 3×3 kernel picks pixels (0,0), (0,2), (2,0), (2,2).
        var centre = [Float](repeating: 0, count: 9); centre[4] = 1
        let z = Tensor.conv2d(x, weight: Tensor(centre, shape: [1, 1, 3, 3]), stride: 2, padding: 1)
        XCTAssertEqual(z.scalars, [1, 3, 7, 9])
        // Two input channels are summed: channel 2 = 10 × channel 1, weights 1 and 0.1 → 2 × channel 1.
        let two = Tensor((1...9).map(Float.init) + (1...9).map { Float($0) * 10 }, shape: [1, 2, 3, 3])
        let mix = Tensor.conv2d(two, weight: Tensor([1, 0.1], shape: [1, 2, 1, 1]))
        for (got, want) in zip(mix.scalars, (1...9).map { Float($0) * 2 }) { XCTAssertEqual(got, want, accuracy: 1e-5) }
    }

    func testConvolutionGroupedMatchesPerImage() {
        // Small planes take the grouped GEMM path; large ones the per-image path. Both must equal
        // a direct convolution.
        for (h, n) in [(5, 7), (30, 2)] {
            let x = testTensor([n, 3, h, h], seed: 5), w = testTensor([4, 3, 3, 3], seed: 6)
            let b = testTensor([4], seed: 7)
            let y = Tensor.conv2d(x, weight: w, bias: b, padding: 1)
            for img in 0..<n { for o in 0..<4 { for r in 0..<h { for c in 0..<h {
                var acc = b[o]
                for ci in 0..<3 { for ki in 0..<3 { for kj in 0..<3 {
                    let iy = r + ki - 1, ix = c + kj - 1
                    if iy >= 0 && iy < h && ix >= 0 && ix < h { acc += x[img, ci, iy, ix] * w[o, ci, ki, kj] }
                } } }
                XCTAssertEqual(y[img, o, r, c], acc, accuracy: 1e-4)
            } } } }
        }
    }

    func testPoolingByHand() {
        let x = Tensor([1, 2, 3, 4,
                        5, 6, 7, 8,
                        9, 10, 11, 12,
                        13, 14, 15, 16], shape: [1, 1, 4, 4])
        XCTAssertEqual(x.maxPool2d(kernel: 2).scalars, [6, 8, 14, 16])
        XCTAssertEqual(x.avgPool2d(kernel: 2).scalars, [3.5, 5.5, 11.5, 13.5])
        XCTAssertEqual(x.maxPool2d(kernel: 3, stride: 1).scalars, [11, 12, 15, 16])
        XCTAssertEqual(x.globalAvgPool().scalars, [8.5])
        let y = Tensor([1, 2, 3, 4, 5, 6], shape: [1, 1, 2, 3])
        XCTAssertEqual(y.upsampledNearest(2).shape, [1, 1, 4, 6])
        XCTAssertEqual(y.upsampledNearest(2).scalars, [1, 1, 2, 2, 3, 3,
                                                      1, 1, 2, 2, 3, 3,
                                                      4, 4, 5, 5, 6, 6,
                                                      4, 4, 5, 5, 6, 6])
    }

    func testBatchNormByHand() {
        // One channel, values 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3.
        let x = Tensor([1, 2, 3, 4], shape: [2, 1, 1, 2])
        let rm = Tensor.zeros([1]), rv = Tensor.ones([1])
        let y = Tensor.batchNorm(x, weight: Tensor([2], shape: [1]), bias: Tensor([1], shape: [1]),
                                 runningMean: rm, runningVar: rv, training: true)
        let inv = 1 / (Float(1.25) + 1e-5).squareRoot()
        for (got, v) in zip(y.scalars, [Float(1), 2, 3, 4]) { XCTAssertEqual(got, 2 * (v - 2.5) * inv + 1, accuracy: 1e-5) }
        XCTAssertEqual(rm.item, 0.25, accuracy: 1e-6)
        XCTAssertEqual(rv.item, 0.9 + 0.1 * 5 / 3, accuracy: 1e-6)
        // Evaluation uses the running statistics.
        let e = Tensor.batchNorm(x, weight: Tensor([1], shape: [1]), bias: Tensor([0], shape: [1]),
                                 runningMean: rm, runningVar: rv, training: false)
        XCTAssertEqual(e[0, 0, 0, 0], (1 - 0.25) / (rv.item + 1e-5).squareRoot(), accuracy: 1e-5)
    }

    func testSoftmaxIsStableAndNormalised() {
        let z = Tensor([1000, 1001, 1002, -5, 0, 5], shape: [2, 3])
        let p = z.softmax()
        XCTAssertFalse(p.scalars.contains { $0.isNaN })
        XCTAssertEqual(p[0, 0] + p[0, 1] + p[0, 2], 1, accuracy: 1e-6)
        XCTAssertEqual(p[0, 2], 1 / (1 + expf(-1) + expf(-2)), accuracy: 1e-6)
        let lp = z.logSoftmax()
        XCTAssertEqual(lp[1, 1], -logf(expf(-5) + 1 + expf(5)), accuracy: 1e-5)
        XCTAssertEqual(Tensor.crossEntropy(z, labels: [2, 1]).item, (-lp[0, 2] - lp[1, 1]) / 2, accuracy: 1e-5)
    }

    func testShapingByHand() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [1, 1, 2, 3])
        // torch.rot90(x, 1, (2, 3)) of [[1,2,3],[4,5,6]] is [[3,6],[2,5],[1,4]].
        XCTAssertEqual(x.rotated90(1).scalars, [3, 6, 2, 5, 1, 4])
        XCTAssertEqual(x.rotated90(2).scalars, [6, 5, 4, 3, 2, 1])
        XCTAssertEqual(x.rotated90(3).scalars, [4, 1, 5, 2, 6, 3])
        XCTAssertEqual(x.padded(top: 0, bottom: 1, left: 1, right: 0).scalars, [0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0])
        XCTAssertEqual(Tensor.oneHot([2, 0], classes: 3).scalars, [0, 0, 1, 1, 0, 0])
        let m = Tensor([1, 5, 2, 7, 3, 3], shape: [2, 3])
        XCTAssertEqual(m.argmax(axis: 1), [1, 0])
        XCTAssertEqual(m.sum(axis: 0).scalars, [8, 8, 5])
        XCTAssertEqual(m.max(axis: 1).scalars, [5, 7])
        XCTAssertEqual(m.gather([2, 0]).scalars, [2, 7])
        XCTAssertEqual(Tensor.concat([m, m.slice(0..<1)]).shape, [3, 3])
        XCTAssertEqual((m + Tensor([10, 20, 30], shape: [3])).scalars, [11, 25, 32, 17, 23, 33])
        XCTAssertEqual((m * Tensor([2, 3], shape: [2, 1])).scalars, [2, 10, 4, 21, 9, 9])
    }

    func testInferenceModeRecordsNothing() {
        let w = testTensor([3, 3], seed: 1)
        w.requiresGrad = true
        let y = Autograd.inference { w.matmul(w).relu() }
        XCTAssertFalse(y.requiresGrad)
        let z = w.matmul(w)
        XCTAssertTrue(z.requiresGrad)
    }

    func testSeededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7), c = SeededGenerator(seed: 8)
        let xa = Tensor.normal([100], generator: &a), xb = Tensor.normal([100], generator: &b)
        let xc = Tensor.normal([100], generator: &c)
        XCTAssertEqual(xa.scalars, xb.scalars)
        XCTAssertNotEqual(xa.scalars, xc.scalars)
        let mean = xa.mean().item
        XCTAssertLessThan(Swift.abs(mean), 0.3)
    }
}
