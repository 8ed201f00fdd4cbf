import Datasets
import NeuralNet
import Prediction
import TensorEngine
import Training

/// DFME, data-free model extraction (J.-B. Truong et al., CVPR 2021; docs/algorithms.md §5): no
/// pool. A generator G and the surrogate S play a game over the victim's soft labels. Each
/// iteration takes `generatorSteps` generator steps, each maximising the l1 disagreement between
/// the victim's and S's logits on a batch of G's images, with the victim's gradient estimated
/// by forward differences along m random unit directions (`ZerothOrderGradient`; m + 1 queries
/// per image), then `surrogateSteps` surrogate steps, each minimising the l1 loss between S's
/// logits and the victim's on a fresh batch of G's images (one query per image). The victim's
/// logits are recovered from its probabilities as log p − mean(log p).
///
/// Every query (the gradient-estimation ones included) goes through the attack's query boundary;
/// the attack stops when the budget is spent, the last steps taking smaller batches so that it
/// spends the budget exactly. Both learning rates are multiplied by `decay` when the queries spent
/// pass each of `milestones` (fractions of the budget), as DFME's step schedule.
public enum DFME {
    /// DFME's settings. Defaults: the paper's (noise 256, m = 1, ε = 1e-3, SGD 0.1 for S, 1 generator
    /// and 5 surrogate steps per iteration, × 0.3 at 10, 30 and 50 % of the budget) but for three,
    /// made for budgets some hundred times smaller than the paper's and for CPU time: batches of 64
    /// rather than 256 and Adam 1e-3 rather than 1e-4 for G (the paper's values leave G, after so
    /// few steps, near its random start; chosen on the owner validation split, never the test set),
    /// and a generator of width 32 rather than 64.
    public struct Settings: DataFreeSettings, Codable, Sendable, Equatable {
        public static let attackName = "DFME"
        /// Dimension of the noise z ~ N(0, I).
        public var noiseDimension: Int
        /// Channels of the generator's last hidden block (`ImageGenerator.width`).
        public var generatorWidth: Int
        /// Images per generator or surrogate step.
        public var batchSize: Int
        /// Random directions m per image of the gradient estimate.
        public var directions: Int
        /// Forward-difference step ε, in the generator's pre-activation space.
        public var epsilon: Float
        /// Adam's learning rate for G.
        public var generatorLearningRate: Float
        /// SGD's learning rate for S (momentum, Nesterov and weight decay from the surrogate recipe).
        public var surrogateLearningRate: Float
        /// Generator steps per iteration (may be 0: S then trains on an untrained generator's images).
        public var generatorSteps: Int
        /// Surrogate steps per iteration.
        public var surrogateSteps: Int
        /// Fractions of the budget at which both learning rates are multiplied by `decay`.
        public var milestones: [Double]
        public var decay: Float

        public init(noiseDimension: Int = 256, generatorWidth: Int = 32, batchSize: Int = 64, directions: Int = 1,
                    epsilon: Float = 1e-3, generatorLearningRate: Float = 1e-3, surrogateLearningRate: Float = 0.1,
                    generatorSteps: Int = 1, surrogateSteps: Int = 5, milestones: [Double] = [0.1, 0.3, 0.5], decay: Float = 0.3) {
            self.noiseDimension = noiseDimension
            self.generatorWidth = generatorWidth
            self.batchSize = batchSize
            self.directions = directions
            self.epsilon = epsilon
            self.generatorLearningRate = generatorLearningRate
            self.surrogateLearningRate = surrogateLearningRate
            self.generatorSteps = generatorSteps
            self.surrogateSteps = surrogateSteps
            self.milestones = milestones
            self.decay = decay
        }

        /// Queries one iteration spends at full batches: generator steps × batch × (m + 1) + surrogate steps × batch.
        public var queriesPerIteration: Int { generatorSteps * batchSize * (directions + 1) + surrogateSteps * batchSize }

        public func validate() throws {
            try validateShared()
            guard directions >= 1 else { throw Self.invalid("the gradient estimate needs ≥ 1 direction, found \(directions)") }
            guard epsilon > 0, epsilon.isFinite else { throw Self.invalid("ε must be positive, found \(epsilon)") }
            guard generatorSteps >= 0 else { throw Self.invalid("generator steps must be ≥ 0, found \(generatorSteps)") }
            guard surrogateSteps >= 1 else { throw Self.invalid("surrogate steps must be ≥ 1, found \(surrogateSteps)") }
        }

        private enum CodingKeys: String, CodingKey {
            case noiseDimension, generatorWidth, batchSize, directions, epsilon, generatorLearningRate, surrogateLearningRate,
                 generatorSteps, surrogateSteps, milestones, decay
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Settings()
            self.init(noiseDimension: try c.decodeIfPresent(Int.self, forKey: .noiseDimension) ?? d.noiseDimension,
                      generatorWidth: try c.decodeIfPresent(Int.self, forKey: .generatorWidth) ?? d.generatorWidth,
                      batchSize: try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize,
                      directions: try c.decodeIfPresent(Int.self, forKey: .directions) ?? d.directions,
                      epsilon: try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? d.epsilon,
                      generatorLearningRate: try c.decodeIfPresent(Float.self, forKey: .generatorLearningRate) ?? d.generatorLearningRate,
                      surrogateLearningRate: try c.decodeIfPresent(Float.self, forKey: .surrogateLearningRate) ?? d.surrogateLearningRate,
                      generatorSteps: try c.decodeIfPresent(Int.self, forKey: .generatorSteps) ?? d.generatorSteps,
                      surrogateSteps: try c.decodeIfPresent(Int.self, forKey: .surrogateSteps) ?? d.surrogateSteps,
                      milestones: try c.decodeIfPresent([Double].self, forKey: .milestones) ?? d.milestones,
                      decay: try c.decodeIfPresent(Float.self, forKey: .decay) ?? d.decay)
        }
    }
}

