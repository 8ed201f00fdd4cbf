import Testing
import TensorEngine
import TestSupport
@testable import NeuralNet

@Suite("Noise U-Net")
struct NoiseUNetTests {
    @Test("output has the input's shape; one step embedding per row")
    func shapes() {
        let net = NoiseUNet(width: 3, seed: 1)
        let y = Autograd.inference { net(testTensor([2, 1, 28, 28], seed: 1), timesteps: [0, 999]) }
        #expect(y.shape == [2, 1, 28, 28])
        #expect(NoiseUNet(width: 16, seed: 1).parameterCount > 100_000)
    }

    @Test("time-conditioned block: gradients to input, embedding and weights match finite differences")
    func blockGradient() {
        var g = SeededGenerator(seed: 4)
        let block = TimeConditionedBlock(2, 3, embedding: 4, generator: &g)
        let x = awayFromZero([2, 2, 4, 4], seed: 5), e = awayFromZero([2, 4], seed: 6)
        let failure = GradientCheck.check([x, e, block.conv1.weight, block.project.weight, block.skip!.weight], step: 1e-3, atol: 5e-3, rtol: 5e-2) { t in
            project(block(t[0], embedding: t[1]), seed: 7)
        }
        #expect(failure == nil, "\(failure ?? "")")
    }

    /// A small step: a weight of the first convolution moves every activation, and with a step of
    /// 1e-3 some ReLUs change side (the numeric value then drifts toward the analytic one as the step shrinks).
    @Test("whole U-Net: gradients to the input and to weights at every resolution match finite differences")
    func unetGradient() {
        let net = NoiseUNet(width: 2, timeDimension: 4, seed: 8)
        let x = awayFromZero([2, 1, 8, 8], seed: 9)
        let failure = GradientCheck.check([x, net.inConv.weight, net.time1.weight, net.pool1.weight, net.upConv2.weight, net.outConv.weight],
                                          step: 1e-4, atol: 5e-3, rtol: 5e-2) { t in
            project(net(t[0], timesteps: [1, 7]), seed: 10)
        }
        #expect(failure == nil, "\(failure ?? "")")
    }
}
