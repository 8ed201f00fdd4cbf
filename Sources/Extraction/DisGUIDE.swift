import Datasets
import NeuralNet
import Prediction
import TensorEngine
import Training

/// DisGUIDE, disagreement-guided data-free model extraction (J. Rosenthal, E. Enouen, H. V. Pham,
/// L. Tan, AAAI 2023; docs/algorithms.md §5.1): no pool. Two surrogates S₁, S₂ (same architecture,
/// different seeds) and a generator G (DFME's `ImageGenerator`). Each iteration takes
/// - `generatorSteps` generator steps, no query: on a batch of G's images, G minimises
///   `generatorLoss`, −disagreement(S₁, S₂) + λ_div·Σ_c p̄_c log p̄_c (`Loss.softmaxDisagreement`,
///   the standard deviation of the two surrogates' softmax outputs; `Loss.classDiversity`, p̄ the
///   mean softmax over the batch and both surrogates), differentiated through both surrogates (in
///   evaluation mode); the victim is never differentiated, so there is no gradient estimate;
/// - `surrogateSteps` query steps: a fresh batch of G's images is sent to the victim (one query
///   per image), stored with the answers in a replay memory, and both surrogates take one SGD step
///   on the soft cross-entropy to the answers (probabilities as answered, variant naive; the one-hot
///   top-1 label, variant top-1);
/// - `replaySteps` steps of both surrogates on batches drawn from the replay memory (no query).
///
/// The attack stops when the budget is spent, the last batch smaller so that it spends the budget
/// exactly. The copy it returns is S₁ (one network of the surrogate architecture, like every other
/// attack's); S₂'s accuracy and the soft vote's (the paper's figure) are in the diagnostics. Both
/// learning rates are multiplied by `decay` when the queries spent pass each of `milestones`.
public enum DisGUIDE {
    /// DisGUIDE's settings. Defaults: the reference's CIFAR-10 script's λ_div (0.2), replay (3 steps
    /// per query step), one generator and one query step per iteration, and learning-rate drops at
    /// 40 and 80 % of the budget (× 0.3, DFME's factor); but batch 64 rather than 256, G's Adam 1e-3
    /// rather than 1e-4 and its width 32, as DFME's defaults, for budgets far below the paper's; S's
    /// SGD at the surrogate recipe's 0.05 (reference 0.03 at batch 256); a replay memory of the last
    /// 100,000 queried images (reference 1,000,000, more than our budgets).
    public struct Settings: DataFreeSettings, Codable, Sendable, Equatable {
        // The fields `DataFreeSettings` requires are documented there.
        public static let attackName = "DisGUIDE"
        public var noiseDimension: Int
        public var generatorWidth: Int
        /// Images per generator, query or replay step.
        public var batchSize: Int
        public var generatorLearningRate: Float
        /// SGD's learning rate for both surrogates (momentum, Nesterov and weight decay from the surrogate recipe).
        public var surrogateLearningRate: Float
        /// λ_div, the weight of the class-diversity loss in G's loss.
        public var diversityWeight: Float
        /// Generator steps per iteration (no queries; may be 0: the surrogates then train on an untrained generator's images).
        public var generatorSteps: Int
        /// Query steps per iteration (batch queries each).
        public var surrogateSteps: Int
        /// Replay steps per iteration (no queries; 0 turns the replay off).
        public var replaySteps: Int
        /// The most queried images the replay memory keeps (the oldest go first).
        public var replayCapacity: Int
        public var milestones: [Double]
        public var decay: Float

        public init(noiseDimension: Int = 256, generatorWidth: Int = 32, batchSize: Int = 64, generatorLearningRate: Float = 1e-3,
                    surrogateLearningRate: Float = 0.05, diversityWeight: Float = 0.2, generatorSteps: Int = 1, surrogateSteps: Int = 1,
                    replaySteps: Int = 3, replayCapacity: Int = 100_000, milestones: [Double] = [0.4, 0.8], decay: Float = 0.3) {
            self.noiseDimension = noiseDimension
            self.generatorWidth = generatorWidth
            self.batchSize = batchSize
            self.generatorLearningRate = generatorLearningRate
            self.surrogateLearningRate = surrogateLearningRate
            self.diversityWeight = diversityWeight
            self.generatorSteps = generatorSteps
            self.surrogateSteps = surrogateSteps
            self.replaySteps = replaySteps
            self.replayCapacity = replayCapacity
            self.milestones = milestones
            self.decay = decay
        }

