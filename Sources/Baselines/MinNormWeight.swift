/// The closed-form two-task MGDA weight (Sener & Koltun): the α ∈ [0, 1] that minimises
/// ‖α·g1 + (1 − α)·g2‖², MEA-Defender's weighting of its two task gradients.
///
/// α* = clamp((g2 − g1)·g2 / ‖g1 − g2‖², 0, 1); equal gradients give ½ (every α is optimal).
public enum MinNormWeight {
    public static func alpha(_ g1: [Float], _ g2: [Float]) -> Float {
        precondition(g1.count == g2.count, "gradients of \(g1.count) and \(g2.count) values")
        var dot = 0.0, norm = 0.0
        for i in g1.indices {
            let d = Double(g2[i]) - Double(g1[i])
            dot += d * Double(g2[i])
            norm += d * d
        }
        guard norm > 0, norm.isFinite else { return 0.5 }
        return Float(min(max(dot / norm, 0), 1))
    }
}
