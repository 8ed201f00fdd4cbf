import Prediction
import Training

/// Neural Honeytrace as a `Defense`: each client is answered by its own `DefendedClient` over
/// the defended model, handed to the heavy-client defense once it passes that defense's
/// threshold.
public final class NeuralHoneytrace: Defense {
    public let defended: DefendedModel
    public let heavy: DefendedClient.HeavyClient?
    public var name: String { "honeytrace" }
    public var kind: DefenseKind { .apiSide }

    public init(defended: DefendedModel, heavy: DefendedClient.HeavyClient? = nil) {
        self.defended = defended
        self.heavy = heavy
    }

    /// The key's defense in front of `model`, with the key's heavy-client policy when it has one.
    ///
    /// - Throws: what `DefendedModel.init` throws for either defense.
    public convenience init(model: TrainedModel, key: WatermarkKey, force: Bool = false) throws {
        let honest = try DefendedModel(model: model, key: key, force: force, name: "Neural Honeytrace")
        let heavy = try key.heavyClient.map { policy in
            DefendedClient.HeavyClient(afterQueries: policy.afterQueries,
                                       defended: try DefendedModel(model: model, key: key, configuration: policy.defense, force: force,
                                                                   name: "Neural Honeytrace (heavy client)"),
                                       union: policy.union)
        }
        self.init(defended: honest, heavy: heavy)
    }

    public func api(client: String, answerMode: AnswerMode) throws -> PredictionAPI {
        DefendedClient(defended: defended, heavy: heavy, answerMode: answerMode, name: "Neural Honeytrace")
    }
}
