import Datasets
import Extraction
import Foundation
import NeuralNet
import Prediction
import TensorEngine
import TestSupport
import Training
import XCTest

/// DFMS and DisGUIDE on 16×16 blobs (their generator needs sides divisible by 4), their generator
/// losses and DisGUIDE's replay memory.
final class DataFreeAttackTests: XCTestCase {
    /// DFME's victim and test set on 16×16 blobs.
    static var victim: TrainedModel { DFMETests.victim }
    static var testSet: ImageDataset { DFMETests.testSet }

    /// A small DFMS or DisGUIDE: a narrow generator, batches of 32.
    static func configuration(_ strategy: QueryStrategy, _ variant: AdaptiveVariant = .naive, budget: Int, seed: UInt64 = 1) -> AttackConfiguration {
        var c = AttackConfiguration(strategy: strategy, variant: variant, budget: budget, seed: seed)
        c.surrogate = SurrogateRecipe(architecture: .fmnistCNN, augmentation: .none, normalization: .identity)
        c.dfms = DFMS.Settings(noiseDimension: 16, generatorWidth: 8, batchSize: 32, generatorLearningRate: 1e-3, surrogateLearningRate: 0.05)
        c.disguide = DisGUIDE.Settings(noiseDimension: 16, generatorWidth: 8, batchSize: 32, generatorLearningRate: 1e-3,
                                       surrogateLearningRate: 0.05, replaySteps: 1, replayCapacity: 1_000)
        c.queryBatchSize = 50
        return c
    }

    func attack(_ c: AttackConfiguration, api: ModelAPI? = nil) throws -> (TrainedModel, AttackResult) {
        try Fixtures.dataFreeAttack(c, victim: Self.victim, testSet: Self.testSet, api: api)
    }

    // MARK: Losses

    func testDFMSGeneratorLossByHandAndByFiniteDifferences() {
        // Logits (0, 0) and (ln 3, 0): softmax (0.5, 0.5) and (0.75, 0.25), p̄ = (0.625, 0.375);
        // targets one-hot class 1 and class 0: CE = (ln 2 + ln(4/3)) / 2.
        let logits = Tensor([0, 0, Foundation.log(Float(3)), 0], shape: [2, 2])
        let targets = Tensor([0, 1, 1, 0], shape: [2, 2])
        let diversity = 0.625 * Foundation.log(0.625) + 0.375 * Foundation.log(0.375)
        let ce = (Foundation.log(2.0) + Foundation.log(4.0 / 3)) / 2
        let value = DFMS.generatorLoss(logits: logits, targets: targets, diversityWeight: 3, adversarialWeight: 0.5).item
        XCTAssertEqual(Double(value), 3 * diversity - 0.5 * ce, accuracy: 1e-5)
        // Plus 2 × the mean entropy of the rows: (ln 2 + H(0.75, 0.25)) / 2.
        let entropy = (Foundation.log(2.0) - 0.75 * Foundation.log(0.75) - 0.25 * Foundation.log(0.25)) / 2
        let withConfidence = DFMS.generatorLoss(logits: logits, targets: targets, diversityWeight: 3, adversarialWeight: 0.5, confidenceWeight: 2).item
        XCTAssertEqual(Double(withConfidence), 3 * diversity - 0.5 * ce + 2 * entropy, accuracy: 1e-5)
        let z = testTensor([6, 4], seed: 7, scale: 1.5)
        let soft = Autograd.inference { testTensor([6, 4], seed: 8).softmax() }
        XCTAssertNil(GradientCheck.check([z], step: 1e-2) {
            DFMS.generatorLoss(logits: $0[0], targets: soft, diversityWeight: 2, adversarialWeight: 0.7, confidenceWeight: 1.3)
        })
    }

    func testDisGUIDEGeneratorLossByHandAndByFiniteDifferences() {
        // One image, S₁ (0, 0) → (0.5, 0.5), S₂ (ln 3, 0) → (0.75, 0.25): disagreement 0.25/√2;
        // p̄ over both = (0.625, 0.375).
        let a = Tensor([0, 0], shape: [1, 2]), b = Tensor([Foundation.log(Float(3)), 0], shape: [1, 2])
        let diversity = 0.625 * Foundation.log(0.625) + 0.375 * Foundation.log(0.375)
        let value = DisGUIDE.generatorLoss(a, b, diversityWeight: 0.2).item
        XCTAssertEqual(Double(value), 0.2 * diversity - 0.25 / 2.0.squareRoot(), accuracy: 1e-6)
        let x = testTensor([5, 4], seed: 9, scale: 2), y = testTensor([5, 4], seed: 10, scale: 2)
        XCTAssertNil(GradientCheck.check([x, y], step: 1e-3) { DisGUIDE.generatorLoss($0[0], $0[1], diversityWeight: 0.5) })
    }

