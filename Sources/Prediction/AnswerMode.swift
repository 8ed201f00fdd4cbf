import Training

/// What a prediction API returns per image: the full probability vector, the top-1 label only
/// (a hard-label API), or the k most probable classes with their probabilities. One type for
/// the defense, the attacks and the server, so a mode parsed in one place means the same in all.
public enum AnswerMode: TextCoded, Sendable, Equatable, Hashable {
    case probabilities
    case label
    case topK(Int)

    public var description: String {
        switch self {
        case .probabilities: return "probabilities"
        case .label: return "label"
        case .topK(let k): return "top-\(k)"
        }
    }

    /// Parses `probabilities`, `label` (also `top-1`) and `top-<k>` (also `topk:<k>`).
    public init?(argument: String) {
        let s = argument.lowercased()
        if s == "probabilities" || s == "probs" { self = .probabilities; return }
        if s == "label" || s == "top-1" || s == "top1" || s == "topk:1" { self = .label; return }
        for prefix in ["top-", "topk:"] where s.hasPrefix(prefix) {
            guard let k = Int(s.dropFirst(prefix.count)), k >= 1 else { return nil }
            self = .topK(k)
            return
        }
        return nil
    }

    public static let textName = "answer mode"
    public static let textForms = "probabilities, label, top-<k>"
}
