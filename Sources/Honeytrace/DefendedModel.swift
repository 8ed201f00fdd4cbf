import Prediction
import TensorEngine
import Training

/// A model behind Neural Honeytrace: one forward pass gives logits and features, the defense
/// turns them into the API's answers. The unit a server or an attack simulation queries; as a
/// `PredictionAPI` it answers in the defense configuration's answer mode.
public final class DefendedModel: PredictionAPI, @unchecked Sendable {
    public let model: TrainedModel
    public let defense: HoneytraceDefense
    public let name: String

    /// Puts `model` behind the defense of `key` (with `configuration`, or the key's settings).
    ///
    /// - Throws: `keyModelMismatch` when the key was made for other weights (unless `force`) or
    ///   cannot fit the model at all; `invalidArgument` for a bad configuration.
    public init(model: TrainedModel, key: WatermarkKey, configuration: DefenseConfiguration? = nil, force: Bool = false,
                name: String = "defended model") throws {
        try key.check(model: model, force: force)
        self.model = model
        self.defense = try HoneytraceDefense(key: key, configuration: configuration)
        self.name = name
    }

    /// Defended output (probabilities and diagnostics) for raw [0, 1] images `[B, C, H, W]`.
    public func query(_ pixels: Tensor) throws -> DefenseOutput {
        do { try model.checkInput(pixels) } catch let e as TrainingError {
            throw HoneytraceError(.invalidArgument, e.problem)
        }
        let out = model.forward(pixels: pixels)
        return try defense.defend(pixels: pixels, logits: out.logits, features: out.features)
    }

    /// This defense's output and `other`'s (a second defense over the same model, e.g. the
    /// heavy-client one) from one forward pass.
    public func query(_ pixels: Tensor, alongside other: HoneytraceDefense) throws -> (DefenseOutput, DefenseOutput) {
        do { try model.checkInput(pixels) } catch let e as TrainingError {
            throw HoneytraceError(.invalidArgument, e.problem)
        }
        let out = model.forward(pixels: pixels)
        return (try defense.defend(pixels: pixels, logits: out.logits, features: out.features),
                try other.defend(pixels: pixels, logits: out.logits, features: out.features))
    }

    public var inputShape: [Int] { model.inputShape }
    public var classes: Int { model.classes }
    public var answerMode: AnswerMode { defense.configuration.answer }

    /// Defended probability rows shaped by the answer mode.
    public func answer(_ pixels: Tensor) throws -> [[Float]] {
        try checkQuery(pixels)
        let out = try query(pixels)
        return (0..<out.rows).map { answerMode.shape(out.probabilities(row: $0)) }
    }
}
