import Foundation
import TensorEngine
import Training

/// Every answer mode is delivered to attacks as a row of `classes` floats, so they handle all
/// modes the same way:
/// - `probabilities`: the full probability vector;
/// - `label`: the top-1 label as a one-hot row;
/// - `topK(k)`: the k largest probabilities in place, zeros elsewhere (not renormalised).
extension AnswerMode {
    /// A probability row as this mode delivers it.
    public func shape(_ probabilities: [Float]) -> [Float] {
        switch self {
        case .probabilities:
            return probabilities
        case .label:
            var row = [Float](repeating: 0, count: probabilities.count)
            if !probabilities.isEmpty { row[ProbabilityRow.argmax(probabilities)] = 1 }
            return row
        case .topK(let k):
            if k >= probabilities.count { return probabilities }
            var row = [Float](repeating: 0, count: probabilities.count)
            for j in ProbabilityRow.ranking(probabilities).prefix(max(k, 1)) { row[j] = probabilities[j] }
            return row
        }
    }
}


/// Small helpers on one answer row.
public enum ProbabilityRow {
    /// Index of the largest value (first on ties).
    public static func argmax(_ row: [Float]) -> Int { RowMath.argmax(row) }

    /// Class indices from most to least probable (lower index first on ties).
    public static func ranking(_ row: [Float]) -> [Int] {
        row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
    }

    /// The row scaled to sum to 1; a row with no positive mass becomes uniform. Negative
    /// entries count as 0.
    public static func normalized(_ row: [Float]) -> [Float] {
        let clipped = row.map { Swift.max($0, 0) }
        let s = clipped.reduce(0, +)
        guard s > 0, s.isFinite else { return [Float](repeating: 1 / Float(Swift.max(row.count, 1)), count: row.count) }
        return clipped.map { $0 / s }
    }

    /// Logits recovered from a probability row: log p − mean(log p), the logits up to the constant
    /// softmax discards, centred (what a data-free attacker matches, DFME's logit correction).
    /// Probabilities below the smallest normal float (underflow, exact zeros) count as that value.
    public static func centeredLogits(_ row: [Float]) -> [Float] {
        let logs = row.map { Foundation.log(Swift.max($0, Float.leastNormalMagnitude)) }
        let mean = logs.reduce(0, +) / Float(Swift.max(row.count, 1))
        return logs.map { $0 - mean }
    }

    /// One-hot row of the argmax.
    public static func oneHot(_ row: [Float]) -> [Float] { AnswerMode.label.shape(row) }

    /// Σ |a − b|.
    public static func l1(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "rows of \(a.count) and \(b.count) values")
        var s: Float = 0
        for j in a.indices { s += abs(a[j] - b[j]) }
        return s
    }
}
