import Datasets
import NeuralNet
import Prediction
import TensorEngine
import Training

/// The settings every data-free strategy (DFME, DFMS, DisGUIDE; docs/algorithms.md §5.1) has:
/// its generator's noise and width, its batch, a generator and a surrogate learning rate, both
/// multiplied by `decay` when the queries spent pass each of `milestones` (fractions of the budget).
public protocol DataFreeSettings {
    /// The attack's name in errors.
    static var attackName: String { get }
    /// Dimension of the noise z ~ N(0, I).
    var noiseDimension: Int { get }
    /// Channels of the generator's last hidden block (`ImageGenerator.width`).
    var generatorWidth: Int { get }
    /// Images per step.
    var batchSize: Int { get }
    /// Adam's learning rate for G.
    var generatorLearningRate: Float { get }
    /// SGD's learning rate for the surrogates (momentum, Nesterov and weight decay from the surrogate recipe).
    var surrogateLearningRate: Float { get }
    /// Fractions of the budget at which both learning rates are multiplied by `decay`.
    var milestones: [Double] { get }
    var decay: Float { get }
}

extension DataFreeSettings {
    /// The learning-rate factor once `fraction` of the budget is spent: `decay` per milestone passed.
    public func rateFactor(spent fraction: Double) -> Float {
        milestones.filter { fraction >= $0 }.reduce(Float(1)) { f, _ in f * decay }
    }

    /// An `invalidConfiguration` error naming the attack.
    static func invalid(_ what: String) -> ExtractionError { ExtractionError(.invalidConfiguration, "\(attackName): \(what)") }

    /// Checks the shared settings, naming the attack and the field.
    func validateShared() throws {
        guard noiseDimension >= 1 else { throw Self.invalid("the noise dimension must be ≥ 1, found \(noiseDimension)") }
        guard generatorWidth >= 1 else { throw Self.invalid("the generator width must be ≥ 1, found \(generatorWidth)") }
        guard batchSize >= 1 else { throw Self.invalid("the batch size must be ≥ 1, found \(batchSize)") }
        for (name, rate) in [("generator", generatorLearningRate), ("surrogate", surrogateLearningRate)] {
            guard rate > 0, rate.isFinite else { throw Self.invalid("the \(name) learning rate must be positive, found \(rate)") }
        }
        guard milestones.allSatisfy({ $0 > 0 && $0 < 1 }), zip(milestones, milestones.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw Self.invalid("milestones must ascend within (0, 1), found \(milestones)")
        }
        guard decay > 0, decay <= 1 else { throw Self.invalid("the decay must be in (0, 1], found \(decay)") }
    }
}

/// What the data-free strategies share besides their settings.
public enum DataFree {
    /// Past queried images and the victim's answers, for training a surrogate again on them
    /// (DisGUIDE's experience replay): a first-in-first-out buffer of at most `capacity` images,
    /// sampled uniformly without replacement.
    public struct ReplayMemory {
        public let capacity: Int
        public let imageSize: Int
        /// Pixels of the stored images, back to back, and their answer rows.
        public private(set) var pixels: [Float] = []
        public private(set) var rows: [[Float]] = []
        /// Where the next image goes once the buffer is full.
        private var head = 0

        public init(capacity: Int, imageSize: Int) {
            precondition(capacity >= 1 && imageSize >= 1, "a replay memory holds ≥ 1 image of ≥ 1 value")
            self.capacity = capacity
            self.imageSize = imageSize
        }

        public var count: Int { rows.count }

        /// Stores `images` `[N, …]` with their rows, overwriting the oldest once full.
        public mutating func append(_ images: Tensor, rows new: [[Float]]) {
            precondition(images.shape[0] == new.count && images.count == new.count * imageSize,
                         "\(new.count) rows for images \(images.shape) of \(imageSize) values")
            let values = images.scalars
            for (i, row) in new.enumerated() {
                let image = values[(i * imageSize)..<((i + 1) * imageSize)]
                if rows.count < capacity {
                    pixels += image
                    rows.append(row)
                } else {
                    pixels.replaceSubrange((head * imageSize)..<((head + 1) * imageSize), with: image)
                    rows[head] = row
                    head = (head + 1) % capacity
                }
            }
        }

