/// The closed-form two-task MGDA weight (Sener & Koltun): the α ∈ [0, 1] that minimises
/// ‖α·g1 + (1 − α)·g2‖², MEA-Defender's weighting of its two task gradients.
///
/// α* = clamp((g2 − g1)·g2 / ‖g1 − g2‖², 0, 1); equal gradients give ½ (every α is optimal).
public enum MinNormWeight {
    public static func alpha(_ g1: [Float], _ g2: [Float]) -> Float {
        alpha(g1, g2, losses: (1, 1), normalization: .none)
    }

    /// α for g1 / n1 and g2 / n2, each n the `normalization` divisor of its task's gradient norm
    /// and `losses` (see `GradientNormalization`).
    public static func alpha(_ g1: [Float], _ g2: [Float], losses: (Double, Double), normalization: GradientNormalization) -> Float {
        precondition(g1.count == g2.count, "gradients of \(g1.count) and \(g2.count) values")
        var aa = 0.0, ab = 0.0, bb = 0.0
        for i in g1.indices {
            let a = Double(g1[i]), b = Double(g2[i])
            aa += a * a
            ab += a * b
            bb += b * b
        }
        let n1 = normalization.divisor(norm: aa.squareRoot(), loss: losses.0)
        let n2 = normalization.divisor(norm: bb.squareRoot(), loss: losses.1)
        // With u = g1 / n1 and v = g2 / n2: (v − u)·v / ‖u − v‖².
        let uu = aa / (n1 * n1), uv = ab / (n1 * n2), vv = bb / (n2 * n2)
        let dot = vv - uv, norm = uu - 2 * uv + vv
        // Gradients equal up to rounding: every α is optimal.
        guard norm > 1e-12 * (uu + vv), norm.isFinite, dot.isFinite else { return 0.5 }
        return Float(min(max(dot / norm, 0), 1))
    }
}
