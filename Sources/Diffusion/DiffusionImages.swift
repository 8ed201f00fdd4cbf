import Datasets
import TensorEngine

/// Images in DDPM's range [−1, 1] (2·pixel − 1), row-major `[N, C, H, W]`, with the random batches
/// of ε-prediction training.
public struct DiffusionImages: Sendable {
    public let name: String
    public let imageShape: [Int]
    public let values: [Float]
    public var count: Int { values.count / max(1, imageShape.reduce(1, *)) }
    public var imageSize: Int { imageShape.reduce(1, *) }

    /// The images of `dataset` (pixels in [0, 1]) mapped to [−1, 1].
    public init(_ dataset: ImageDataset) {
        name = dataset.name
        imageShape = dataset.imageShape
        values = dataset.pixels.map { 2 * $0 - 1 }
    }

    public init(name: String, imageShape: [Int], values: [Float]) {
        precondition(imageShape.count == 3 && values.count % imageShape.reduce(1, *) == 0,
                     "\(values.count) values do not make whole images of shape \(imageShape)")
        self.name = name; self.imageShape = imageShape; self.values = values
    }

    /// The images at `indices` as one `[n, C, H, W]` tensor.
    public func batch(_ indices: [Int]) -> Tensor {
        let size = imageSize
        var out = [Float](repeating: 0, count: indices.count * size)
        for (r, i) in indices.enumerated() {
            precondition(i >= 0 && i < count, "image \(i) out of 0..<\(count) in \(name)")
            for k in 0..<size { out[r * size + k] = values[i * size + k] }
        }
        return Tensor(out, shape: [indices.count] + imageShape)
    }

    /// One training batch of ε-prediction: `size` random images, steps uniform in 0..<T, fresh
    /// noise ε; returns (x_t, t, ε).
    public func denoisingBatch(_ size: Int, schedule: NoiseSchedule, generator g: inout SeededGenerator)
        -> (x: Tensor, timesteps: [Int], target: Tensor) {
        let x0 = batch((0..<size).map { _ in g.nextInt(below: count) })
        let t = schedule.randomSteps(size, generator: &g)
        let noise = Tensor.normal(x0.shape, generator: &g)
        return (schedule.noised(x0, noise: noise, timesteps: t), t, noise)
    }

    /// Pixels in [0, 1] of a `[N, C, H, W]` tensor in [−1, 1], clamped.
    public static func unitPixels(_ x: Tensor) -> [Float] { x.scalars.map { min(max(($0 + 1) / 2, 0), 1) } }
}
