import Datasets
import NeuralNet

/// Everything that decides how a model is trained; stored in the model directory so a
/// result can be reproduced from its manifest alone.
public struct TrainingRecipe: Codable, Sendable, Equatable {
    public var architecture: Architecture
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    public var schedule: LearningRateSchedule
    /// Linear warm-up of the learning rate over this many epochs' worth of steps (0 = none).
    public var warmupEpochs: Float
    /// Augmentation of the training images (on raw [0, 1] pixels, before normalisation).
    public var augmentation: Augmentation
    /// Label smoothing of the cross-entropy targets (0 = plain cross-entropy).
    public var labelSmoothing: Float
    /// Seeds the initial weights, the batch order and the augmentation.
    public var seed: UInt64
    /// Outlier exposure (ModelGuard's recipe, used by the Neural Honeytrace authors' victims):
    /// also push synthetic outliers toward the uniform distribution. nil = off.
    public var outlierExposure: OutlierExposure?

    public init(architecture: Architecture, epochs: Int, batchSize: Int = 128, learningRate: Float = 0.05,
                momentum: Float = 0.9, nesterov: Bool = true, weightDecay: Float = 5e-4,
                schedule: LearningRateSchedule? = nil, warmupEpochs: Float = 0,
                augmentation: Augmentation = .none, labelSmoothing: Float = 0, seed: UInt64 = 0) {
        self.architecture = architecture
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.schedule = schedule ?? .cosine(epochs: epochs, minimum: 0)
        self.warmupEpochs = warmupEpochs
        self.augmentation = augmentation
        self.labelSmoothing = labelSmoothing
        self.seed = seed
    }

    /// The default Fashion-MNIST recipe of each reference architecture (README lists what they reach);
    /// a graph model, which can be fine-tuned but not built afresh, takes fmnist-cnn's.
    public static func fashionMNISTDefault(_ architecture: Architecture, seed: UInt64 = 0) -> TrainingRecipe {
        switch architecture {
        case .fmnistCNN, .graph:
            return TrainingRecipe(architecture: architecture, epochs: 12, batchSize: 128, learningRate: 0.05,
                                  weightDecay: 5e-4, augmentation: .cropAndFlip(padding: 2, flip: true), seed: seed)
        case .vggMini:
            return TrainingRecipe(architecture: architecture, epochs: 15, batchSize: 128, learningRate: 0.1,
                                  weightDecay: 5e-4, augmentation: .cropAndFlip(padding: 2, flip: true), seed: seed)
        case .resnet8:
            return TrainingRecipe(architecture: architecture, epochs: 15, batchSize: 128, learningRate: 0.1,
                                  weightDecay: 5e-4, augmentation: .cropAndFlip(padding: 2, flip: true), seed: seed)
        }
    }

    /// Checks the numbers a user typed.
    public func validate() throws {
        guard architecture != .graph else {
            throw TrainingError("architecture 'graph' names an imported model's own network; a recipe needs one of \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard epochs >= 1 else { throw TrainingError("epochs must be at least 1, found \(epochs)") }
        guard batchSize >= 1 else { throw TrainingError("batch size must be at least 1, found \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw TrainingError("learning rate must be positive, found \(learningRate)") }
        guard momentum >= 0, momentum < 1 else { throw TrainingError("momentum must lie in [0, 1), found \(momentum)") }
        guard weightDecay >= 0 else { throw TrainingError("weight decay must be non-negative, found \(weightDecay)") }
        guard labelSmoothing >= 0, labelSmoothing < 1 else { throw TrainingError("label smoothing must lie in [0, 1), found \(labelSmoothing)") }
        if let oe = outlierExposure { try oe.validate() }
        // Bounded by the epochs: the trainer turns it into a step count with Int(_:), which traps on infinity.
        guard warmupEpochs >= 0, warmupEpochs <= Float(epochs) else {
            throw TrainingError("warm-up epochs must lie in 0…\(epochs) (the epochs), found \(warmupEpochs)")
        }
        if nesterov && momentum == 0 { throw TrainingError("Nesterov momentum needs momentum > 0") }
        try augmentation.validate()
    }
}
