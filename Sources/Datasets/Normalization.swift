/// Per-channel standardisation of [0, 1] pixels: `(x - mean[c]) / std[c]`, the same
/// arithmetic as torchvision's `Normalize` (subtract, then divide).
///
/// A single mean/std pair applies to every channel.
public struct Normalization: Codable, Sendable, Equatable {
    /// Per-channel means (one value = all channels).
    public let mean: [Float]
    /// Per-channel standard deviations, all positive (one value = all channels).
    public let std: [Float]

    /// Per-channel statistics; `mean` and `std` have the same, non-zero length and every
    /// std is positive and finite (checked with a precondition; use `validated` to throw).
    public init(mean: [Float], std: [Float]) {
        if let problem = Normalization.problem(mean: mean, std: std) { preconditionFailure(problem) }
        self.mean = mean
        self.std = std
    }

    /// The same statistics for every channel.
    public init(mean: Float, std: Float) { self.init(mean: [mean], std: [std]) }

    /// Throwing variant of `init(mean:std:)` for user-given values.
    public static func validated(mean: [Float], std: [Float]) throws -> Normalization {
        if let problem = problem(mean: mean, std: std) {
            throw DatasetError(kind: .invalidArgument, problem: problem)
        }
        return Normalization(mean: mean, std: std)
    }

    /// Fashion-MNIST's statistics, mean 0.2860 and std 0.3530 (docs/algorithms.md §9): the default.
    public static let fashionMNIST = Normalization(mean: 0.2860, std: 0.3530)
    /// MNIST's customary statistics, mean 0.1307 and std 0.3081.
    public static let mnist = Normalization(mean: 0.1307, std: 0.3081)
    /// CIFAR-10's customary per-channel statistics (RGB).
    public static let cifar10 = Normalization(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
    /// Leaves pixels unchanged (mean 0, std 1).
    public static let identity = Normalization(mean: 0, std: 1)

    private enum CodingKeys: String, CodingKey { case mean, std }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let mean = try c.decode([Float].self, forKey: .mean)
        let std = try c.decode([Float].self, forKey: .std)
        if let problem = Normalization.problem(mean: mean, std: std) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: problem))
        }
        self.mean = mean
        self.std = std
    }

    public static func problem(mean: [Float], std: [Float]) -> String? {
        if mean.isEmpty || mean.count != std.count {
            return "normalisation needs as many means as stds (at least one), got \(mean.count) and \(std.count)"
        }
        if let bad = std.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            return "normalisation std[\(bad)] = \(std[bad]) must be positive and finite"
        }
        if let bad = mean.firstIndex(where: { !$0.isFinite }) {
            return "normalisation mean[\(bad)] = \(mean[bad]) must be finite"
        }
        return nil
    }

    /// Whether this normalisation fits images with `channels` channels (one value, or one per channel).
    public func fits(channels: Int) -> Bool { mean.count == 1 || mean.count == channels }

    /// Throws unless `fits(channels:)`.
    public func check(channels: Int) throws {
        if !fits(channels: channels) {
            throw DatasetError(kind: .mismatch,
                               problem: "normalisation has \(mean.count) channel statistics, images have \(channels) channels")
        }
    }

    /// Mean of channel `c`.
    @inline(__always) public func mean(channel c: Int) -> Float { mean.count == 1 ? mean[0] : mean[c] }
    /// Std of channel `c`.
    @inline(__always) public func std(channel c: Int) -> Float { std.count == 1 ? std[0] : std[c] }

    /// `(x - mean) / std` for channel `c`.
    @inline(__always)
    public func normalize(_ x: Float, channel c: Int = 0) -> Float { (x - mean(channel: c)) / std(channel: c) }

    /// `y * std + mean` for channel `c`: back to pixel space.
    @inline(__always)
    public func denormalize(_ y: Float, channel c: Int = 0) -> Float { y * std(channel: c) + mean(channel: c) }

    /// The normalised values of pixel 0 and pixel 1 on channel `c` (the valid range after
    /// normalisation, e.g. for clipping adversarial queries).
    public func bounds(channel c: Int = 0) -> ClosedRange<Float> {
        normalize(0, channel: c)...normalize(1, channel: c)
    }

    /// Normalises `count` planes of `planeSize` values in place; plane `p` has channel `p % channels`
    /// (N×C×H×W order).
    public func apply(to values: UnsafeMutablePointer<Float>, planes count: Int, planeSize: Int, channels: Int) {
        apply(from: values, to: values, planes: count, planeSize: planeSize, channels: channels)
    }

    /// Writes the normalised `source` planes into `values` (one pass; `source` may be `values`).
    public func apply(from source: UnsafePointer<Float>, to values: UnsafeMutablePointer<Float>, planes count: Int, planeSize: Int,
                      channels: Int) {
        precondition(fits(channels: channels), "normalisation for \(mean.count) channels applied to \(channels)")
        for p in 0..<count {
            let m = mean(channel: p % channels), s = std(channel: p % channels)
            let src = source + p * planeSize, plane = values + p * planeSize
            for i in 0..<planeSize { plane[i] = (src[i] - m) / s }
        }
    }

    /// Normalises an N×C×H×W array in place.
    public func apply(to values: inout [Float], channels: Int, height: Int, width: Int) {
        let planeSize = height * width
        precondition(planeSize > 0 && values.count % (planeSize * channels) == 0,
                     "\(values.count) values are not whole \(channels)×\(height)×\(width) images")
        values.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            apply(to: base, planes: buf.count / planeSize, planeSize: planeSize, channels: channels)
        }
    }

    /// A normalised copy of an N×C×H×W array.
    public func applied(to values: [Float], channels: Int, height: Int, width: Int) -> [Float] {
        var out = values
        apply(to: &out, channels: channels, height: height, width: width)
        return out
    }
}
