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
    public struct HeavyClient: Sendable {
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
            let isHeavy = heavy.map { rowsAnswered >= $0.afterQueries } ?? false
            let out = try DefendedClient.output(batch, honest: defended, heavy: heavy,
                                                heavyRows: [Bool](repeating: isHeavy, count: end - start))
            for r in 0..<out.rows { rows.append(answerMode.shape(out.probabilities(row: r))) }
            rowsAnswered += out.rows
            rowsMixed += out.mixedCount
            rowsFlipped += out.flippedCount
            similaritySum += out.similarity.reduce(0.0) { $0 + Double($1) }
        }
        return rows
    }

    /// The defended output of `batch` whose rows marked in `heavyRows` come from clients past the
    /// heavy-client threshold: the honest defense's rows elsewhere, the heavy-client defense's
    /// there (with `union`, the honest row wherever the honest defense flipped it). One forward
    /// pass; stateless, so a server batching many clients marks each client's rows from its ledger.
    public static func output(_ batch: Tensor, honest: DefendedModel, heavy: HeavyClient?, heavyRows: [Bool]) throws -> DefenseOutput {
        guard let heavy, heavyRows.contains(true) else { return try honest.query(batch) }
        precondition(heavyRows.count == batch.shape[0], "\(heavyRows.count) heavy-row marks for \(batch.shape[0]) rows")
        let (plain, strong) = try honest.query(batch, alongside: heavy.defended.defense)
        return merge(honest: plain, heavy: strong, heavyRows: heavyRows, union: heavy.union)
    }

    /// `heavy`'s rows where `heavyRows` is set (unless `union` and `honest` flipped the row),
    /// `honest`'s elsewhere.
    static func merge(honest: DefenseOutput, heavy: DefenseOutput, heavyRows: [Bool], union: Bool) -> DefenseOutput {
        let k = honest.classes
        var probabilities = honest.probabilities, similarity = honest.similarity, mixed = honest.mixed, flipped = honest.flipped
        for r in 0..<honest.rows where heavyRows[r] && !(union && honest.flipped[r]) {
            probabilities.replaceSubrange((r * k)..<((r + 1) * k), with: heavy.probabilities[(r * k)..<((r + 1) * k)])
            similarity[r] = heavy.similarity[r]
            mixed[r] = heavy.mixed[r]
            flipped[r] = heavy.flipped[r]
        }
        return DefenseOutput(rows: honest.rows, classes: k, probabilities: probabilities, similarity: similarity, mixed: mixed, flipped: flipped)
    }
}
