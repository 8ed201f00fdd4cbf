import NeuralNet
import TensorEngine
import XCTest
@testable import Extraction

/// CLP against hand-computed values: the spectral norm of small matrices, the batch norm folded
/// into a channel's bound, the pairing of convolutions with their batch norms, and pruning exactly
/// the channels past mean + u·std.
final class ChannelLipschitzPruningTests: XCTestCase {
    func testSpectralNormOfKnownMatrices() {
        // diag(3, 1) padded: σ_max = 3. [[1, 1], [1, 1]]: σ_max = 2. A rank-one 2×3 u vᵀ: |u|·|v|.
        XCTAssertEqual(ChannelLipschitzPruning.spectralNorm([3, 0, 0, 1], rows: 2, cols: 2), 3, accuracy: 1e-9)
        XCTAssertEqual(ChannelLipschitzPruning.spectralNorm([1, 1, 1, 1], rows: 2, cols: 2), 2, accuracy: 1e-9)
        let u: [Float] = [1, 2], v: [Float] = [2, 0, 1]
        let outer = u.flatMap { a in v.map { a * $0 } }
        XCTAssertEqual(ChannelLipschitzPruning.spectralNorm(outer[...], rows: 2, cols: 3), (5.0).squareRoot() * (5.0).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(ChannelLipschitzPruning.spectralNorm([0, 0, 0, 0], rows: 2, cols: 2), 0)
    }

    func testBoundsFoldTheBatchNormAndPruningTakesTheOutliers() throws {
        var g = SeededGenerator(seed: 1)
        let conv = Conv2d(1, 6, kernel: 1, bias: false, generator: &g)
        let bn = BatchNorm2d(6)
        let net = Sequential([conv, bn, ReLU()])
        // 1×1 kernels from one input channel: each channel's spectral norm is |w_k|.
        let weights: [Float] = [1, -1, 1, 1, 1, 10]
        for k in 0..<6 { conv.weight.data[k] = weights[k] }
        bn.weight.data[1] = 2          // channel 1: |−1| · 2 / √(1 + ε)
        bn.runningVar.data[3] = 3      // channel 3: 1 / √(3 + ε)
        let layer = try XCTUnwrap(ChannelLipschitzPruning.layers(of: net).first)
        XCTAssertEqual(layer.convolution, "0")
        XCTAssertEqual(layer.batchNorm, "1")
        let eps = Double(bn.eps)
        let expected = [1 / (1 + eps).squareRoot(), 2 / (1 + eps).squareRoot(), 1 / (1 + eps).squareRoot(),
                        1 / (3 + eps).squareRoot(), 1 / (1 + eps).squareRoot(), 10 / (1 + eps).squareRoot()]
        for (a, b) in zip(layer.bounds, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // mean + 2·std of these bounds lies between 2 and 10: only channel 5 goes.
        let outcome = ChannelLipschitzPruning.prune(net, u: 2)
        XCTAssertEqual(outcome.prunedChannels, 1)
        XCTAssertEqual(outcome.totalChannels, 6)
        XCTAssertEqual(outcome.perLayer, ["0": 1])
        XCTAssertEqual(bn.weight.scalars[5], 0)
        XCTAssertEqual(bn.bias.scalars[5], 0)
        XCTAssertEqual(bn.weight.scalars[1], 2, "the others stay")
        // The switched-off channel answers 0 whatever the input.
        net.eval()
        let y = net(Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2]))
        XCTAssertEqual(Array(y.scalars[20..<24]), [0, 0, 0, 0])
    }

    func testEveryConvolutionOfTheReferenceArchitecturesIsFound() {
        for arch in [Architecture.fmnistCNN, .vggMini, .resnet8] {
            let net = arch.build(seed: 1)
            let layers = ChannelLipschitzPruning.layers(of: net)
            let convolutions = net.stateDict().filter { $0.1.shape.count == 4 }.count
            XCTAssertEqual(layers.count, convolutions, arch.rawValue)
            // Every convolution of vgg-mini and resnet-8 is followed by its batch norm; fmnist-cnn has none.
            XCTAssertEqual(layers.allSatisfy { $0.batchNorm != nil }, arch != .fmnistCNN, arch.rawValue)
            XCTAssertTrue(layers.allSatisfy { $0.bounds.allSatisfy { $0.isFinite && $0 > 0 } }, arch.rawValue)
        }
    }
}
