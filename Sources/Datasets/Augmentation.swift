import TensorEngine

/// Random training-time augmentation of one image of raw [0, 1] pixels (applied before
/// normalisation), in this order:
/// 1. random crop with zero padding (`RandomCrop(size, padding:)`),
/// 2. horizontal flip with probability `flipProbability` (`RandomHorizontalFlip(p)`),
/// 3. random affine map (`RandomAffine(degrees, translate, scale)` with bilinear
///    sampling and zero fill): angle ~ U(−rotationDegrees, rotationDegrees), scale ~
///    U(scaleMin, scaleMax), shift ~ round(U(−maxShift·W, maxShift·W)) pixels
///    (vertically with H),
/// 4. additive Gaussian noise of std `noiseStd`, clamped to [0, 1].
///
/// Each step with its default value is off and draws nothing from the generator, so
/// results depend only on the configuration and the generator's state.
public struct Augmentation: Codable, Sendable, Equatable {
    /// Zero padding on every side before cropping back to H×W; 0 = no crop.
    public var cropPadding: Int
    /// Probability of mirroring left–right; 0 = never.
    public var flipProbability: Float
    /// Maximum rotation in degrees (both directions); 0 = none.
    public var rotationDegrees: Float
    /// Smallest scale factor.
    public var scaleMin: Float
    /// Largest scale factor.
    public var scaleMax: Float
    /// Largest shift as a fraction of the width (horizontally) and height (vertically).
    public var maxShift: Float
    /// Std of additive Gaussian pixel noise; 0 = none.
    public var noiseStd: Float

    /// A configuration; every default is "off".
    public init(cropPadding: Int = 0, flipProbability: Float = 0, rotationDegrees: Float = 0,
                scaleMin: Float = 1, scaleMax: Float = 1, maxShift: Float = 0, noiseStd: Float = 0) {
        self.cropPadding = cropPadding
        self.flipProbability = flipProbability
        self.rotationDegrees = rotationDegrees
        self.scaleMin = scaleMin
        self.scaleMax = scaleMax
        self.maxShift = maxShift
        self.noiseStd = noiseStd
    }

    /// No augmentation.
    public static let none = Augmentation()

    /// The verifier's light augmentation of trigger queries (docs/algorithms.md §4): rotation ±5°,
    /// scale 0.95–1, shift up to 10 %.
    public static let verifier = Augmentation(rotationDegrees: 5, scaleMin: 0.95, scaleMax: 1, maxShift: 0.1)

    /// Standard training augmentation: random crop with `padding`, plus a horizontal flip
    /// with p = 0.5 where mirrored images make sense (not for digits).
    public static func cropAndFlip(padding: Int, flip: Bool) -> Augmentation {
        Augmentation(cropPadding: padding, flipProbability: flip ? 0.5 : 0)
    }

    /// Whether every step is off.
    public var isIdentity: Bool { !hasCrop && flipProbability == 0 && !hasAffine && noiseStd == 0 }
    /// Whether the crop step is on.
    public var hasCrop: Bool { cropPadding > 0 }
    /// Whether the affine step is on.
    public var hasAffine: Bool { rotationDegrees != 0 || scaleMin != 1 || scaleMax != 1 || maxShift != 0 }

    /// Throws a `DatasetError` naming the first invalid field.
    public func validate() throws {
        func fail(_ problem: String) -> DatasetError { DatasetError(kind: .invalidArgument, problem: "augmentation: \(problem)") }
        if cropPadding < 0 { throw fail("cropPadding \(cropPadding) must be ≥ 0") }
        if !(flipProbability >= 0 && flipProbability <= 1) { throw fail("flipProbability \(flipProbability) must lie in [0, 1]") }
        if !(rotationDegrees >= 0 && rotationDegrees <= 180) { throw fail("rotationDegrees \(rotationDegrees) must lie in [0, 180]") }
        if !(scaleMin > 0 && scaleMin <= scaleMax && scaleMax.isFinite) {
            throw fail("scale range \(scaleMin)...\(scaleMax) must satisfy 0 < scaleMin ≤ scaleMax")
        }
        if !(maxShift >= 0 && maxShift <= 1) { throw fail("maxShift \(maxShift) must lie in [0, 1]") }
        if !(noiseStd >= 0 && noiseStd.isFinite) { throw fail("noiseStd \(noiseStd) must be ≥ 0") }
    }

