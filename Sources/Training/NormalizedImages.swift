import Datasets
import TensorEngine

extension Normalization {
    /// The normalised copy of raw [0, 1] images `[B, C, H, W]`: what a network trained with this
    /// normalisation takes.
    public func normalized(_ pixels: Tensor) -> Tensor {
        let plain = pixels.layout == .plain ? pixels : Autograd.inference { pixels.plain() }
        let out = Tensor(uninitialized: pixels.shape)
        withExtendedLifetime(plain) {
            apply(from: plain.data, to: out.data, planes: pixels.shape[0] * pixels.shape[1], planeSize: pixels.shape[2] * pixels.shape[3],
                  channels: pixels.shape[1])
        }
        return out
    }
}

extension Normalization {
    /// `normalized(_:)` as tensor operations that autograd records, for images whose gradient must
    /// flow back through the normalisation (a data-free attack's generated images).
    public func normalizedRecordingGradient(_ pixels: Tensor) -> Tensor {
        precondition(pixels.rank == 4, "images must be [B, C, H, W], got \(pixels.shape)")
        let c = pixels.shape[1]
        let shift = Tensor((0..<c).map { -mean[$0 % mean.count] }, shape: [1, c, 1, 1])
        let scale = Tensor((0..<c).map { 1 / std[$0 % std.count] }, shape: [1, c, 1, 1])
        return (pixels + shift) * scale
    }

    /// The normalisation as engine operations on `channels`-channel images: x̂ = x · scale + shift with
    /// `[1, C, 1, 1]` tensors, so that a gradient reaches the raw pixels (∂/∂x = ∂/∂x̂ / std per channel).
    public func affine(channels c: Int) -> (scale: Tensor, shift: Tensor) {
        (Tensor((0..<c).map { 1 / std(channel: $0) }, shape: [1, c, 1, 1]),
         Tensor((0..<c).map { -mean(channel: $0) / std(channel: $0) }, shape: [1, c, 1, 1]))
    }
}
