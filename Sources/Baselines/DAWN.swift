import Crypto
import Foundation
import Prediction

/// DAWN's settings (docs/algorithms.md §6): the share of queries turned into watermarks, the probability
/// above which a class takes part in the permutation, and how many logged queries form a
/// client's watermark.
public struct DAWNConfiguration: Sendable, Equatable, Codable {
    /// r_w: a query is a watermark iff the first 16 bits of its tag are below 2^16 · r_w.
    public var rate: Double
    /// Classes with a probability above this are permuted (unless at most one is; then the top 3).
    public var permuteAbove: Float
    /// How many classes are permuted when at most one exceeds `permuteAbove`.
    public var fallbackCount: Int
    /// The first this-many logged queries of a client form its watermark.
    public var watermarkSize: Int

    public init(rate: Double = 0.005, permuteAbove: Float = 0.2, fallbackCount: Int = 3, watermarkSize: Int = 100) {
        self.rate = rate
        self.permuteAbove = permuteAbove
        self.fallbackCount = fallbackCount
        self.watermarkSize = watermarkSize
    }

    /// Throws `invalidConfiguration` naming the first setting out of range.
    public func validate() throws {
        guard rate > 0, rate <= 1 else { throw BaselineError(.invalidConfiguration, "DAWN's watermark rate must lie in (0, 1], found \(rate)") }
        guard permuteAbove >= 0, permuteAbove < 1 else {
            throw BaselineError(.invalidConfiguration, "DAWN's permutation threshold must lie in [0, 1), found \(permuteAbove)")
        }
        guard fallbackCount >= 2 else { throw BaselineError(.invalidConfiguration, "DAWN permutes at least 2 classes, found \(fallbackCount)") }
        guard watermarkSize >= 1 else { throw BaselineError(.invalidConfiguration, "a DAWN watermark needs at least 1 query, found \(watermarkSize)") }
    }
}

/// One query DAWN turned into a watermark: its tag, the label the model gave and the wrong
/// label answered instead, and the changed probability row.
public struct DAWNMark: Sendable, Equatable {
    /// HMAC-SHA256 tag of the quantised query (32 bytes).
    public var digest: [UInt8]
    /// The wrapped model's top-1 label.
    public var originalLabel: Int
    /// The top-1 label of the changed answer (never `originalLabel`).
    public var answeredLabel: Int
    /// The probabilities answered: the original row with the selected classes permuted.
    public var probabilities: [Float]
}

/// DAWN (Szyller et al.), an API-side watermark that needs no training: a keyed, deterministic
/// choice of a small share of queries whose answers get a wrong top-1 label (docs/algorithms.md §6).
///
/// Canonical input: HMAC-SHA256 under the secret of the domain tag, the image shape `[C, H, W]`
/// as three little-endian UInt32, then every one of the C·H·W pixels quantised to a byte,
/// `round(clamp(x, 0, 1) · 255)` (NaN → 0). The whole image is hashed, so no pixel can be changed
/// without changing the tag, and the same 8-bit image gets the same tag whatever float noise
/// below half a grey level (1/510) it carries.
///
/// Decision: a watermark iff `h[0] << 8 | h[1]` (the first 16 bits, big-endian) is below
/// 2^16 · r_w. Answer: the classes above `permuteAbove` (the top `fallbackCount` when at most one
/// is) have their probabilities shuffled (Fisher–Yates over the classes in index order) by a
/// stream seeded from the other 30 bytes of h, reshuffled until the top-1 label changes. A row
/// whose selected probabilities are all equal cannot change its top-1 and is left as it is.
public struct DAWNMarker: Sendable {
    /// Domain tag that starts every HMAC message (bump with the derivation).
    public static let domainTag = Array("honeytrace/baseline/dawn/v1".utf8)

    public let secret: DAWNSecret
    public let configuration: DAWNConfiguration

    /// - Throws: `invalidConfiguration` for a setting out of range.
    public init(secret: DAWNSecret, configuration: DAWNConfiguration = DAWNConfiguration()) throws {
        try configuration.validate()
        self.secret = secret
        self.configuration = configuration
    }

    /// `round(clamp(x, 0, 1) · 255)`, NaN → 0: the canonical byte of a pixel.
    @inline(__always)
    public static func quantize(_ x: Float) -> UInt8 {
        let v: Float = x > 0 ? (x < 1 ? x : 1) : 0
        return UInt8(v * 255 + 0.5)
    }

