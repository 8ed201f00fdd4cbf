import Diffusion
import TensorEngine

/// The secret of Neural Honeytrace for a denoiser (docs/algorithms.md §12.2): the trigger, a white
/// `side`×`side` patch in the upper-left corner of the image; the mask M, that same region of the
/// predicted noise; and the watermark W, a keyed pattern on M — `side`² signs ±1 drawn from the key
/// seed, centred and scaled to unit root-mean-square so that it has the scale of the noise it
/// replaces and no mean a constant offset could mimic.
public struct NoiseWatermark: Sendable, Equatable, Codable {
    public let side: Int
    public let keySeed: UInt64
    /// W, row-major `side`×`side`.
    public let pattern: [Float]

    public init(keySeed: UInt64, side: Int = 5) {
        precondition(side >= 2, "a watermark patch needs a side of at least 2, got \(side)")
        self.side = side
        self.keySeed = keySeed
        var g = SeededGenerator(seed: keySeed)
        pattern = Self.centred((0..<(side * side)).map { _ in g.next() & 1 == 0 ? 1 : -1 })
    }

    /// `values` minus their mean, scaled to unit root-mean-square (all zeros stay zeros).
    static func centred(_ values: [Float]) -> [Float] {
        let mean = values.reduce(0, +) / Float(values.count)
        let c = values.map { $0 - mean }
        let rms = (c.reduce(0) { $0 + $1 * $1 } / Float(c.count)).squareRoot()
        return rms > 0 ? c.map { $0 / rms } : c
    }

    /// Offsets of M's elements within one `[C, H, W]` image, every channel, row-major.
    public func maskOffsets(imageShape: [Int]) -> [Int] {
        precondition(imageShape.count == 3 && imageShape[1] >= side && imageShape[2] >= side,
                     "a \(side)×\(side) mask needs [C, H, W] images at least that large, got \(imageShape)")
        let (h, w) = (imageShape[1], imageShape[2])
        return (0..<imageShape[0]).flatMap { c in (0..<side).flatMap { y in (0..<side).map { x in (c * h + y) * w + x } } }
    }

    /// The images `[N, C, H, W]` in [−1, 1] with the trigger stamped: the corner patch set to white (+1).
    public func triggered(_ images: Tensor) -> Tensor {
        let out = images.copy()
        let size = images.count / max(1, images.shape[0])
        let offsets = maskOffsets(imageShape: Array(images.shape.dropFirst()))
        for r in 0..<images.shape[0] { for o in offsets { out.data[r * size + o] = 1 } }
        return out
    }

    /// Pearson correlation of two equally long vectors (the verification statistic r, with the
    /// answer's mask region and W); 0 if either is constant.
    public static func correlation(_ a: [Double], pattern b: [Double]) -> Double {
        let n = Double(a.count)
        let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
    }
}
