import Extraction
import Honeytrace
import TensorEngine
import Training

/// Neural Honeytrace in front of a model, as a prediction API an attack can query: the
/// defended probabilities shaped by the answer mode. Counts what the defense did to the
/// attacker's queries (rows mixed and flipped, mean similarity) for the run record.
public final class DefendedAPI: PredictionAPI, @unchecked Sendable {
    public let defended: DefendedModel
    public let answerMode: AnswerMode
    public let name: String
    public let batchSize: Int
    public private(set) var rowsAnswered = 0, rowsMixed = 0, rowsFlipped = 0
    public private(set) var similaritySum = 0.0
    /// The defense for this client once it has been answered `afterQueries` rows (checked per batch);
    /// with `union`, rows the honest defense flips keep its answer (`ExperimentConfiguration.HeavyClient`).
    public let heavy: (afterQueries: Int, defended: DefendedModel, union: Bool)?

    public init(defended: DefendedModel, answerMode: AnswerMode = .probabilities, name: String = "Neural Honeytrace",
                batchSize: Int = 256, heavy: (afterQueries: Int, defended: DefendedModel, union: Bool)? = nil) {
        self.defended = defended
        self.heavy = heavy
        self.answerMode = answerMode
        self.name = name
        self.batchSize = max(1, batchSize)
    }

    public var inputShape: [Int] { defended.inputShape }
    public var classes: Int { defended.classes }
    /// Mean similarity s over every row answered.
    public var meanSimilarity: Double { rowsAnswered == 0 ? 0 : similaritySum / Double(rowsAnswered) }

    public func answer(_ pixels: Tensor) throws -> [[Float]] {
        try checkQuery(pixels)
        var rows: [[Float]] = []
        let n = pixels.shape[0]
        rows.reserveCapacity(n)
        for start in stride(from: 0, to: n, by: batchSize) {
            let end = min(start + batchSize, n)
            let batch = start == 0 && end == n ? pixels : pixels.slice(start..<end)
            let out: DefenseOutput
            if let heavy, rowsAnswered >= heavy.afterQueries {
                let strong = try heavy.defended.query(batch)
                out = heavy.union ? DefendedAPI.union(honest: try defended.query(batch), heavy: strong) : strong
            } else {
                out = try defended.query(batch)
            }
            for r in 0..<out.rows { rows.append(answerMode.shape(out.probabilities(row: r))) }
            rowsAnswered += out.rows
            rowsMixed += out.mixedCount
            rowsFlipped += out.flippedCount
            similaritySum += out.similarity.reduce(0.0) { $0 + Double($1) }
        }
        return rows
    }

    /// Each row from `honest` where it flipped the row, else from `heavy`.
    static func union(honest: DefenseOutput, heavy: DefenseOutput) -> DefenseOutput {
        let k = honest.classes
        var probabilities = heavy.probabilities, similarity = heavy.similarity, mixed = heavy.mixed, flipped = heavy.flipped
        for r in 0..<honest.rows where honest.flipped[r] {
            probabilities.replaceSubrange((r * k)..<((r + 1) * k), with: honest.probabilities[(r * k)..<((r + 1) * k)])
            similarity[r] = honest.similarity[r]
            mixed[r] = true
            flipped[r] = true
        }
        return DefenseOutput(rows: honest.rows, classes: k, probabilities: probabilities, similarity: similarity, mixed: mixed, flipped: flipped)
    }
}