    func testNormalizationRecordingGradientMatchesTheCopy() {
        let x = Autograd.inference { testTensor([2, 3, 4, 4], seed: 3).sigmoid() }
        for n in [Normalization.cifar10, .fashionMNIST] {
            let images = n.mean.count == 1 ? Autograd.inference { x.mean(axis: 1, keepDims: true) } : x
            let a = n.normalized(images).scalars, b = Autograd.inference { n.normalizedRecordingGradient(images) }.scalars
            for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-5) }
        }
        let p = testTensor([2, 3, 2, 2], seed: 4)
        XCTAssertNil(GradientCheck.check([p], step: 1e-2) { project(Normalization.cifar10.normalizedRecordingGradient($0[0])) })
    }

    // MARK: Replay memory

    func testReplayMemoryKeepsTheNewestAndSamplesWithoutReplacement() {
        var m = DataFree.ReplayMemory(capacity: 3, imageSize: 2)
        func batch(_ first: Int, _ n: Int) -> (Tensor, [[Float]]) {
            (Tensor((first..<(first + n)).flatMap { [Float($0), Float($0)] }, shape: [n, 1, 1, 2]), (first..<(first + n)).map { [Float($0)] })
        }
        let (x1, r1) = batch(0, 2)
        m.append(x1, rows: r1)
        XCTAssertEqual(m.count, 2)
        let (x2, r2) = batch(2, 3)
        m.append(x2, rows: r2)
        // Capacity 3: images 0 and 1 were overwritten by 3 and 4, oldest first.
        XCTAssertEqual(m.count, 3)
        XCTAssertEqual(Set(m.rows.map { $0[0] }), [2, 3, 4])
        for i in 0..<3 { XCTAssertEqual(m.pixels[2 * i], m.rows[i][0], "image and row stay together") }
        var g = SeededGenerator(seed: 5)
        let (images, rows) = m.sample(5, shape: [1, 1, 2], generator: &g)
        XCTAssertEqual(images.shape, [3, 1, 1, 2], "at most what it holds")
        XCTAssertEqual(Set(rows.map { $0[0] }), [2, 3, 4], "without replacement")
        for i in 0..<3 { XCTAssertEqual(images.scalars[2 * i], rows[i][0]) }
        var g1 = SeededGenerator(seed: 6), g2 = SeededGenerator(seed: 6)
        XCTAssertEqual(m.sample(2, shape: [1, 1, 2], generator: &g1).rows, m.sample(2, shape: [1, 1, 2], generator: &g2).rows)
    }

    // MARK: The attacks

    func testBothSpendExactlyTheBudgetAtTheBoundary() throws {
        for strategy in [QueryStrategy.dfms, .disguide] {
            for budget in [300, 32, 7, 1] {
                let api = ModelAPI(model: Self.victim)
                let (_, result) = try attack(Self.configuration(strategy, budget: budget), api: api)
                XCTAssertEqual(result.queriesSpent, budget, "\(strategy) budget \(budget)")
                XCTAssertEqual(api.queriesAnswered, result.queriesSpent, "the victim answered what the boundary counted")
                XCTAssertEqual(result.transferSetSize, budget, "every queried image is trained on")
                // 32 per iteration, the last one smaller: ⌈budget / 32⌉ iterations.
                XCTAssertEqual(result.diagnostics["\(strategy.rawValue).iterations"], Double((budget + 31) / 32))
            }
        }
        var c = Self.configuration(.disguide, budget: 300)
        c.disguide.replayCapacity = 100
        XCTAssertEqual(try attack(c).1.diagnostics["disguide.replay_images"], 100, "the replay memory keeps its capacity")
    }

    func testSameSeedGivesTheSameSurrogate() throws {
        try Fixtures.assertSeedDecides(Self.configuration(.dfms, budget: 200)) { try attack($0) }
        try Fixtures.assertSeedDecides(Self.configuration(.disguide, .top1, budget: 200)) { try attack($0) }
    }

    func testBothLearnTheVictimBetterThanChanceWithSoftAndHardLabels() throws {
        for strategy in [QueryStrategy.dfms, .disguide] {
            for variant in [AdaptiveVariant.naive, .top1] {
                var phases = Set<String>()
                let c = Self.configuration(strategy, variant, budget: 2_000)
                let r = try runAttack(c, api: ModelAPI(model: Self.victim), pools: AttackPools(), testSet: Self.testSet,
                                      victim: Self.victim) { phases.insert($0.phase.rawValue) }
                XCTAssertEqual(phases, ["querying", "evaluating"])
                XCTAssertEqual(r.result.queriesSpent, 2_000)
                XCTAssertEqual(r.result.trainingRounds, 1)
                XCTAssertEqual(try r.surrogate.evaluate(Self.testSet).accuracy, r.result.extractedAccuracy)
                XCTAssertGreaterThan(r.result.extractedAccuracy, 0.5, "\(c.label): 4 classes, chance 0.25")
                XCTAssertEqual(r.result.configuration.label, "\(strategy.rawValue)/\(variant.rawValue)/data-free/2000")
                let back = try JSONDecoder().decode(AttackResult.self, from: JSONEncoder().encode(r.result))
                XCTAssertEqual(back, r.result)
            }
        }
    }

    func testSettingsDecodeWithDefaultsAndAreChecked() throws {
        let json = #"{"strategy": "dfms", "variant": "top-1", "dfms": {"diversityWeight": 10}, "disguide": {"replaySteps": 0}}"#
        let c = try JSONDecoder().decode(AttackConfiguration.self, from: Data(json.utf8))
        XCTAssertEqual(c.strategy, .dfms)
        XCTAssertEqual(c.dfms.diversityWeight, 10)
        XCTAssertEqual(c.dfms.adversarialWeight, 5)
        XCTAssertEqual(c.dfms.confidenceWeight, 500)
        XCTAssertEqual(c.dfms.batchSize, 64)
        XCTAssertEqual(c.disguide.replaySteps, 0)
        XCTAssertEqual(c.disguide.diversityWeight, 0.2)
        XCTAssertEqual(c.disguide.milestones, [0.4, 0.8])
        XCTAssertEqual(DisGUIDE.Settings().rateFactor(spent: 0.85), 0.3 * 0.3, accuracy: 1e-7)
        XCTAssertNoThrow(try c.validate())
        XCTAssertFalse(QueryStrategy.dfms.usesPool)
        XCTAssertFalse(QueryStrategy.disguide.usesPool)
        XCTAssertEqual(QueryStrategy.disguide.displayName, "DisGUIDE")

        for strategy in [QueryStrategy.dfms, .disguide] {
            let s4l = Self.configuration(strategy, .s4l, budget: 100)
            assertExtractionError(try attack(s4l), .invalidConfiguration, mentioning: [strategy.displayName, "naive", "top-1", "s4l"])
            var bad = Self.configuration(strategy, budget: 100)
            bad.dfms.batchSize = 0
            bad.disguide.batchSize = 0
            assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: [strategy.displayName, "batch size", "found 0"])
            bad = Self.configuration(strategy, budget: 100)
            bad.dfms.milestones = [0.5, 0.2]
            bad.disguide.milestones = [0.5, 0.2]
            assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: ["milestones"])
            // Sides not divisible by 4.
            assertExtractionError(try runAttack(Self.configuration(strategy, budget: 100), api: ModelAPI(model: Fixtures.victim),
                                                pools: AttackPools(), testSet: Fixtures.testSet),
                                  .invalidConfiguration, mentioning: [strategy.displayName, "divisible by 4"])
        }
        var bad = Self.configuration(.dfms, budget: 100)
        bad.dfms.diversityWeight = -1
        assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: ["diversity weight", "found -1"])
        bad.dfms.diversityWeight = 0
        bad.dfms.adversarialWeight = 0
        bad.dfms.confidenceWeight = 0
        assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: ["all 0"])
        bad = Self.configuration(.disguide, budget: 100)
        bad.disguide.replaySteps = -1
        assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: ["replay steps", "found -1"])
        bad = Self.configuration(.disguide, budget: 100)
        bad.disguide.replayCapacity = 0
        assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: ["replay capacity", "found 0"])
    }
}
