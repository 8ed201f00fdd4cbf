import Crypto
import Datasets
import Foundation
import TensorEngine

/// The random choices the defense makes for one query row (docs/algorithms.md §2.4–2.5): whether to flip,
/// which reference logits to use, and the seed of the noise ε.
public struct RowDraw: Sendable, Equatable {
    /// Uniform in [0, 1): the row is flipped when this is below the flip probability.
    public var flipUniform: Double
    /// Index into the key's pool of reference logits.
    public var referenceIndex: Int
    /// Seed of the generator that draws ε (one standard normal per class).
    public var noiseSeed: UInt64

    public init(flipUniform: Double, referenceIndex: Int, noiseSeed: UInt64) {
        self.flipUniform = flipUniform
        self.referenceIndex = referenceIndex
        self.noiseSeed = noiseSeed
    }
}

/// Where row draws come from (docs/algorithms.md §2.7).
///
/// Keyed: HMAC-SHA256 under the key's 32-byte secret of a domain tag, the image shape and the
/// input quantised to bytes (`round(clamp(x, 0, 1)·255)`, NaN → 0), so the same input always gets
/// the same answer and nobody without the secret can predict or steer the draws. Quantising
/// first makes the answer independent of float noise below one grey level. The 32-byte tag is
/// split into three 64-bit words: the flip uniform (top 53 bits), the reference index (modulo the
/// pool size; the bias is below pool/2⁶⁴), and the noise seed.
///
/// Fresh: the same three words from a seeded stream keyed by (seed, call number, row), as the
/// authors' code draws fresh randomness per call; reproducible for a given seed and call order.
public struct RowRandomness: @unchecked Sendable {  // the HMAC prefix is only ever copied
    /// Domain tag that starts every HMAC message (bump with the derivation).
    public static let domainTag = Array("honeytrace/defense/row-draw/v1".utf8)

    /// HMAC state after the domain tag and the image shape: each row continues a copy of it
    /// (copy-on-write), so the key schedule is paid once, not per row.
    private let prefix: HMAC<SHA256>
    private let referenceCount: Int
    /// `[C, H, W]` of the images drawn for.
    public let shape: [Int]

    /// Keyed draws under `secret` for images of `shape` over a pool of `referenceCount`
    /// reference logit vectors.
    public init(secret: [UInt8], referenceCount: Int, shape: [Int]) {
        precondition(referenceCount > 0, "the reference pool must not be empty")
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: RowRandomness.domainTag)
        let dims = shape.map { UInt32(truncatingIfNeeded: $0).littleEndian }
        dims.withUnsafeBytes { mac.update(data: $0) }
        self.prefix = mac
        self.referenceCount = referenceCount
        self.shape = shape
    }

    /// Quantises `count` [0, 1] pixels to bytes: `round(clamp(x, 0, 1)·255)`, NaN → 0.
    @inline(__always)
    public static func quantize(_ pixels: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt8>) {
        for i in 0..<count {
            let x = pixels[i]
            let v: Float = x > 0 ? (x < 1 ? x : 1) : 0
            out[i] = UInt8(v * 255 + 0.5)
        }
    }

    /// The keyed draw for one quantised image (C·H·W bytes).
    public func keyedDraw(quantized: UnsafeRawBufferPointer) -> RowDraw {
        var mac = prefix
        mac.update(data: quantized)
        let tag = mac.finalize()
        var words = (UInt64(0), UInt64(0), UInt64(0))
        tag.withUnsafeBytes { raw in
            words.0 = RowRandomness.word(raw, 0)
            words.1 = RowRandomness.word(raw, 8)
            words.2 = RowRandomness.word(raw, 16)
        }
        return RowRandomness.draw(words.0, words.1, words.2, referenceCount: referenceCount)
    }

    /// The keyed draw for one image of [0, 1] pixels (quantised here).
    public func keyedDraw(pixels: [Float]) -> RowDraw {
        var bytes = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { p in
            bytes.withUnsafeMutableBufferPointer { RowRandomness.quantize(p.baseAddress!, count: p.count, into: $0.baseAddress!) }
        }
        return bytes.withUnsafeBytes { keyedDraw(quantized: $0) }
    }

    /// The fresh draw of row `row` in call number `call` of a stream seeded with `seed`.
    public static func freshDraw(seed: UInt64, call: UInt64, row: Int, referenceCount: Int) -> RowDraw {
        var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x6672_6573_68, call, UInt64(row)))  // salt "fresh"
        return draw(g.next(), g.next(), g.next(), referenceCount: referenceCount)
    }

    @inline(__always)
    private static func word(_ raw: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        var w: UInt64 = 0
        for i in 0..<8 { w |= UInt64(raw[offset + i]) << (8 * UInt64(i)) }
        return w
    }

    @inline(__always)
    private static func draw(_ a: UInt64, _ b: UInt64, _ c: UInt64, referenceCount: Int) -> RowDraw {
        RowDraw(flipUniform: Double(a >> 11) * (1.0 / 9_007_199_254_740_992.0),
                referenceIndex: Int(b % UInt64(referenceCount)), noiseSeed: c)
    }
}