    // Decoding accepts partial objects: absent fields keep their "off" defaults.
    private enum CodingKeys: String, CodingKey {
        case cropPadding, flipProbability, rotationDegrees, scaleMin, scaleMax, maxShift, noiseStd
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Augmentation()
        self.init(cropPadding: try c.decodeIfPresent(Int.self, forKey: .cropPadding) ?? d.cropPadding,
                  flipProbability: try c.decodeIfPresent(Float.self, forKey: .flipProbability) ?? d.flipProbability,
                  rotationDegrees: try c.decodeIfPresent(Float.self, forKey: .rotationDegrees) ?? d.rotationDegrees,
                  scaleMin: try c.decodeIfPresent(Float.self, forKey: .scaleMin) ?? d.scaleMin,
                  scaleMax: try c.decodeIfPresent(Float.self, forKey: .scaleMax) ?? d.scaleMax,
                  maxShift: try c.decodeIfPresent(Float.self, forKey: .maxShift) ?? d.maxShift,
                  noiseStd: try c.decodeIfPresent(Float.self, forKey: .noiseStd) ?? d.noiseStd)
        do { try validate() } catch let e as DatasetError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: e.problem))
        }
    }

    /// The random choices for one image.
    public struct Parameters: Sendable, Equatable {
        /// Crop origin in the padded image (`0...2·cropPadding`); `cropPadding` when no crop.
        public var top: Int, left: Int
        /// Whether to mirror.
        public var flip: Bool
        /// Rotation in degrees, scale factor, shift in pixels.
        public var angle: Float, scale: Float, translateX: Float, translateY: Float
    }

    /// Draws one image's parameters (crop top, crop left, flip, angle, shift x, shift y,
    /// scale: torchvision's order), skipping the draws of steps that are off.
    public func sampleParameters(height: Int, width: Int, generator: inout SeededGenerator) -> Parameters {
        var p = Parameters(top: cropPadding, left: cropPadding, flip: false, angle: 0, scale: scaleMin,
                           translateX: 0, translateY: 0)
        if cropPadding > 0 {
            p.top = generator.nextInt(below: 2 * cropPadding + 1)
            p.left = generator.nextInt(below: 2 * cropPadding + 1)
        }
        if flipProbability > 0 { p.flip = generator.nextFloat() < flipProbability }
        if rotationDegrees > 0 { p.angle = -rotationDegrees + 2 * rotationDegrees * generator.nextFloat() }
        if maxShift > 0 {
            let mx = maxShift * Float(width), my = maxShift * Float(height)
            p.translateX = (-mx + 2 * mx * generator.nextFloat()).rounded(.toNearestOrEven)
            p.translateY = (-my + 2 * my * generator.nextFloat()).rounded(.toNearestOrEven)
        }
        if scaleMax > scaleMin { p.scale = scaleMin + (scaleMax - scaleMin) * generator.nextFloat() }
        return p
    }

    /// Augments one C×H×W image from `src` into `dst`, drawing from `generator`.
    ///
    /// - Parameter scratch: `C·H·W` floats of working memory (used when crop/flip and
    ///   the affine step are both on). None of the three buffers may overlap.
    public func apply(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                      generator: inout SeededGenerator) {
        let p = sampleParameters(height: height, width: width, generator: &generator)
        let size = channels * height * width
        let geometric = cropPadding > 0 || p.flip
        if geometric && hasAffine {
            ImageTransforms.cropAndFlip(src, into: scratch, channels: channels, height: height, width: width,
                                        padding: cropPadding, top: p.top, left: p.left, flip: p.flip)
            ImageTransforms.affine(scratch, into: dst, channels: channels, height: height, width: width,
                                   angleDegrees: p.angle, scale: p.scale, translateX: p.translateX, translateY: p.translateY)
        } else if geometric {
            ImageTransforms.cropAndFlip(src, into: dst, channels: channels, height: height, width: width,
                                        padding: cropPadding, top: p.top, left: p.left, flip: p.flip)
        } else if hasAffine {
            ImageTransforms.affine(src, into: dst, channels: channels, height: height, width: width,
                                   angleDegrees: p.angle, scale: p.scale, translateX: p.translateX, translateY: p.translateY)
        } else {
            dst.update(from: src, count: size)
        }
        if noiseStd > 0 {
            ImageTransforms.addGaussianNoise(dst, count: size, std: noiseStd, generator: &generator)
        }
    }

    /// An augmented copy of one C×H×W image.
    public func apply(to image: [Float], channels: Int, height: Int, width: Int,
                      generator: inout SeededGenerator) -> [Float] {
        let size = channels * height * width
        precondition(image.count == size, "image has \(image.count) values, not \(channels)×\(height)×\(width)")
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(size, 1))
        defer { scratch.deallocate() }
        return [Float](unsafeUninitializedCapacity: size) { out, n in
            image.withUnsafeBufferPointer { src in
                apply(src.baseAddress!, into: out.baseAddress!, scratch: scratch, channels: channels,
                      height: height, width: width, generator: &generator)
            }
            n = size
        }
    }
}
