import Prediction

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

    public func api(client: String, answerMode: AnswerMode) throws -> PredictionAPI {
        DefendedClient(defended: defended, heavy: heavy, answerMode: answerMode, name: "Neural Honeytrace")
    }
}
