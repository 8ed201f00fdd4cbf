import NeuralNet
import Prediction
import Training

/// What one attack run measured (docs/algorithms.md §7's attacker-side metrics), ready to write as JSON.
public struct AttackResult: Codable, Sendable, Equatable {
    public var configuration: AttackConfiguration
    /// The API attacked and what it answers with.
    public var apiName: String
    public var answerMode: AnswerMode
    /// Queries counted by the query boundary (equals the budget when the attack ran to the end).
    public var queriesSpent: Int
    public var budget: Int
    /// Images in the transfer set (smoothing pays `copies` queries per image).
    public var transferSetSize: Int
    /// Surrogate trainings: 1 for KnockoffNet, rounds + 1 for JBDA-TR.
    public var trainingRounds: Int
    public var surrogateArchitecture: Architecture
    /// E-Acc: the surrogate's accuracy on the test set.
    public var extractedAccuracy: Double
    /// Agreement of surrogate and victim argmax on the test set, when a victim was given.
    public var fidelity: Double?
    /// The bare victim's test accuracy, when a victim was given.
    public var victimAccuracy: Double?
    /// Wall time of the whole run, and of its parts.
    public var seconds: Double
    public var preparationSeconds: Double
    public var queryingSeconds: Double
    public var trainingSeconds: Double
    /// Variant-specific measurements: "answers.mean_top_probability",
    /// "recovery.mean_l1_change", "p-bayes.matched_fraction", "d-dae.heldout_l1_before",
    /// "d-dae.heldout_l1_after", "d-dae.shadow_train_accuracy", "surrogate.final_loss".
    public var diagnostics: [String: Double]

    public init(configuration: AttackConfiguration, apiName: String, answerMode: AnswerMode, queriesSpent: Int, budget: Int,
                transferSetSize: Int, trainingRounds: Int, surrogateArchitecture: Architecture, extractedAccuracy: Double,
                fidelity: Double?, victimAccuracy: Double?, seconds: Double, preparationSeconds: Double,
                queryingSeconds: Double, trainingSeconds: Double, diagnostics: [String: Double]) {
        self.configuration = configuration
        self.apiName = apiName
        self.answerMode = answerMode
        self.queriesSpent = queriesSpent
        self.budget = budget
        self.transferSetSize = transferSetSize
        self.trainingRounds = trainingRounds
        self.surrogateArchitecture = surrogateArchitecture
        self.extractedAccuracy = extractedAccuracy
        self.fidelity = fidelity
        self.victimAccuracy = victimAccuracy
        self.seconds = seconds
        self.preparationSeconds = preparationSeconds
        self.queryingSeconds = queryingSeconds
        self.trainingSeconds = trainingSeconds
        self.diagnostics = diagnostics
    }
}

/// Where a running attack is, for progress bars and logs.
public struct AttackProgress: Sendable {
    public enum Phase: String, Sendable {
        /// Work before the first query (D-DAE's shadow models and recovery network).
        case preparing
        /// Sending queries; `done`/`total` count queries.
        case querying
        /// Making new queries by PGD (JBDA-TR); `done`/`total` count images.
        case synthesizing
        /// Training a surrogate; `done`/`total` count epochs.
        case training
        /// Measuring the surrogate on the test set.
        case evaluating
    }

    public let phase: Phase
    public let done: Int
    public let total: Int
    /// A short status ("round 2", "loss 0.412", ...).
    public let message: String

    public init(phase: Phase, done: Int, total: Int, message: String = "") {
        self.phase = phase
        self.done = done
        self.total = total
        self.message = message
    }
}
