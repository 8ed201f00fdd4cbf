import Prediction
import TensorEngine
import Training

/// One API client's view of a defended model: its answers in an answer mode, a tally of what
/// the defense did to its rows (mixed, flipped, mean similarity), and, for a client that has
/// queried a lot, a stronger defense that takes over (`HeavyClient`).
public final class DefendedClient: PredictionAPI, @unchecked Sendable {
    /// The defense a client gets once it has been answered `afterQueries` rows (checked per
    /// batch). With `union`, rows the honest defense flips keep the honest answer, so the heavy
    /// client sees every flip of both defenses.
    public struct HeavyClient {
        public var afterQueries: Int
        public var defended: DefendedModel
        public var union: Bool

        public init(afterQueries: Int, defended: DefendedModel, union: Bool = false) {
            self.afterQueries = afterQueries
            self.defended = defended
            self.union = union
        }
    }

    public let defended: DefendedModel
    public let heavy: HeavyClient?
    public let answerMode: AnswerMode
    public let name: String
    public let batchSize: Int
    public private(set) var rowsAnswered = 0, rowsMixed = 0, rowsFlipped = 0
    public private(set) var similaritySum = 0.0

    public init(defended: DefendedModel, heavy: HeavyClient? = nil, answerMode: AnswerMode = .probabilities,
                name: String = "Neural Honeytrace", batchSize: Int = 256) {
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
            let out = try DefendedClient.output(batch, honest: defended, heavy: heavy, answeredBefore: rowsAnswered)
            for r in 0..<out.rows { rows.append(answerMode.shape(out.probabilities(row: r))) }
            rowsAnswered += out.rows
            rowsMixed += out.mixedCount
            rowsFlipped += out.flippedCount
            similaritySum += out.similarity.reduce(0.0) { $0 + Double($1) }
        }
        return rows
    }

    /// The defended output of `batch` for a client that has been answered `answeredBefore` rows:
    /// the honest defense's, or the heavy-client defense's once the client has reached its
    /// threshold. Stateless, so a server can call it with a client's count from its ledger.
    public static func output(_ batch: Tensor, honest: DefendedModel, heavy: HeavyClient?, answeredBefore: Int) throws -> DefenseOutput {
        guard let heavy, answeredBefore >= heavy.afterQueries else { return try honest.query(batch) }
        let strong = try heavy.defended.query(batch)
        return heavy.union ? union(honest: try honest.query(batch), heavy: strong) : strong
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