extension AttackRun {
    /// DFME's game (see `DFME`); returns S as trained when the budget ran out.
    func runDFME() throws -> TrainedModel {
        let s = config.dfme
        let recipe = config.surrogate
        let (generator, generatorOptimizer) = try dataFreeGenerator(s)
        let (surrogate, surrogateOptimizer) = dataFreeSurrogate("surrogate", s)
        let estimator = ZerothOrderGradient(directions: s.directions, epsilon: s.epsilon)
        var noise = SeededGenerator(seed: seed("dfme-noise"))
        var directions = SeededGenerator(seed: seed("dfme-directions"))
        surrogate.train()

        var iteration = 0, generatorQueries = 0, surrogateQueries = 0
        var generatorLoss = 0.0, surrogateLoss = 0.0

        /// The victim's logits (recovered from its answers) on raw images, spending one query per image.
        func victimLogits(_ images: Tensor) throws -> [[Float]] {
            try dataFreeAnswers(images).map(ProbabilityRow.centeredLogits)
        }

        /// One generator step on `n` images: n·(m + 1) queries.
        func generatorStep(_ n: Int) throws {
            let z = Tensor.normal([n, s.noiseDimension], generator: &noise)
            let pre = generator.preActivation(z)
            // The loss per image is −(1/K)·Σ|victim − S| at its pixels; G minimises its batch mean.
            let (gradient, values) = try estimator.estimate(at: pre.detached(), generator: &directions) { points in
                let images = Autograd.inference { ImageGenerator.pixels(points.reshaped([points.shape[0]] + shape)) }
                let victim = try victimLogits(images)
                surrogate.eval()
                defer { surrogate.train() }
                let mine = Autograd.inference { surrogate(recipe.normalization.normalized(images)) }.scalars
                return victim.enumerated().map { i, row in
                    var l1: Float = 0
                    for j in 0..<classes { l1 += Swift.abs(row[j] - mine[i * classes + j]) }
                    return -l1 / Float(classes)
                }
            }
            generatorQueries += n * (s.directions + 1)
            try timed(\.trainingSeconds) {
                generatorOptimizer.zeroGrad()
                pre.backward(Autograd.inference { gradient.reshaped(pre.shape) * (1 / Float(n)) })
                generatorOptimizer.step()
            }
            generatorLoss = Double(values.reduce(0, +)) / Double(n)
        }

        /// One surrogate step on `n` fresh images: n queries.
        func surrogateStep(_ n: Int) throws {
            let z = Tensor.normal([n, s.noiseDimension], generator: &noise)
            let images = timed(\.trainingSeconds) { Autograd.inference { generator(z) } }
            let targets = try victimLogits(images)
            surrogateQueries += n
            try timed(\.trainingSeconds) {
                let logits = surrogate(recipe.normalization.normalized(images))
                let loss = Loss.l1(logits, Tensor(targets.flatMap { $0 }, shape: [n, classes]))
                surrogateOptimizer.zeroGrad()
                loss.backward()
                surrogateOptimizer.step()
                surrogateLoss = Double(loss.item)
                guard surrogateLoss.isFinite else {
                    throw ExtractionError(.invalidConfiguration, "DFME's surrogate loss became \(surrogateLoss) at iteration \(iteration); lower its learning rate")
                }
            }
        }

        while boundary.remaining > 0 {
            iteration += 1
            (generatorOptimizer.learningRate, surrogateOptimizer.learningRate) = dataFreeRates(s)
            for _ in 0..<s.generatorSteps {
                let n = min(s.batchSize, boundary.remaining / (s.directions + 1))
                if n >= 1 { try generatorStep(n) }
            }
            for _ in 0..<s.surrogateSteps {
                let n = min(s.batchSize, boundary.remaining)
                if n >= 1 { try surrogateStep(n) }
            }
            progress?(AttackProgress(phase: .querying, done: boundary.queriesSpent, total: config.budget,
                                     message: String(format: "iteration %d: G %.4f, S %.4f", iteration, generatorLoss, surrogateLoss)))
        }
        diagnostics["dfme.iterations"] = Double(iteration)
        diagnostics["dfme.generator_queries"] = Double(generatorQueries)
        diagnostics["dfme.surrogate_queries"] = Double(surrogateQueries)
        diagnostics["dfme.final_generator_loss"] = generatorLoss
        diagnostics["surrogate.final_loss"] = surrogateLoss
        return finishDataFree(surrogate, trainedImages: surrogateQueries)
    }
}
