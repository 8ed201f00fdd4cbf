import TensorEngine

/// The residual block of a noise-predicting U-Net: relu(conv₁(x) + proj(e)) → conv₂, plus x (through
/// a 1×1 convolution when the channel count changes), through a ReLU. The step's embedding e enters
/// as one learned offset per channel, so every block knows how noisy its input is.
///
/// No normalisation: batch norm's statistics would mix the noise levels of a batch and differ
/// between training and serving, and the network is shallow enough to train without.
public final class TimeConditionedBlock: Module, @unchecked Sendable {
    public let conv1: Conv2d, conv2: Conv2d
    public let project: Linear
    public let skip: Conv2d?

    public init(_ inChannels: Int, _ outChannels: Int, embedding: Int, generator: inout SeededGenerator) {
        conv1 = Conv2d(inChannels, outChannels, kernel: 3, padding: 1, generator: &generator)
        project = Linear(embedding, outChannels, generator: &generator)
        conv2 = Conv2d(outChannels, outChannels, kernel: 3, padding: 1, generator: &generator)
        skip = inChannels == outChannels ? nil : Conv2d(inChannels, outChannels, kernel: 1, generator: &generator)
        super.init()
    }

    /// The block's output `[N, out, H, W]` for `x` `[N, in, H, W]` and the embedding `[N, embedding]`.
    public func callAsFunction(_ x: Tensor, embedding e: Tensor) -> Tensor {
        let offset = project(e).reshaped([e.shape[0], conv2.weight.shape[0], 1, 1])
        let h = conv2((conv1(x).plain() + offset).relu())
        return (h.plain() + (skip.map { $0(x).plain() } ?? x.plain())).relu()
    }

    public override var children: [(String, Module)] {
        [("conv1", conv1), ("project", project), ("conv2", conv2)] + (skip.map { [("skip", $0)] } ?? [])
    }
}
