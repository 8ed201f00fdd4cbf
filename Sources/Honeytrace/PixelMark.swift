/// How far a query's pixels are from carrying the key's stamped mark (beyond the paper): the
/// similarity of the `pixel-mark` score.
///
/// Why: a thief with data like the owner's sends natural images, whose penultimate features the
/// mark barely moves, so feature-space scores pick flips that share little with the verifier's
/// triggers. Flipping instead the natural queries that already look, pixel for pixel, like a marked
/// image teaches the copy the very pattern the triggers carry.
///
/// - White block: 1 − mean of the block's pixels + mean of a ring of `ring` pixels around it (a
///   bright square on a darker surround reads 0; a dark block, or a bright block inside a bright
///   area, reads 1 or more).
/// - Logo: the mean over the logo's box of α·|logo − pixel|, divided by the mean α (0 when the logo
///   is there).
/// Composites have no pixel pattern of their own (their region comes from another image), so they
/// have no pixel mark.
public struct PixelMark: Sendable {
    /// Offsets (within one image) of the mark's pixels and of its surrounding ring, over all channels.
    let markOffsets: [Int]
    let ringOffsets: [Int]
    /// Logo only: the pixel value and weight at each mark offset.
    let logoValues: [Float]?
    let logoWeights: [Float]?

    /// Width of the ring around a white block, in pixels.
    public static let ring = 2

    /// The pixel mark of `recipe` on images of `inputShape` ([C, H, W]).
    /// - Throws: `HoneytraceError` for composite recipes (no pixel pattern).
    public init(recipe: WatermarkRecipe, inputShape: [Int]) throws {
        guard inputShape.count == 3 else { throw HoneytraceError(.invalidArgument, "input shape must be [C, H, W], found \(inputShape)") }
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        let plane = h * w
        switch recipe.kind {
        case .composite:
            throw HoneytraceError(.invalidArgument, "the pixel-mark score needs a stamped mark (white block or logo); a composite has no pixel pattern of its own")
        case .whiteBlock:
            let s = min(recipe.resolvedBlockSize(height: h, width: w), h, w)
            let (top, left) = WatermarkImages.cornerOrigin(markHeight: s, markWidth: s, height: h, width: w, corner: recipe.resolvedCorner)
            var mark: [Int] = [], ring: [Int] = []
            for ch in 0..<c {
                for y in max(0, top - PixelMark.ring)..<min(h, top + s + PixelMark.ring) {
                    for x in max(0, left - PixelMark.ring)..<min(w, left + s + PixelMark.ring) {
                        let inside = y >= top && y < top + s && x >= left && x < left + s
                        if inside { mark.append(ch * plane + y * w + x) } else { ring.append(ch * plane + y * w + x) }
                    }
                }
            }
            markOffsets = mark; ringOffsets = ring; logoValues = nil; logoWeights = nil
        case .logo:
            guard let logo = WatermarkImages.resolvedLogo(recipe, shape: inputShape) else {
                throw HoneytraceError(.invalidArgument, "the logo recipe has no logo for images of shape \(inputShape)")
            }
            let lh = min(logo.height, h), lw = min(logo.width, w)
            let (top, left) = WatermarkImages.cornerOrigin(markHeight: lh, markWidth: lw, height: h, width: w, corner: recipe.resolvedCorner)
            var offsets: [Int] = [], values: [Float] = [], weights: [Float] = []
            for ch in 0..<c {
                for y in 0..<lh {
                    for x in 0..<lw where logo.alpha[y * logo.width + x] > 0 {
                        offsets.append(ch * plane + (top + y) * w + left + x)
                        values.append(logo.pixels[ch * logo.height * logo.width + y * logo.width + x])
                        weights.append(logo.alpha[y * logo.width + x])
                    }
                }
            }
            guard !offsets.isEmpty else { throw HoneytraceError(.invalidArgument, "the key's logo is fully transparent") }
            markOffsets = offsets; ringOffsets = []; logoValues = values; logoWeights = weights
        }
    }

    /// The distance of one image (C×H×W pixels in [0, 1]) from carrying the mark: 0 when it does.
    @inline(__always)
    public func distance(_ x: UnsafePointer<Float>) -> Float {
        if let values = logoValues, let weights = logoWeights {
            var sum: Float = 0, total: Float = 0
            for i in markOffsets.indices {
                sum += weights[i] * abs(values[i] - x[markOffsets[i]])
                total += weights[i]
            }
            return sum / total
        }
        var inside: Float = 0
        for o in markOffsets { inside += x[o] }
        var around: Float = 0
        for o in ringOffsets { around += x[o] }
        return 1 - inside / Float(markOffsets.count) + (ringOffsets.isEmpty ? 0 : around / Float(ringOffsets.count))
    }
}
