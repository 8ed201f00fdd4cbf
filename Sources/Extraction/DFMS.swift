import Datasets
import NeuralNet
import Prediction
import TensorEngine
import Training

/// DFMS, data-free model stealing (S. Sanyal, S. Addepalli, R. V. Babu, "Towards Data-Free Model
/// Stealing in a Hard Label Setting", CVPR 2022; docs/algorithms.md §5.1), its data-free form: no
/// pool, no proxy data. A generator G (DFME's `ImageGenerator`) and the surrogate S alternate on
/// each batch of G's images, one query per image, no gradient estimate:
/// - S takes one SGD step on the soft cross-entropy between its logits and the victim's answers
///   (the probabilities as answered, DFMS-SL, variant naive; or the one-hot top-1 label, DFMS-HL,
///   variant top-1);
/// - G takes one Adam step, through S (in evaluation mode), on the same images and answers:
///   `generatorLoss`, λ_div·Σ_c p̄_c log p̄_c (the class-diversity loss: p̄ is S's mean softmax over
///   the batch, so G spreads its images over the classes) − λ_adv·CE(S(x), answer) (G seeks the
///   images where S disagrees with the victim's answers, as S sees it) + λ_conf·H̄ (the mean
///   entropy of S's softmax per image: G makes images S is sure of).
///
/// The paper trains G from a GAN pre-trained on proxy (in its data-free setting, synthetic) images
/// and keeps a discriminator on them during the game; without any data there is no discriminator
/// here and G starts at random. The attack stops when the budget is spent, the last batch smaller
/// so that it spends the budget exactly. Both learning rates are multiplied by `decay` when the
/// queries spent pass each of `milestones` (fractions of the budget).
public enum DFMS {
    /// DFMS's settings. Defaults: the reference code's diversity weight (500) and adversarial weight
    /// (5), and a confidence weight equal to the diversity weight (the reference's script sets it to
    /// 0 but has a GAN prior; without one, G drifted to images both victim and S call uniform:
    /// chosen on the owner validation split with 30,000 and 100,000 queries, never the test set);
    /// batch 64; G's Adam 1e-3 and its width 32 as DFME's defaults (for budgets far below the
    /// paper's and for CPU time); S's SGD at the surrogate recipe's 0.05, × 0.3 at 50 and 75 % of
    /// the budget (the reference anneals S by a cosine over its epochs).
    public struct Settings: DataFreeSettings, Codable, Sendable, Equatable {
        // The fields `DataFreeSettings` requires are documented there.
        public static let attackName = "DFMS"
        public var noiseDimension: Int
        public var generatorWidth: Int
        /// Images per iteration (one query each).
        public var batchSize: Int
        public var generatorLearningRate: Float
        /// SGD's learning rate for S (momentum, Nesterov and weight decay from the surrogate recipe).
        public var surrogateLearningRate: Float
        /// λ_div, the weight of the class-diversity loss in G's loss.
        public var diversityWeight: Float
        /// λ_adv, the weight of S's cross-entropy to the victim's answers, which G maximises.
        public var adversarialWeight: Float
        /// λ_conf, the weight of the mean entropy of S's softmax per image (`Loss.meanEntropy`), which G
        /// minimises: images S is sure of (the reference code's `c_l`).
        public var confidenceWeight: Float
        public var milestones: [Double]
        public var decay: Float

        public init(noiseDimension: Int = 256, generatorWidth: Int = 32, batchSize: Int = 64, generatorLearningRate: Float = 1e-3,
                    surrogateLearningRate: Float = 0.05, diversityWeight: Float = 500, adversarialWeight: Float = 5,
                    confidenceWeight: Float = 500, milestones: [Double] = [0.5, 0.75], decay: Float = 0.3) {
            self.noiseDimension = noiseDimension
            self.generatorWidth = generatorWidth
            self.batchSize = batchSize
            self.generatorLearningRate = generatorLearningRate
            self.surrogateLearningRate = surrogateLearningRate
            self.diversityWeight = diversityWeight
            self.adversarialWeight = adversarialWeight
            self.confidenceWeight = confidenceWeight
            self.milestones = milestones
            self.decay = decay
        }

        public func validate() throws {
            try validateShared()
            for (name, weight) in [("diversity", diversityWeight), ("adversarial", adversarialWeight), ("confidence", confidenceWeight)] {
                guard weight >= 0, weight.isFinite else {
                    throw Self.invalid("the \(name) weight must be ≥ 0, found \(weight)")
                }
            }
            guard diversityWeight > 0 || adversarialWeight > 0 || confidenceWeight > 0 else {
                throw Self.invalid("the diversity, adversarial and confidence weights are all 0; G would not train")
            }
        }

