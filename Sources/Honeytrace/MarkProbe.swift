/// A linear probe in the model's penultimate feature space that tells watermarked images from
/// their paired controls (beyond the paper): Fisher's discriminant between the features of
/// trigger/control pairs built with the key's recipe, scaled so that it reads 0 at the controls'
/// mean and 1 at the marked images' mean.
///
/// Why: the paper's similarity (distance to the watermark features) also rises for any query
/// whose features are merely unusual, so on out-of-distribution attack queries it flips answers
/// that have nothing of the mark, and the thief's copy learns a bias toward the target rather
/// than the mark. The probe responds to the direction in which the mark itself moves the
/// features, so the flipped queries are those that carry what the verifier's triggers carry and
/// their controls lack (`DefenseConfiguration.Score.markProbe`).
public struct MarkProbe: Sendable, Equatable {
    /// Weights w, `[F]`.
    public let weights: [Float]
    /// Bias b: the probe reads w·h + b.
    public let bias: Float

    /// A probe from its parts (weights must be finite).
    public init(weights: [Float], bias: Float) throws {
        guard !weights.isEmpty else { throw HoneytraceError(.invalidKey, "the mark probe has no weights") }
        if let bad = weights.firstIndex(where: { !$0.isFinite }) { throw HoneytraceError(.invalidKey, "mark probe weight \(bad) is not finite") }
        guard bias.isFinite else { throw HoneytraceError(.invalidKey, "the mark probe's bias is not finite") }
        self.weights = weights
        self.bias = bias
    }

    /// Feature width F.
    public var width: Int { weights.count }

    /// The probe's reading of one feature row (0 ≈ a control, 1 ≈ a marked image).
    @inline(__always)
    public func score(_ h: UnsafePointer<Float>) -> Float {
        bias + weights.withUnsafeBufferPointer { FeatureDistance.dot($0.baseAddress!, h, $0.count) }
    }

    /// Fits the probe to the features of marked images and of their controls (`[rows, F]` each).
    ///
    /// w = (S + λI)⁻¹ (μ_marked − μ_control), with S the covariance pooled within both groups and
    /// λ = `shrinkage` × tr(S)/F (shrinkage keeps w from leaning on directions in which the owner's
    /// data barely varies but attack queries may vary a lot), then scaled so that the group
    /// means read 0 and 1.
    ///
    /// - Throws: `HoneytraceError` when the groups are empty, widths differ, or the marks do not
    ///   move the features at all (the probe would be undefined).
    public static func fit(marked: [Float], controls: [Float], width: Int, shrinkage: Double = 0.1) throws -> MarkProbe {
        guard width > 0, !marked.isEmpty, !controls.isEmpty, marked.count % width == 0, controls.count % width == 0 else {
            throw HoneytraceError(.insufficientData, "the mark probe needs marked and control features of width \(width), found \(marked.count) and \(controls.count) values")
        }
        guard shrinkage > 0 && shrinkage <= 1 else { throw HoneytraceError(.invalidArgument, "probe shrinkage \(shrinkage) must lie in (0, 1]") }
        let f = width
        let mMarked = mean(marked, width: f), mControl = mean(controls, width: f)
        var scatter = [Double](repeating: 0, count: f * f)
        accumulateScatter(marked, mean: mMarked, width: f, into: &scatter)
        accumulateScatter(controls, mean: mControl, width: f, into: &scatter)
        let rows = Double(marked.count / f + controls.count / f)
        var trace = 0.0
        for i in 0..<(f * f) { scatter[i] /= max(rows - 2, 1) }
        for i in 0..<f { trace += scatter[i * f + i] }
        let lambda = shrinkage * max(trace / Double(f), 1e-12)
        for i in 0..<f {
            for j in 0..<f { scatter[i * f + j] *= (1 - shrinkage) }
            scatter[i * f + i] += lambda
        }
        let delta = zip(mMarked, mControl).map { $0 - $1 }
        guard delta.contains(where: { $0 != 0 }) else {
            throw HoneytraceError(.insufficientData, "the mark does not change the model's features; no probe can tell marked images from controls")
        }
        guard let w = choleskySolve(scatter, delta, size: f) else {
            throw HoneytraceError(.insufficientData, "the feature covariance of the probe's images is not positive definite")
        }
        let low = zip(w, mControl).reduce(0) { $0 + $1.0 * $1.1 }
        let high = zip(w, mMarked).reduce(0) { $0 + $1.0 * $1.1 }
        // w·Δ = Δᵀ(S + λI)⁻¹Δ > 0 for Δ ≠ 0, so high > low.
        let span = high - low
        guard span > 0, span.isFinite else {
            throw HoneytraceError(.insufficientData, "the probe cannot separate marked images from controls")
        }
        return try MarkProbe(weights: w.map { Float($0 / span) }, bias: Float(-low / span))
    }

    static func mean(_ x: [Float], width f: Int) -> [Double] {
        let rows = x.count / f
        var m = [Double](repeating: 0, count: f)
        for r in 0..<rows { for j in 0..<f { m[j] += Double(x[r * f + j]) } }
        return m.map { $0 / Double(max(rows, 1)) }
    }

    static func accumulateScatter(_ x: [Float], mean m: [Double], width f: Int, into s: inout [Double]) {
        let rows = x.count / f
        var centred = [Double](repeating: 0, count: f)
        for r in 0..<rows {
            for j in 0..<f { centred[j] = Double(x[r * f + j]) - m[j] }
            for i in 0..<f {
                let ci = centred[i]
                for j in i..<f { s[i * f + j] += ci * centred[j] }
            }
        }
        for i in 0..<f { for j in 0..<i { s[i * f + j] = s[j * f + i] } }
    }

    /// Solves A x = b for a symmetric positive definite `size`×`size` A (row-major) by Cholesky
    /// factorisation; nil when A is not positive definite.
    static func choleskySolve(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0 else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * n + k] * y[k] }
            y[i] = sum / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = y[i]
            for k in (i + 1)..<n { sum -= l[k * n + i] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }
}
