import Datasets
import TensorEngine

extension Normalization {
    /// The normalised copy of raw [0, 1] images `[B, C, H, W]`: what a network trained with this
    /// normalisation takes.
    public func normalized(_ pixels: Tensor) -> Tensor {
        let out = Tensor(pixels.scalars, shape: pixels.shape)
        apply(to: out.data, planes: pixels.shape[0] * pixels.shape[1], planeSize: pixels.shape[2] * pixels.shape[3], channels: pixels.shape[1])
        return out
    }
}
