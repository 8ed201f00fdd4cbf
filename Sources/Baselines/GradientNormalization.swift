/// How MEA-Defender's phase 2 scales each task's gradient before the two-task min-norm weight
/// is computed (as the MGDA solvers of multi-task and backdoor code do). The weight α found on
/// the scaled gradients then weighs the raw ones: α·g1 + (1 − α)·g2.
public enum GradientNormalization: String, Codable, CaseIterable, Sendable {
    /// The raw gradients.
    case none
    /// g_t / ‖g_t‖.
    case l2
    /// g_t / min(L_t·‖g_t‖, 10), L_t the task's loss.
    case lossPlus = "loss+"

    /// Cap on the `loss+` divisor.
    public static let lossPlusCap = 10.0
    /// Added to every divisor, so a zero gradient or loss divides by a positive number.
    public static let epsilon = 1e-5

    /// The divisor of a task's gradient whose norm is `norm` and loss `loss`.
    public func divisor(norm: Double, loss: Double) -> Double {
        switch self {
        case .none: return 1
        case .l2: return norm + Self.epsilon
        case .lossPlus: return min(loss * norm, Self.lossPlusCap) + Self.epsilon
        }
    }
}