        private enum CodingKeys: String, CodingKey {
            case noiseDimension, generatorWidth, batchSize, generatorLearningRate, surrogateLearningRate, diversityWeight,
                 adversarialWeight, confidenceWeight, milestones, decay
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
                      adversarialWeight: try c.decodeIfPresent(Float.self, forKey: .adversarialWeight) ?? d.adversarialWeight,
                      confidenceWeight: try c.decodeIfPresent(Float.self, forKey: .confidenceWeight) ?? d.confidenceWeight,
                      milestones: try c.decodeIfPresent([Double].self, forKey: .milestones) ?? d.milestones,
                      decay: try c.decodeIfPresent(Float.self, forKey: .decay) ?? d.decay)
        }
    }

    /// G's loss on S's logits `[N, K]` for G's images and the targets `[N, K]` learnt from the
    /// victim's answers: diversityWeight·Σ_c p̄_c log p̄_c − adversarialWeight·CE(logits, targets)
    /// + confidenceWeight·H̄, with p = softmax(logits), p̄ its batch mean (`Loss.classDiversity`),
    /// CE the mean soft cross-entropy and H̄ the mean entropy of the rows of p (`Loss.meanEntropy`).
    public static func generatorLoss(logits: Tensor, targets: Tensor, diversityWeight: Float, adversarialWeight: Float,
                                     confidenceWeight: Float = 0) -> Tensor {
        let p = logits.softmax()
        var loss = Loss.classDiversity(p) * diversityWeight - Loss.softCrossEntropy(logits, targets: targets) * adversarialWeight
        if confidenceWeight != 0 { loss = loss + Loss.meanEntropy(p) * confidenceWeight }
        return loss
    }
}

extension AttackRun {
    /// DFMS's game (see `DFMS`); returns S as trained when the budget ran out.
    func runDFMS() throws -> TrainedModel {
        let s = config.dfms
        let normalization = config.surrogate.normalization
        let (generator, generatorOptimizer) = try dataFreeGenerator(s)
        let (surrogate, surrogateOptimizer) = dataFreeSurrogate("surrogate", s)
        var noise = SeededGenerator(seed: seed("dfms-noise"))

        var iteration = 0
        var generatorLoss = 0.0, surrogateLoss = 0.0, diversity = 0.0

        while boundary.remaining > 0 {
            iteration += 1
            (generatorOptimizer.learningRate, surrogateOptimizer.learningRate) = dataFreeRates(s)
            let n = min(s.batchSize, boundary.remaining)
            let z = Tensor.normal([n, s.noiseDimension], generator: &noise)
            let images = timed(\.trainingSeconds) { generator(z) }
            let targets = dataFreeTargets(try dataFreeAnswers(images.detached()))
            try timed(\.trainingSeconds) {
                surrogate.train()
                let loss = Loss.softCrossEntropy(surrogate(normalization.normalized(images.detached())), targets: targets)
                surrogateOptimizer.zeroGrad()
                loss.backward()
                surrogateOptimizer.step()
                surrogateLoss = Double(loss.item)
                guard surrogateLoss.isFinite else {
                    throw ExtractionError(.invalidConfiguration, "DFMS's surrogate loss became \(surrogateLoss) at iteration \(iteration); lower its learning rate")
                }
                surrogate.eval()
                let logits = surrogate(normalization.normalizedRecordingGradient(images))
                let loss2 = DFMS.generatorLoss(logits: logits, targets: targets, diversityWeight: s.diversityWeight,
                                               adversarialWeight: s.adversarialWeight, confidenceWeight: s.confidenceWeight)
                generatorOptimizer.zeroGrad()
                loss2.backward()
                generatorOptimizer.step()
                surrogateOptimizer.zeroGrad()  // G's backward passed through S; S's step never sees it
                generatorLoss = Double(loss2.item)
                diversity = Double(Autograd.inference { Loss.classDiversity(logits.detached().softmax()) }.item)
            }
            progress?(AttackProgress(phase: .querying, done: boundary.queriesSpent, total: config.budget,
                                     message: String(format: "iteration %d: G %.4f (diversity %.4f), S %.4f", iteration, generatorLoss,
                                                     diversity, surrogateLoss)))
        }
        diagnostics["dfms.iterations"] = Double(iteration)
        diagnostics["dfms.final_generator_loss"] = generatorLoss
        diagnostics["dfms.final_class_diversity"] = diversity
        diagnostics["surrogate.final_loss"] = surrogateLoss
        return finishDataFree(surrogate, trainedImages: boundary.queriesSpent)
    }
}