        public func validate() throws {
            try validateShared()
            guard diversityWeight >= 0, diversityWeight.isFinite else { throw Self.invalid("the diversity weight must be ≥ 0, found \(diversityWeight)") }
            guard generatorSteps >= 0 else { throw Self.invalid("generator steps must be ≥ 0, found \(generatorSteps)") }
            guard surrogateSteps >= 1 else { throw Self.invalid("surrogate steps must be ≥ 1, found \(surrogateSteps)") }
            guard replaySteps >= 0 else { throw Self.invalid("replay steps must be ≥ 0, found \(replaySteps)") }
            guard replayCapacity >= 1 else { throw Self.invalid("the replay capacity must be ≥ 1, found \(replayCapacity)") }
        }

        private enum CodingKeys: String, CodingKey {
            case noiseDimension, generatorWidth, batchSize, generatorLearningRate, surrogateLearningRate, diversityWeight,
                 generatorSteps, surrogateSteps, replaySteps, replayCapacity, milestones, decay
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Settings()
            self.init(noiseDimension: try c.decodeIfPresent(Int.self, forKey: .noiseDimension) ?? d.noiseDimension,
                      generatorWidth: try c.decodeIfPresent(Int.self, forKey: .generatorWidth) ?? d.generatorWidth,
                      batchSize: try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize,
                      generatorLearningRate: try c.decodeIfPresent(Float.self, forKey: .generatorLearningRate) ?? d.generatorLearningRate,
                      surrogateLearningRate: try c.decodeIfPresent(Float.self, forKey: .surrogateLearningRate) ?? d.surrogateLearningRate,
                      diversityWeight: try c.decodeIfPresent(Float.self, forKey: .diversityWeight) ?? d.diversityWeight,
                      generatorSteps: try c.decodeIfPresent(Int.self, forKey: .generatorSteps) ?? d.generatorSteps,
                      surrogateSteps: try c.decodeIfPresent(Int.self, forKey: .surrogateSteps) ?? d.surrogateSteps,
                      replaySteps: try c.decodeIfPresent(Int.self, forKey: .replaySteps) ?? d.replaySteps,
                      replayCapacity: try c.decodeIfPresent(Int.self, forKey: .replayCapacity) ?? d.replayCapacity,
                      milestones: try c.decodeIfPresent([Double].self, forKey: .milestones) ?? d.milestones,
                      decay: try c.decodeIfPresent(Float.self, forKey: .decay) ?? d.decay)
        }
    }

    /// G's loss on the two surrogates' logits `[N, K]` for G's images:
    /// −`Loss.softmaxDisagreement`(a, b) + diversityWeight·`Loss.classDiversity` of both softmax outputs
    /// together (p̄ the mean over the batch and the two surrogates).
    public static func generatorLoss(_ a: Tensor, _ b: Tensor, diversityWeight: Float) -> Tensor {
        let both = Tensor.concat([a.softmax(), b.softmax()], axis: 0)
        return Loss.classDiversity(both) * diversityWeight - Loss.softmaxDisagreement(a, b)
    }
}

