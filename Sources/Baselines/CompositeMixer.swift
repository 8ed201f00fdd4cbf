import TensorEngine

/// Where one composite's pixels come from: the split, its line, which source comes first and
/// the offset of each source's crop. Pixel (y, x) of a part is its source's pixel
/// (y + dy, x + dx), or 0 where that falls outside the source.
public struct CompositeLayout: Sendable, Equatable {
    public enum Split: String, Sendable, Codable {
        /// Columns before `line` from the first source, the rest from the second.
        case leftRight
        /// Rows before `line` from the first source, the rest from the second.
        case topBottom
    }

    public let split: Split
    /// First column (left/right) or row (top/bottom) of the second part.
    public let line: Int
    /// Whether the second argument of `compose` comes first (left or top).
    public let secondFirst: Bool
    /// (dy, dx) of the first argument's crop and of the second's.
    public let offsetA: [Int], offsetB: [Int]
}

/// The composite backdoor's mixer: the two halves of two images, split left/right or
/// top/bottom at random, the split line jittered around the middle, each half a randomly
/// offset crop of its source, which image comes first random.
public struct CompositeMixer: Codable, Sendable, Equatable {
    /// Largest distance of the split line from the middle, in pixels.
    public var jitter: Int
    /// Largest shift of each half's crop along each axis, in pixels.
    public var maxOffset: Int

    public init(jitter: Int = 3, maxOffset: Int = 2) {
        self.jitter = jitter
        self.maxOffset = maxOffset
    }

    public func validate(height: Int, width: Int) throws {
        guard jitter >= 0, maxOffset >= 0 else {
            throw BaselineError(.invalidConfiguration, "the composite mixer's jitter and offset must be non-negative, found \(jitter) and \(maxOffset)")
        }
        guard 2 * jitter + 2 <= min(height, width) else {
            throw BaselineError(.invalidConfiguration, "a split jitter of ±\(jitter) px leaves a part empty on \(height)×\(width) images")
        }
    }

    /// Draws a layout for `height`×`width` images.
    public func layout(height: Int, width: Int, generator g: inout SeededGenerator) -> CompositeLayout {
        let split: CompositeLayout.Split = g.nextInt(below: 2) == 0 ? .leftRight : .topBottom
        let side = split == .leftRight ? width : height
        let line = side / 2 + g.nextInt(below: 2 * jitter + 1) - jitter
        let secondFirst = g.nextInt(below: 2) == 1
        let span = 2 * maxOffset + 1
        let offsets = (0..<4).map { _ in g.nextInt(below: span) - maxOffset }
        return CompositeLayout(split: split, line: line, secondFirst: secondFirst,
                               offsetA: Array(offsets[0..<2]), offsetB: Array(offsets[2..<4]))
    }

    /// The composite of `a` and `b` (C×H×W each) under `layout`.
    public static func compose(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, channels: Int, height: Int, width: Int,
                               layout: CompositeLayout) -> [Float] {
        precondition(a.count == channels * height * width && b.count == a.count, "compose needs two images of \(channels)×\(height)×\(width)")
        var out = [Float](repeating: 0, count: a.count)
        let (first, second) = layout.secondFirst ? (b, a) : (a, b)
        let (firstOffset, secondOffset) = layout.secondFirst ? (layout.offsetB, layout.offsetA) : (layout.offsetA, layout.offsetB)
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    let inFirst = layout.split == .leftRight ? x < layout.line : y < layout.line
                    let (src, off) = inFirst ? (first, firstOffset) : (second, secondOffset)
                    let sy = y + off[0], sx = x + off[1]
                    guard sy >= 0, sy < height, sx >= 0, sx < width else { continue }
                    out[c * height * width + y * width + x] = src[src.startIndex + c * height * width + sy * width + sx]
                }
            }
        }
        return out
    }
}

/// MEA-Defender's evasion mixers: other ways of combining two source images, whose products
/// are labelled with a source so that only the composite's own structure answers the target.
/// Every pixel comes from `a` except a region taken, unshifted, from `b`.
public enum EvasionMixer: String, CaseIterable, Codable, Sendable {
    /// `b`'s middle third of rows.
    case middleBand = "middle-band"
    /// `b`'s centre square, half the side.
    case centreSquare = "centre-square"
    /// `b` strictly above the main diagonal (x·H > y·W).
    case diagonal
    /// `b`'s right half, split exactly in the middle with no shift.
    case halves

    /// Whether pixel (y, x) of an `height`×`width` image comes from `b`.
    public func takesSecond(y: Int, x: Int, height: Int, width: Int) -> Bool {
        switch self {
        case .middleBand: return y >= height / 3 && y < 2 * height / 3
        case .centreSquare: return y >= height / 4 && y < height / 4 + height / 2 && x >= width / 4 && x < width / 4 + width / 2
        case .diagonal: return x * height > y * width
        case .halves: return x >= width / 2
        }
    }

    public func mix(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, channels: Int, height: Int, width: Int) -> [Float] {
        precondition(a.count == channels * height * width && b.count == a.count, "mix needs two images of \(channels)×\(height)×\(width)")
        var out = Array(a)
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width where takesSecond(y: y, x: x, height: height, width: width) {
                    let i = c * height * width + y * width + x
                    out[i] = b[b.startIndex + i]
                }
            }
        }
        return out
    }
}
