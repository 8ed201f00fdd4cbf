import NeuralNet
import TensorEngine
import TestSupport
import XCTest

/// DFME's generator: shapes, pixel range, and gradients through its whole stack (batch norms in
/// training mode on a generated batch, upsampling, convolutions, tanh) against finite differences.
final class ImageGeneratorTests: XCTestCase {
    func testShapesAndPixelRange() {
        let g = ImageGenerator(noiseDimension: 6, imageShape: [3, 8, 12], width: 4, seed: 1)
        var r = SeededGenerator(seed: 2)
        let z = Tensor.normal([5, 6], generator: &r)
        let pre = g.preActivation(z)
        XCTAssertEqual(pre.shape, [5, 3, 8, 12])
        let x = g(z)
        XCTAssertEqual(x.shape, [5, 3, 8, 12])
        XCTAssertTrue(x.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertEqual(x.scalars, ImageGenerator.pixels(pre).scalars)
        // PyTorch-style names: the projection and the numbered blocks, batch-norm buffers included.
        let names = g.stateDict().map(\.0)
        XCTAssertTrue(names.contains("project.weight") && names.contains("blocks.0.running_mean") && names.contains("blocks.2.weight"))
        // Same seed, same generator.
        let h = ImageGenerator(noiseDimension: 6, imageShape: [3, 8, 12], width: 4, seed: 1)
        XCTAssertEqual(h.preActivation(z).scalars, pre.scalars)
    }

    func testGradientsMatchFiniteDifferences() {
        let g = ImageGenerator(noiseDimension: 4, imageShape: [1, 8, 8], width: 2, seed: 3)
        g.train()
        var r = SeededGenerator(seed: 4)
        let z = Tensor.normal([3, 4], generator: &r)
        // The last convolution's weights: nudging the projection's moves every activation and crosses
        // LeakyReLU kinks within any usable step.
        let weight = (g.blocks.layers[9] as! Conv2d).weight
        // Batch statistics make every image depend on the whole batch: the check covers that too. The
        // stack is curved enough (tanh, batch norm over 3 images) that a step of 1e-2 is too coarse.
        let problem = GradientCheck.check([z, weight], step: 1e-3, atol: 3e-3, rtol: 3e-2) { inputs in
            project(ImageGenerator.pixels(g.preActivation(inputs[0])))
        }
        XCTAssertNil(problem)
        // Every parameter receives a gradient.
        for p in g.parameters { p.grad = nil }
        project(g(z)).backward()
        for (name, p) in g.namedParameters() { XCTAssertNotNil(p.grad, name) }
    }
}
