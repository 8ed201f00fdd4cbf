import Prediction
import TensorEngine
import Training

/// The only way an attack reaches a victim: it forwards batches to a `PredictionAPI`, counts
/// every image sent (augmented re-queries included: each image in a batch is one query),
/// enforces the budget, and returns exactly what the API returned.
///
/// A batch that would take the count past the budget is refused whole with a
/// `budgetExceeded` error before anything is sent; it is never truncated. Queries are counted
/// once the API has answered; a batch the API fails on (or answers malformed) is counted too,
/// since a real endpoint has seen it.
public final class QueryBoundary {
    public let api: PredictionAPI
    /// The most images this boundary will send.
    public let budget: Int
    /// Images sent so far.
    public private(set) var queriesSpent = 0
    /// Batches sent so far.
    public private(set) var batchesSent = 0

    /// - Throws: `invalidConfiguration` for a negative budget.
    public init(api: PredictionAPI, budget: Int) throws {
        guard budget >= 0 else { throw ExtractionError(.invalidConfiguration, "a query budget must be ≥ 0, found \(budget)") }
        self.api = api
        self.budget = budget
    }

    /// Queries left.
    public var remaining: Int { budget - queriesSpent }

    public var inputShape: [Int] { api.inputShape }
    public var classes: Int { api.classes }
    public var answerMode: AnswerMode { api.answerMode }

    /// The API's answer rows for raw [0, 1] images `[N, C, H, W]`, one per image, in order.
    ///
    /// - Throws: `budgetExceeded` when N exceeds `remaining` (nothing is sent);
    ///   `invalidQuery` for a wrong shape or pixels outside [0, 1]; `malformedAnswer` when the
    ///   API does not return N rows of `classes` finite non-negative values.
    public func query(_ pixels: Tensor) throws -> [[Float]] {
        try api.checkQuery(pixels)
        let n = pixels.shape[0]
        guard n <= remaining else {
            throw ExtractionError(.budgetExceeded,
                                  "query budget exceeded: \(n) more images requested, \(queriesSpent) of \(budget) already spent (\(remaining) left)")
        }
        if n == 0 { return [] }
        defer { queriesSpent += n; batchesSent += 1 }
        let rows = try api.answer(pixels)
        try api.checkAnswer(rows, count: n)
        return rows
    }
}