        /// min(n, count) stored images drawn without replacement, `[m, shape…]`, with their rows.
        public func sample(_ n: Int, shape: [Int], generator: inout SeededGenerator) -> (images: Tensor, rows: [[Float]]) {
            let m = Swift.min(n, count)
            var order = Array(0..<count)
            for i in 0..<m { order.swapAt(i, i + generator.nextInt(below: count - i)) }
            var x = [Float]()
            x.reserveCapacity(m * imageSize)
            pixels.withUnsafeBufferPointer { p in
                for s in order.prefix(m) { x.append(contentsOf: p[(s * imageSize)..<((s + 1) * imageSize)]) }
            }
            return (Tensor(x, shape: [m] + shape), order.prefix(m).map { rows[$0] })
        }
    }
}

extension AttackRun {
    /// The running strategy's generator for the victim's images (sides divisible by 4), seeded by
    /// `"<strategy>-generator"`, and its Adam at the settings' generator learning rate.
    func dataFreeGenerator(_ s: some DataFreeSettings) throws -> (ImageGenerator, Adam) {
        guard shape[1] % 4 == 0, shape[2] % 4 == 0 else {
            throw ExtractionError(.invalidConfiguration,
                                  "\(config.strategy.displayName)'s generator makes images with sides divisible by 4, \(api.name) takes \(shape)")
        }
        let generator = ImageGenerator(noiseDimension: s.noiseDimension, imageShape: shape, width: s.generatorWidth,
                                       seed: seed("\(config.strategy.rawValue)-generator"))
        generator.train()
        return (generator, Adam(generator.parameters, learningRate: s.generatorLearningRate))
    }

    /// A fresh surrogate (seeded by `name`) and its SGD at the settings' surrogate learning rate (momentum,
    /// Nesterov and weight decay from the surrogate recipe).
    func dataFreeSurrogate(_ name: String, _ s: some DataFreeSettings) -> (Classifier, SGD) {
        let recipe = config.surrogate
        let surrogate = architecture.build(inChannels: shape[0], classes: classes, imageSize: shape[1], seed: seed(name))
        let optimizer = SGD(surrogate.parameters, learningRate: s.surrogateLearningRate, momentum: recipe.momentum,
                            weightDecay: recipe.weightDecay, nesterov: recipe.nesterov)
        return (surrogate, optimizer)
    }

    /// The generator's and the surrogates' learning rates now, after the schedule's decays for the queries spent.
    func dataFreeRates(_ s: some DataFreeSettings) -> (generator: Float, surrogate: Float) {
        let factor = s.rateFactor(spent: Double(boundary.queriesSpent) / Double(config.budget))
        return (s.generatorLearningRate * factor, s.surrogateLearningRate * factor)
    }

    /// The victim's answer rows on raw images, one query per image (summing their top probabilities for the diagnostics).
    func dataFreeAnswers(_ images: Tensor) throws -> [[Float]] {
        let rows = try timed(\.queryingSeconds) {
            try collector.answers(pixels: images.scalars, count: images.shape[0], firstID: boundary.queriesSpent)
        }
        dataFreeTopProbabilitySum += rows.reduce(0.0) { $0 + Double($1.max() ?? 0) }
        return rows
    }

    /// What a surrogate learns from answer rows (DFMS, DisGUIDE): the one-hot argmax when the attack
    /// takes hard labels (variant top-1), else the rows renormalised to sum to 1, as a `[N, K]` tensor.
    func dataFreeTargets(_ rows: [[Float]]) -> Tensor {
        let hard = config.variant == .top1
        return Tensor(rows.flatMap { hard ? ProbabilityRow.oneHot($0) : ProbabilityRow.normalized($0) }, shape: [rows.count, classes])
    }

    /// Records what every data-free run reports and returns `surrogate` as the copy.
    func finishDataFree(_ surrogate: Classifier, trainedImages: Int) -> TrainedModel {
        dataFreeImages = trainedImages
        trainings += 1
        diagnostics["answers.mean_top_probability"] = dataFreeTopProbabilitySum / Double(max(boundary.queriesSpent, 1))
        return dataFreeModel(surrogate)
    }

    /// A surrogate (switched to evaluation mode) as a model of the surrogate recipe's normalisation.
    func dataFreeModel(_ surrogate: Classifier) -> TrainedModel {
        surrogate.eval()
        return TrainedModel(classifier: surrogate, manifest: ModelManifest(
            architecture: architecture, classes: classes, inputShape: shape, normalization: config.surrogate.normalization,
            source: "extraction"))
    }
}