    /// The canonical bytes of one image (C·H·W pixels).
    public static func quantize(_ pixels: UnsafeBufferPointer<Float>) -> [UInt8] {
        pixels.map { quantize($0) }
    }

    /// The tag of an already quantised image of `shape`.
    public func digest(quantized: [UInt8], shape: [Int]) -> [UInt8] {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret.bytes))
        mac.update(data: DAWNMarker.domainTag)
        let dims = shape.map { UInt32(truncatingIfNeeded: $0).littleEndian }
        dims.withUnsafeBytes { mac.update(data: $0) }
        mac.update(data: quantized)
        return Array(mac.finalize())
    }

    /// The tag of one image of [0, 1] pixels of `shape` (quantised here).
    public func digest(pixels: UnsafeBufferPointer<Float>, shape: [Int]) -> [UInt8] {
        digest(quantized: DAWNMarker.quantize(pixels), shape: shape)
    }

    /// Whether a query with tag `digest` is a watermark.
    public func isWatermark(digest: [UInt8]) -> Bool {
        Double(Int(digest[0]) << 8 | Int(digest[1])) < 65536 * configuration.rate
    }

    /// The classes whose probabilities are permuted, in index order.
    public func permutedClasses(_ row: [Float]) -> [Int] {
        let above = row.indices.filter { row[$0] > configuration.permuteAbove }
        if above.count >= 2 { return above }
        return ProbabilityRow.ranking(row).prefix(configuration.fallbackCount).sorted()
    }

    /// The answer DAWN gives instead of `row` for a watermark query with tag `digest`; nil when
    /// no permutation of the selected classes changes the top-1 label.
    public func permuted(_ row: [Float], digest: [UInt8]) -> [Float]? {
        let classes = permutedClasses(row)
        let values = classes.map { row[$0] }
        guard let first = values.first, values.contains(where: { $0 != first }) else { return nil }
        let top = ProbabilityRow.argmax(row)
        var stream = DigestStream(seed: Array(digest[2...]))
        while true {  // each shuffle moves the top-1 with probability ≥ 1/2 (2–4 classes exceed 0.2, or 3 are taken)
            var shuffled = values
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) {
                shuffled.swapAt(i, stream.uniform(below: i + 1))
            }
            var out = row
            for (k, c) in classes.enumerated() { out[c] = shuffled[k] }
            if ProbabilityRow.argmax(out) != top { return out }
        }
    }

    /// The watermark of one query: nil when the query is not one (or its top-1 cannot change),
    /// so its answer stays `row`, bit for bit.
    public func mark(_ row: [Float], pixels: UnsafeBufferPointer<Float>, shape: [Int]) -> DAWNMark? {
        let h = digest(pixels: pixels, shape: shape)
        guard isWatermark(digest: h), let changed = permuted(row, digest: h) else { return nil }
        return DAWNMark(digest: h, originalLabel: ProbabilityRow.argmax(row), answeredLabel: ProbabilityRow.argmax(changed),
                        probabilities: changed)
    }
}

/// Uniform draws from a seed: 64-bit words from SHA-256(seed ‖ block counter as UInt32 LE),
/// four per block; integers below a bound by rejection, so without bias.
struct DigestStream {
    private let seed: [UInt8]
    private var block: UInt32 = 0
    private var words: [UInt64] = []

    init(seed: [UInt8]) { self.seed = seed }

    mutating func next() -> UInt64 {
        if words.isEmpty {
            var hasher = SHA256()
            hasher.update(data: seed)
            withUnsafeBytes(of: block.littleEndian) { hasher.update(data: $0) }
            block &+= 1
            let bytes = Array(hasher.finalize())
            words = []
            for w in (0..<4).reversed() {
                var word: UInt64 = 0
                for i in 0..<8 { word |= UInt64(bytes[w * 8 + i]) << (8 * UInt64(i)) }
                words.append(word)
            }
        }
        return words.removeLast()
    }

    /// Uniform in 0..<bound.
    mutating func uniform(below bound: Int) -> Int {
        let b = UInt64(bound)
        let reject = (0 &- b) % b  // 2^64 mod b: the low words that would bias the remainder
        while true {
            let r = next()
            if r >= reject { return Int(r % b) }
        }
    }
}
