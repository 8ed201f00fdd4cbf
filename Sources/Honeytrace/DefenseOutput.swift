import Prediction
import TensorEngine
/// One class with its probability, as top-k answers list them.
public struct ClassProbability: Sendable, Equatable, Codable {
    public var label: Int
    public var probability: Float

    public init(label: Int, probability: Float) {
        self.label = label
        self.probability = probability
    }
}

/// What the defended API returns for one query, in the configured answer mode.
public enum DefendedAnswer: Sendable, Equatable {
    /// The full probability vector.
    case probabilities([Float])
    /// The top-1 label.
    case label(Int)
    /// The k most probable classes, most probable first.
    case topK([ClassProbability])

    /// The answer as a probability vector over `classes` (what an attacker trains on): the
    /// vector itself, a one-hot vector for a label, or the top-k probabilities with zeros elsewhere.
    public func probabilityRow(classes: Int) -> [Float] {
        switch self {
        case .probabilities(let p): return p
        case .label(let l):
            var row = [Float](repeating: 0, count: classes)
            if (0..<classes).contains(l) { row[l] = 1 }
            return row
        case .topK(let top):
            var row = [Float](repeating: 0, count: classes)
            for c in top where (0..<classes).contains(c.label) { row[c.label] = c.probability }
            return row
        }
    }

    /// The top-1 label of the answer.
    public var label: Int {
        switch self {
        case .label(let l): return l
        case .topK(let top): return top.first?.label ?? 0
        case .probabilities(let p):
            return RowMath.argmax(p)
        }
    }
}

/// The defense's answer to one batch: the defended probabilities softmax(z') of every row, and
/// per row the diagnostics (similarity s after the confidence rules, whether the logits were
/// mixed (s > 0) and whether the row was flipped to reference logits).
public struct DefenseOutput: Sendable {
    public let rows: Int
    public let classes: Int
    /// `[rows, classes]` row-major; every row is a probability vector (sums to 1).
    public let probabilities: [Float]
    /// s per row, in [0, 1].
    public let similarity: [Float]
    /// Whether the row's logits were mixed with reference logits (s > 0).
    public let mixed: [Bool]
    /// Whether the row was replaced by reference logits plus noise.
    public let flipped: [Bool]

    public init(rows: Int, classes: Int, probabilities: [Float], similarity: [Float], mixed: [Bool], flipped: [Bool]) {
        precondition(probabilities.count == rows * classes && similarity.count == rows && mixed.count == rows && flipped.count == rows,
                     "defense output arrays do not match \(rows) rows of \(classes) classes")
        self.rows = rows
        self.classes = classes
        self.probabilities = probabilities
        self.similarity = similarity
        self.mixed = mixed
        self.flipped = flipped
    }

    /// The probability vector of row `r`.
    public func probabilities(row r: Int) -> [Float] { Array(probabilities[(r * classes)..<((r + 1) * classes)]) }

    /// Top-1 label of every row.
    public var labels: [Int] { BatchedForward.argmax(probabilities, classes: classes) }

    /// Number of mixed rows.
    public var mixedCount: Int { mixed.lazy.filter { $0 }.count }
    /// Number of flipped rows.
    public var flippedCount: Int { flipped.lazy.filter { $0 }.count }

    /// Row `r` as the API returns it in `mode`.
    public func answer(row r: Int, mode: DefenseConfiguration.AnswerMode) -> DefendedAnswer {
        switch mode {
        case .probabilities: return .probabilities(probabilities(row: r))
        case .label:
            return .label(probabilities.withUnsafeBufferPointer { RowMath.argmax($0.baseAddress! + r * classes, count: classes) })
        case .topK(let k):
            let p = probabilities(row: r)
            return .topK(ProbabilityRow.ranking(p).prefix(max(1, min(k, classes))).map { ClassProbability(label: $0, probability: p[$0]) })
        }
    }

    /// Every row as the API returns it in `mode`.
    public func answers(mode: DefenseConfiguration.AnswerMode) -> [DefendedAnswer] {
        (0..<rows).map { answer(row: $0, mode: mode) }
    }
}
