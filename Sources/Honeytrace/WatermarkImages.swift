/// The image operations behind watermark recipes (docs/algorithms.md §3), on C×H×W [0, 1] pixels in
/// caller-owned memory (no allocation).
public enum WatermarkImages {
    /// Margin between a stamped mark and its corner: 1/14 of the shorter side
    /// (2 px on 28×28 and 32×32), so the verifier's shifts rarely push the mark out of frame.
    public static func cornerMargin(height: Int, width: Int) -> Int { max(1, min(height, width) / 14) }

    /// Top-left pixel of a `markHeight`×`markWidth` mark placed near `corner`.
    public static func cornerOrigin(markHeight: Int, markWidth: Int, height: Int, width: Int,
                                    corner: WatermarkRecipe.Corner = .bottomRight) -> (top: Int, left: Int) {
        let m = cornerMargin(height: height, width: width)
        let bottom = max(0, height - markHeight - m), right = max(0, width - markWidth - m)
        let top = min(m, bottom), left = min(m, right)
        switch corner {
        case .bottomRight: return (bottom, right)
        case .bottomLeft: return (bottom, left)
        case .topRight: return (top, right)
        case .topLeft: return (top, left)
        }
    }

    /// `out` = `base` with `region` replaced by the same region of `donor` (all channels).
    /// `out` may alias `base`.
    public static func composite(base: UnsafePointer<Float>, donor: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                 channels: Int, height: Int, width: Int, region: WatermarkRecipe.Region) {
        let plane = height * width
        if UnsafePointer(out) != base { out.update(from: base, count: channels * plane) }
        let (rows, cols) = region.bounds(height: height, width: width)
        guard !cols.isEmpty else { return }
        for c in 0..<channels {
            for y in rows {
                let offset = c * plane + y * width + cols.lowerBound
                (out + offset).update(from: donor + offset, count: cols.count)
            }
        }
    }

    /// Sets a `size`×`size` square near `corner` to 1 (white) in every channel.
    public static func stampBlock(_ image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int, size: Int,
                                  corner: WatermarkRecipe.Corner = .bottomRight) {
        let s = min(size, height, width)
        let (top, left) = cornerOrigin(markHeight: s, markWidth: s, height: height, width: width, corner: corner)
        for c in 0..<channels {
            for y in top..<(top + s) {
                (image + c * height * width + y * width + left).update(repeating: 1, count: s)
            }
        }
    }

    /// Blends `mark` (already `fitted` to the image's channels) near `corner`:
    /// pixel = (1 − a)·pixel + a·logo.
    public static func pasteLogo(_ mark: LogoMark, into image: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
                                 corner: WatermarkRecipe.Corner = .bottomRight) {
        precondition(mark.channels == channels, "logo has \(mark.channels) channels, the image \(channels)")
        let h = min(mark.height, height), w = min(mark.width, width)
        let (top, left) = cornerOrigin(markHeight: h, markWidth: w, height: height, width: width, corner: corner)
        for c in 0..<channels {
            for y in 0..<h {
                for x in 0..<w {
                    let a = mark.alpha[y * mark.width + x]
                    let o = c * height * width + (top + y) * width + left + x
                    image[o] = (1 - a) * image[o] + a * mark.pixels[(c * mark.height + y) * mark.width + x]
                }
            }
        }
    }

    /// One watermarked image of `recipe` into `out`: a composite of `base` and `donor`, or
    /// `base` with the white block or the logo. `logo` is the recipe's mark fitted to the image
    /// (required for logo recipes).
    public static func make(_ recipe: WatermarkRecipe, logo: LogoMark?, base: UnsafePointer<Float>, donor: UnsafePointer<Float>?,
                            into out: UnsafeMutablePointer<Float>, shape: [Int]) {
        let (c, h, w) = (shape[0], shape[1], shape[2])
        switch recipe.kind {
        case .composite:
            guard let donor else { preconditionFailure("a composite needs a donor image") }
            composite(base: base, donor: donor, into: out, channels: c, height: h, width: w,
                      region: recipe.resolvedRegion(height: h, width: w))
        case .whiteBlock:
            if UnsafePointer(out) != base { out.update(from: base, count: c * h * w) }
            stampBlock(out, channels: c, height: h, width: w, size: recipe.resolvedBlockSize(height: h, width: w),
                       corner: recipe.resolvedCorner)
        case .logo:
            guard let logo else { preconditionFailure("a logo recipe needs its mark") }
            if UnsafePointer(out) != base { out.update(from: base, count: c * h * w) }
            pasteLogo(logo, into: out, channels: c, height: h, width: w, corner: recipe.resolvedCorner)
        }
    }

    /// The mark a logo recipe pastes on images of `shape`: the recipe's own (fitted) or the
    /// built-in one at the default size. Nil for other kinds.
    public static func resolvedLogo(_ recipe: WatermarkRecipe, shape: [Int]) -> LogoMark? {
        guard recipe.kind == .logo else { return nil }
        if let mark = recipe.logo { return mark.fitted(to: shape) }
        return LogoMark.builtIn(size: LogoMark.defaultSize(height: shape[1], width: shape[2])).converted(channels: shape[0])
    }
}
