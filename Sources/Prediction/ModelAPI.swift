import Foundation
import TensorEngine
import Training

/// An undefended model as a prediction API: softmax of the logits, shaped by the answer mode.
/// The surrogates stolen from it are docs/algorithms.md §4.3's non-protected reference models; a local
/// suspect is one in `.label` mode. Counts the images it answers.
public final class ModelAPI: PredictionAPI, @unchecked Sendable {
    public let model: TrainedModel
    public let answerMode: AnswerMode
    public let name: String
    /// Images per forward pass.
    public let batchSize: Int
    private let lock = NSLock()
    private var answered = 0

    public init(model: TrainedModel, answerMode: AnswerMode = .probabilities, name: String = "undefended model",
                batchSize: Int = 256) {
        self.model = model
        self.answerMode = answerMode
        self.name = name
        self.batchSize = max(1, batchSize)
    }

    /// The model of the model directory `directory` (its weights' hash is checked), named after it.
    public convenience init(directory: String, answerMode: AnswerMode = .probabilities) throws {
        self.init(model: try ModelDirectory.load(directory), answerMode: answerMode, name: directory)
    }

    public var inputShape: [Int] { model.inputShape }
    public var classes: Int { model.classes }
    /// Images answered so far.
    public var queriesAnswered: Int { lock.lock(); defer { lock.unlock() }; return answered }

    public func answer(_ pixels: Tensor) throws -> [[Float]] {
        try checkQuery(pixels)
        let rows = ModelAPI.probabilityRows(model, pixels, batchSize: batchSize).map { answerMode.shape($0) }
        lock.lock(); answered += rows.count; lock.unlock()
        return rows
    }

    /// softmax(logits) of every image of a raw-pixel batch, as rows, forwarding `batchSize`
    /// images at a time.
    public static func probabilityRows(_ model: TrainedModel, _ pixels: Tensor, batchSize: Int = 256) -> [[Float]] {
        let n = pixels.shape[0], k = model.classes
        var rows: [[Float]] = []
        rows.reserveCapacity(n)
        for start in stride(from: 0, to: n, by: max(batchSize, 1)) {
            let end = min(start + max(batchSize, 1), n)
            let x = start == 0 && end == n ? pixels : pixels.slice(start..<end)
            let p = Autograd.inference { model.forward(pixels: x).logits.softmax() }.scalars
            for r in 0..<(end - start) { rows.append(Array(p[(r * k)..<((r + 1) * k)])) }
        }
        return rows
    }
}