extension AttackRun {
    /// DisGUIDE's game (see `DisGUIDE`); returns S₁ as trained when the budget ran out.
    func runDisGUIDE() throws -> TrainedModel {
        let s = config.disguide
        let normalization = config.surrogate.normalization
        let (generator, generatorOptimizer) = try dataFreeGenerator(s)
        let surrogates = [dataFreeSurrogate("surrogate", s), dataFreeSurrogate("second-surrogate", s)]
        var noise = SeededGenerator(seed: seed("disguide-noise"))
        var replayDraws = SeededGenerator(seed: seed("disguide-replay"))
        var memory = DataFree.ReplayMemory(capacity: s.replayCapacity, imageSize: imageSize)

        var iteration = 0
        var generatorLoss = 0.0, disagreement = 0.0, surrogateLoss = 0.0

        /// One SGD step of both surrogates on raw images and the victim's answers to them.
        func trainSurrogates(_ images: Tensor, _ rows: [[Float]]) throws {
            let targets = dataFreeTargets(rows)
            let x = normalization.normalized(images)
            var total = 0.0
            for (surrogate, optimizer) in surrogates {
                surrogate.train()
                let loss = Loss.softCrossEntropy(surrogate(x), targets: targets)
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                total += Double(loss.item)
            }
            surrogateLoss = total / Double(surrogates.count)
            guard surrogateLoss.isFinite else {
                throw ExtractionError(.invalidConfiguration, "DisGUIDE's surrogate loss became \(surrogateLoss) at iteration \(iteration); lower its learning rate")
            }
        }

        while boundary.remaining > 0 {
            iteration += 1
            let rates = dataFreeRates(s)
            generatorOptimizer.learningRate = rates.generator
            for (_, optimizer) in surrogates { optimizer.learningRate = rates.surrogate }
            timed(\.trainingSeconds) {
                for _ in 0..<s.generatorSteps {
                    let z = Tensor.normal([s.batchSize, s.noiseDimension], generator: &noise)
                    let x = normalization.normalizedRecordingGradient(generator(z))
                    for (surrogate, _) in surrogates { surrogate.eval() }
                    let a = surrogates[0].0(x), b = surrogates[1].0(x)
                    let loss = DisGUIDE.generatorLoss(a, b, diversityWeight: s.diversityWeight)
                    generatorOptimizer.zeroGrad()
                    loss.backward()
                    generatorOptimizer.step()
                    for (_, optimizer) in surrogates { optimizer.zeroGrad() }  // G's backward passed through them
                    generatorLoss = Double(loss.item)
                    disagreement = Double(Autograd.inference { Loss.softmaxDisagreement(a.detached(), b.detached()) }.item)
                }
            }
            for _ in 0..<s.surrogateSteps {
                let n = min(s.batchSize, boundary.remaining)
                guard n >= 1 else { break }
                let z = Tensor.normal([n, s.noiseDimension], generator: &noise)
                let images = timed(\.trainingSeconds) { Autograd.inference { generator(z) } }
                let rows = try dataFreeAnswers(images)
                try timed(\.trainingSeconds) {
                    if s.replaySteps > 0 { memory.append(images, rows: rows) }
                    try trainSurrogates(images, rows)
                }
            }
            try timed(\.trainingSeconds) {
                for _ in 0..<s.replaySteps where memory.count > 0 {
                    let (images, rows) = memory.sample(s.batchSize, shape: shape, generator: &replayDraws)
                    try trainSurrogates(images, rows)
                }
            }
            progress?(AttackProgress(phase: .querying, done: boundary.queriesSpent, total: config.budget,
                                     message: String(format: "iteration %d: G %.4f (disagreement %.4f), S %.4f", iteration, generatorLoss,
                                                     disagreement, surrogateLoss)))
        }
        let copy = finishDataFree(surrogates[0].0, trainedImages: boundary.queriesSpent)
        let second = dataFreeModel(surrogates[1].0)
        // S₂ alone and the soft vote of both (the paper's figure); the copy is S₁.
        let p = Autograd.inference { Tensor(copy.outputs(testSet).logits, shape: [testSet.count, classes]).softmax() }
        let q = Autograd.inference { Tensor(second.outputs(testSet).logits, shape: [testSet.count, classes]).softmax() }
        let labels = testSet.labels
        let vote = (p + q).argmax(axis: 1), alone = q.argmax(axis: 1)
        diagnostics["disguide.second_surrogate_accuracy"] = Double(zip(alone, labels).filter { $0 == $1 }.count) / Double(testSet.count)
        diagnostics["disguide.soft_vote_accuracy"] = Double(zip(vote, labels).filter { $0 == $1 }.count) / Double(testSet.count)
        diagnostics["disguide.iterations"] = Double(iteration)
        diagnostics["disguide.final_generator_loss"] = generatorLoss
        diagnostics["disguide.final_disagreement"] = disagreement
        diagnostics["disguide.replay_images"] = Double(memory.count)
        diagnostics["surrogate.final_loss"] = surrogateLoss
        return copy
    }
}
