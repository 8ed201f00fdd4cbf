import Datasets
import NeuralNet
import Training

/// The loss a surrogate trains with.
public enum SurrogateLoss: String, Codable, Sendable {
    /// Soft cross-entropy −Σ y·log softmax(Fs(x)) on the (renormalised) answer rows.
    case soft
    /// Cross-entropy on the argmax of each answer row.
    case hard
}

/// How the attacker trains its surrogate: SGD with momentum and a learning-rate schedule on
/// the queried images and their answers. Defaults: the victim's architecture, 10 epochs,
/// batch 128, learning rate 0.05 with Nesterov momentum 0.9 and weight decay 5e-4, cosine
/// schedule, random crop (padding 2) and flip, soft cross-entropy, Fashion-MNIST normalisation.
public struct SurrogateRecipe: Codable, Sendable, Equatable {
    /// nil = the victim's architecture when known, else fmnist-cnn.
    public var architecture: Architecture?
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    /// nil = cosine annealing to 0 over `epochs`.
    public var schedule: LearningRateSchedule?
    /// Training augmentation of the query images.
    public var augmentation: Augmentation
    public var loss: SurrogateLoss
    /// The surrogate's input normalisation (the attacker's choice; docs/algorithms.md §9's default).
    public var normalization: Normalization

    public init(architecture: Architecture? = nil, epochs: Int = 10, batchSize: Int = 128, learningRate: Float = 0.05,
                momentum: Float = 0.9, nesterov: Bool = true, weightDecay: Float = 5e-4,
                schedule: LearningRateSchedule? = nil, augmentation: Augmentation = .cropAndFlip(padding: 2, flip: true),
                loss: SurrogateLoss = .soft, normalization: Normalization = .fashionMNIST) {
        self.architecture = architecture
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.schedule = schedule
        self.augmentation = augmentation
        self.loss = loss
        self.normalization = normalization
    }

    /// The Training module's recipe for one surrogate fit.
    public func trainingRecipe(architecture: Architecture, epochs: Int? = nil, seed: UInt64) -> TrainingRecipe {
        let e = epochs ?? self.epochs
        return TrainingRecipe(architecture: architecture, epochs: e, batchSize: batchSize, learningRate: learningRate,
                              momentum: momentum, nesterov: nesterov, weightDecay: weightDecay,
                              schedule: schedule ?? .cosine(epochs: e, minimum: 0), augmentation: augmentation, seed: seed)
    }

    public func validate() throws {
        do {
            try trainingRecipe(architecture: architecture ?? .fmnistCNN, seed: 0).validate()
        } catch let e as TrainingError {
            throw ExtractionError(.invalidConfiguration, "surrogate recipe: \(e.problem)")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case architecture, epochs, batchSize, learningRate, momentum, nesterov, weightDecay, schedule, augmentation, loss, normalization
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SurrogateRecipe()
        self.init(architecture: try c.decodeIfPresent(Architecture.self, forKey: .architecture),
                  epochs: try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs,
                  batchSize: try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize,
                  learningRate: try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate,
                  momentum: try c.decodeIfPresent(Float.self, forKey: .momentum) ?? d.momentum,
                  nesterov: try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? d.nesterov,
                  weightDecay: try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay,
                  schedule: try c.decodeIfPresent(LearningRateSchedule.self, forKey: .schedule),
                  augmentation: try c.decodeIfPresent(Augmentation.self, forKey: .augmentation) ?? d.augmentation,
                  loss: try c.decodeIfPresent(SurrogateLoss.self, forKey: .loss) ?? d.loss,
                  normalization: try c.decodeIfPresent(Normalization.self, forKey: .normalization) ?? d.normalization)
    }
}
