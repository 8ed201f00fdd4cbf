import XCTest
import TensorEngine
import TestSupport

/// The oneDNN convolution path and the channel-blocked kernels must agree with the portable
/// NCHW path (im2col + OpenBLAS, plain batch norm and pooling), forward and backward.
final class OneDNNTests: XCTestCase {
    override func tearDown() { Tensor.convolutionBackend = .automatic }

    /// Runs `f` on fresh copies of `inputs` under a backend; returns the output and input gradients.
    private func run(_ backend: Tensor.ConvolutionBackend, _ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> ([Float], [[Float]]) {
        Tensor.convolutionBackend = backend
        let copies = inputs.map { t -> Tensor in let c = t.copy(); c.requiresGrad = true; return c }
        let out = f(copies)
        project(out, seed: 5).backward()
        return (out.scalars, copies.map { $0.grad?.scalars ?? [] })
    }

    private func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 2e-4, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = Swift.max(worst, Swift.abs(x - y) / Swift.max(1, Swift.abs(y))) }
        XCTAssertLessThanOrEqual(worst, tolerance, "\(what): worst relative difference \(worst)", file: file, line: line)
    }

    private func compare(_ inputs: [Tensor], _ what: String, file: StaticString = #filePath, line: UInt = #line,
                         _ f: @escaping ([Tensor]) -> Tensor) {
        let (outA, gradsA) = run(.automatic, inputs, f)
        let (outB, gradsB) = run(.im2col, inputs, f)
        assertClose(outA, outB, "\(what) output", file: file, line: line)
        for (k, (ga, gb)) in zip(gradsA, gradsB).enumerated() { assertClose(ga, gb, "\(what) gradient \(k)", file: file, line: line) }
    }

    func testConvolutionsAgree() {
        let cases: [(x: [Int], w: [Int], stride: Int, padding: Int, bias: Bool)] = [
            ([4, 1, 12, 12], [16, 1, 3, 3], 1, 1, true),      // first layer: plain input
            ([3, 16, 9, 9], [32, 16, 3, 3], 1, 1, false),     // blocked in, blocked out
            ([3, 16, 9, 9], [32, 16, 3, 3], 2, 1, false),     // strided
            ([5, 32, 6, 6], [16, 32, 1, 1], 2, 0, false),     // 1×1 shortcut
            ([2, 16, 7, 7], [16, 16, 3, 3], 1, 0, true),      // no padding, bias
        ]
        for (i, c) in cases.enumerated() {
            let x = testTensor(c.x, seed: 10 + UInt64(i)), w = testTensor(c.w, seed: 20 + UInt64(i), scale: 0.3)
            let b = testTensor([c.w[0]], seed: 30 + UInt64(i))
            compare(c.bias ? [x, w, b] : [x, w], "conv case \(i)") { t in
                Tensor.conv2d(t[0], weight: t[1], bias: c.bias ? t[2] : nil, stride: c.stride, padding: c.padding)
            }
        }
    }

    func testBlockedChainAgrees() {
        // conv → batch norm (training) → relu → max pool → conv → relu + residual → global pool → linear.
        let x = testTensor([6, 1, 10, 10], seed: 1)
        let w1 = testTensor([16, 1, 3, 3], seed: 2, scale: 0.5), w2 = testTensor([16, 16, 3, 3], seed: 3, scale: 0.2)
        let gamma = testTensor([16], seed: 4).abs() + 0.5, beta = testTensor([16], seed: 5)
        let head = testTensor([3, 16], seed: 6)
        for training in [true, false] {
            compare([x, w1, w2, gamma, beta, head], "chain training=\(training)") { t in
                let rm = Tensor.zeros([16]), rv = Tensor.ones([16])
                let h = Tensor.batchNorm(Tensor.conv2d(t[0], weight: t[1], padding: 1), weight: t[3], bias: t[4],
                                         runningMean: rm, runningVar: rv, training: training).relu().maxPool2d(kernel: 2)
                let r = (Tensor.conv2d(h, weight: t[2], padding: 1).relu() + h).globalAvgPool()
                return r.matmul(t[5].transposed())
            }
        }
    }

    func testBlockedMaxPoolIsThePlainOneExactly() {
        // Values on a coarse grid so that windows hold ties (the gradient goes to the first of
        // them, as in the plain kernel), and odd sizes that leave a last row and column unused.
        let base = testTensor([3, 16, 9, 7], seed: 12)
        let x = Tensor(base.scalars.map { ($0 * 2).rounded() / 2 }, shape: base.shape)
        let upstream = testTensor([3, 16, 4, 3], seed: 13)
        func pooled(_ block: Int?) -> (out: [Float], grad: [Float]) {
            let leaf = x.copy(); leaf.requiresGrad = true
            let input = block.map { leaf.channelBlocked($0) } ?? leaf
            let out = input.maxPool2d(kernel: 2).plain()
            (out * upstream).sum().backward()
            return (out.scalars, leaf.grad!.plain().scalars)
        }
        let plain = pooled(nil)
        for block in [4, 8, 16] {
            let blocked = pooled(block)
            XCTAssertEqual(blocked.out, plain.out, "block \(block): values")
            XCTAssertEqual(blocked.grad, plain.grad, "block \(block): gradient to the first winner")
        }
        // Inference (no graph) gives the same values.
        XCTAssertEqual(x.channelBlocked(16).maxPool2d(kernel: 2).plain().scalars, plain.out)
    }

    func testLayoutRoundTrip() {
        let x = testTensor([2, 16, 3, 5], seed: 9)
        let b = x.channelBlocked(8)
        XCTAssertEqual(b.layout, .channelBlocked(8))
        XCTAssertEqual(b.scalars, x.scalars)
        XCTAssertEqual(b[1, 9, 2, 4], x[1, 9, 2, 4])
        XCTAssertEqual(b.plain().scalars, x.scalars)
        // Gradients come back in the input's layout.
        let leaf = x.copy(); leaf.requiresGrad = true
        project(leaf.channelBlocked(16).relu().maxPool2d(kernel: 1)).backward()
        XCTAssertEqual(leaf.grad?.layout, .plain)
    }

    func testBlockedBatchNormGradient() {
        let x = testTensor([3, 16, 3, 3], seed: 41, scale: 2)
        let w = testTensor([16], seed: 42), b = testTensor([16], seed: 43)
        for training in [true, false] {
            let failure = GradientCheck.check([x, w, b], atol: 3e-3) { t in
                project(Tensor.batchNorm(t[0].channelBlocked(8), weight: t[1], bias: t[2], runningMean: Tensor.zeros([16]),
                                         runningVar: Tensor.ones([16]), training: training))
            }
            XCTAssertNil(failure)
        }
    }
}
