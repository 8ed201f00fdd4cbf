#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The owner's mark for semantic-object watermarks (docs/algorithms.md §3): a small image with an opacity
/// mask, pasted near the bottom-right corner of clean images.
public struct LogoMark: Sendable, Equatable {
    /// Channels of `pixels` (1 grey or 3 RGB).
    public let channels: Int
    public let height: Int
    public let width: Int
    /// C×h×w values in [0, 1].
    public let pixels: [Float]
    /// h×w opacities in [0, 1] (1 = the logo replaces the image).
    public let alpha: [Float]

    /// A mark from [0, 1] pixels (C×h×w) and an optional opacity mask (h×w; nil = opaque).
    public init(pixels: [Float], channels: Int, height: Int, width: Int, alpha: [Float]? = nil) throws {
        func fail(_ problem: String) -> HoneytraceError { HoneytraceError(.invalidArgument, "logo: \(problem)") }
        guard channels == 1 || channels == 3 else { throw fail("must have 1 or 3 channels, found \(channels)") }
        guard height > 0, width > 0 else { throw fail("size \(height)×\(width) must be positive") }
        guard pixels.count == channels * height * width else {
            throw fail("\(pixels.count) pixel values given, \(channels)×\(height)×\(width) needs \(channels * height * width)")
        }
        if let bad = pixels.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw fail("pixel \(bad) is \(pixels[bad]); pixels must lie in [0, 1]")
        }
        let a = alpha ?? [Float](repeating: 1, count: height * width)
        guard a.count == height * width else { throw fail("opacity mask has \(a.count) values, \(height)×\(width) needs \(height * width)") }
        if let bad = a.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw fail("opacity \(bad) is \(a[bad]); opacities must lie in [0, 1]")
        }
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.alpha = a
    }

    /// The default logo side for images of `height`×`width`: 30 % of the shorter side, at least 5.
    public static func defaultSize(height: Int, width: Int) -> Int {
        min(min(height, width), max(5, Int((0.3 * Float(min(height, width))).rounded())))
    }

    /// The built-in mark, drawn procedurally: a white ring with a white centre dot (anti-aliased),
    /// transparent elsewhere, `size`×`size`, one channel.
    public static func builtIn(size: Int) -> LogoMark {
        precondition(size >= 3, "the built-in mark needs at least 3×3 pixels")
        let c = Float(size - 1) / 2
        let radius = 0.42 * Float(size), thickness = max(1, 0.16 * Float(size)), dot = max(0.6, 0.14 * Float(size))
        var alpha = [Float](repeating: 0, count: size * size)
        for y in 0..<size {
            for x in 0..<size {
                let r = sqrtf((Float(x) - c) * (Float(x) - c) + (Float(y) - c) * (Float(y) - c))
                let ring = min(max(thickness / 2 - abs(r - radius) + 0.5, 0), 1)
                let centre = min(max(dot - r + 0.5, 0), 1)
                alpha[y * size + x] = max(ring, centre)
            }
        }
        return LogoMark(unchecked: [Float](repeating: 1, count: size * size), channels: 1, height: size, width: size, alpha: alpha)
    }

    /// This mark made ready for images of shape [C, H, W]: converted to C channels (grey → RGB
    /// by repetition, RGB → grey by luminance 0.299/0.587/0.114) and, when larger than
    /// `defaultSize`, scaled down (bilinear, aspect kept) to fit it.
    public func fitted(to inputShape: [Int]) -> LogoMark {
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        let limit = LogoMark.defaultSize(height: h, width: w)
        var mark = self
        if height > limit || width > limit {
            let scale = Float(limit) / Float(max(height, width))
            mark = resized(height: max(1, Int((Float(height) * scale).rounded())), width: max(1, Int((Float(width) * scale).rounded())))
        }
        return mark.converted(channels: c)
    }

    /// The mark with `channels` channels.
    public func converted(channels target: Int) -> LogoMark {
        if target == channels { return self }
        let plane = height * width
        var out = [Float](repeating: 0, count: target * plane)
        if channels == 1 {
            for c in 0..<target { for i in 0..<plane { out[c * plane + i] = pixels[i] } }
        } else {
            var grey = [Float](repeating: 0, count: plane)
            for i in 0..<plane {
                // Luminance of the first three channels (RGB); other counts average them.
                grey[i] = channels == 3
                    ? min(1, 0.299 * pixels[i] + 0.587 * pixels[plane + i] + 0.114 * pixels[2 * plane + i])
                    : (0..<channels).reduce(0) { $0 + pixels[$1 * plane + i] } / Float(channels)
            }
            for c in 0..<target { for i in 0..<plane { out[c * plane + i] = grey[i] } }
        }
        return LogoMark(unchecked: out, channels: target, height: height, width: width, alpha: alpha)
    }

    init(unchecked pixels: [Float], channels: Int, height: Int, width: Int, alpha: [Float]) {
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.alpha = alpha
    }

    /// A bilinear resize (pixel centres aligned, edges clamped).
    public func resized(height newH: Int, width newW: Int) -> LogoMark {
        func sample(_ plane: UnsafePointer<Float>, _ y: Float, _ x: Float) -> Float {
            let y0 = min(max(Int(floorf(y)), 0), height - 1), x0 = min(max(Int(floorf(x)), 0), width - 1)
            let y1 = min(y0 + 1, height - 1), x1 = min(x0 + 1, width - 1)
            let ay = min(max(y - Float(y0), 0), 1), ax = min(max(x - Float(x0), 0), 1)
            let top = (1 - ax) * plane[y0 * width + x0] + ax * plane[y0 * width + x1]
            let bottom = (1 - ax) * plane[y1 * width + x0] + ax * plane[y1 * width + x1]
            return (1 - ay) * top + ay * bottom
        }
        let sy = Float(height) / Float(newH), sx = Float(width) / Float(newW)
        var out = [Float](repeating: 0, count: channels * newH * newW)
        var a = [Float](repeating: 0, count: newH * newW)
        pixels.withUnsafeBufferPointer { p in
            alpha.withUnsafeBufferPointer { al in
                for y in 0..<newH {
                    let fy = (Float(y) + 0.5) * sy - 0.5
                    for x in 0..<newW {
                        let fx = (Float(x) + 0.5) * sx - 0.5
                        for c in 0..<channels {
                            out[(c * newH + y) * newW + x] = min(max(sample(p.baseAddress! + c * height * width, fy, fx), 0), 1)
                        }
                        a[y * newW + x] = min(max(sample(al.baseAddress!, fy, fx), 0), 1)
                    }
                }
            }
        }
        return LogoMark(unchecked: out, channels: channels, height: newH, width: newW, alpha: a)
    }
}
