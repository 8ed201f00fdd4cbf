import Datasets
import Extraction
import NeuralNet
import Prediction
import TensorEngine
import Training
import XCTest

final class AttackEndToEndTests: XCTestCase {
    var pools: AttackPools { AttackPools([.synthetic: Fixtures.pool]) }

    func attack(_ c: AttackConfiguration, api: PredictionAPI? = nil, pools: AttackPools? = nil) throws -> (TrainedModel, AttackResult) {
        let victim = Fixtures.victim
        let r = try runAttack(c, api: api ?? ModelAPI(model: victim), pools: pools ?? self.pools, testSet: Fixtures.testSet,
                              victim: victim)
        return (r.surrogate, r.result)
    }

    func testKnockoffNetStealsTheVictimAndSpendsExactlyTheBudget() throws {
        var phases = Set<String>()
        let victim = Fixtures.victim
        let config = Fixtures.configuration(.knockoff, .naive, budget: 450)  // > pool size: reuse under augmentation
        let (surrogate, result) = try runAttack(config, api: ModelAPI(model: victim), pools: pools, testSet: Fixtures.testSet,
                                                victim: victim) { phases.insert($0.phase.rawValue) }
        XCTAssertEqual(result.queriesSpent, 450)
        XCTAssertEqual(result.transferSetSize, 450)
        XCTAssertGreaterThan(result.extractedAccuracy, 0.6, "chance is 0.25")
        XCTAssertGreaterThan(result.fidelity ?? 0, 0.6)
        XCTAssertGreaterThan(result.victimAccuracy ?? 0, 0.9)
        XCTAssertEqual(result.trainingRounds, 1)
        XCTAssertEqual(try surrogate.evaluate(Fixtures.testSet).accuracy, result.extractedAccuracy)
        XCTAssertEqual(phases, ["querying", "training", "evaluating"])
        // The result is a JSON artefact.
        let back = try JSONDecoder().decode(AttackResult.self, from: JSONEncoder().encode(result))
        XCTAssertEqual(back, result)
    }

    func testJBDATRStealsTheVictimAndSpendsExactlyTheBudget() throws {
        // Seed 40 → 40 + 120 = 160 → +140 of the 480 possible = 300.
        var config = Fixtures.configuration(.jbdaTR, .naive, budget: 300)
        config.surrogate.epochs = 3
        var phases = Set<String>()
        let victim = Fixtures.victim
        let (_, result) = try runAttack(config, api: ModelAPI(model: victim), pools: pools, testSet: Fixtures.testSet,
                                        victim: victim) { phases.insert($0.phase.rawValue) }
        XCTAssertEqual(phases, ["querying", "synthesizing", "training", "evaluating"])
        XCTAssertEqual(result.queriesSpent, 300)
        XCTAssertEqual(result.transferSetSize, 300)
        XCTAssertEqual(result.trainingRounds, 3)
        XCTAssertEqual(result.diagnostics["jbda.rounds"], 2)
        XCTAssertGreaterThan(result.extractedAccuracy, 0.6, "chance is 0.25")
    }

    func testVariantsRunAndCountQueriesAtTheBoundary() throws {
        // Smoothing: 3 queries per image, a budget that is not a multiple of 3.
        var (_, r) = try attack(Fixtures.configuration(.knockoff, .smoothing, budget: 241))
        XCTAssertEqual(r.queriesSpent, 241)
        XCTAssertEqual(r.transferSetSize, 81)
        (_, r) = try attack(Fixtures.configuration(.knockoff, .top1, budget: 200))
        XCTAssertEqual(r.queriesSpent, 200)
        XCTAssertGreaterThan(r.extractedAccuracy, 0.5)
        (_, r) = try attack(Fixtures.configuration(.knockoff, .s4l, budget: 200))
        XCTAssertEqual(r.queriesSpent, 200)
        XCTAssertGreaterThan(r.extractedAccuracy, 0.4)
        var pb = Fixtures.configuration(.knockoff, .pBayes, budget: 200)
        pb.pBayes.tableSize = 4_000
        (_, r) = try attack(pb)
        XCTAssertEqual(r.queriesSpent, 200)
        XCTAssertNotNil(r.diagnostics["p-bayes.matched_fraction"])
        XCTAssertLessThanOrEqual(r.diagnostics["recovery.mean_l1_change"] ?? 1, 0.01 + 1e-5, "y → y for an undefended API")
        var dd = Fixtures.configuration(.jbdaTR, .dDAE, budget: 200)
        dd.dDAE = DDAERecovery.Settings(shadowCount: 1, shadowEpochs: 1, shadowData: .synthetic, outputsPerShadow: 200,
                                        recovery: RecoveryMLP.Training(epochs: 3, batchSize: 64, learningRate: 0.05))
        (_, r) = try attack(dd, api: try PerturbedAPI(base: ModelAPI(model: Fixtures.victim), perturbation: .defaultReverseSigmoid))
        XCTAssertEqual(r.queriesSpent, 200)
        XCTAssertNotNil(r.diagnostics["d-dae.heldout_l1_after"])
    }

    func testSameSeedGivesTheSameSurrogate() throws {
        try Fixtures.assertSeedDecides(Fixtures.configuration(.jbdaTR, .smoothing, budget: 150)) { try attack($0) }
    }

    func testBadSetupsGiveClearErrors() throws {
        let victim = Fixtures.victim
        let api = ModelAPI(model: victim)
        var c = Fixtures.configuration()
        c.budget = 0
        assertExtractionError(try runAttack(c, api: api, pools: pools, testSet: Fixtures.testSet), .invalidConfiguration, mentioning: ["budget"])
        assertExtractionError(try runAttack(Fixtures.configuration(), api: api, pools: AttackPools(), testSet: Fixtures.testSet),
                              .missingData, mentioning: ["synthetic"])
        let wrongShape = AttackPools([.synthetic: SyntheticData.make(count: 10, classes: 4, seed: 1)])
        assertExtractionError(try runAttack(Fixtures.configuration(), api: api, pools: wrongShape, testSet: Fixtures.testSet),
                              .invalidConfiguration, mentioning: ["[1, 28, 28]"])
        var dd = Fixtures.configuration(.knockoff, .dDAE)
        dd.dDAE.shadowData = .mnist5k
        assertExtractionError(try runAttack(dd, api: api, pools: pools, testSet: Fixtures.testSet), .missingData, mentioning: ["mnist-5k"])
    }

    func testConfigurationDecodesPartialJSONWithDefaults() throws {
        let json = #"{"strategy": "jbda-tr", "variant": "p-bayes", "pool": "fmnist-attacker", "budget": 500, "surrogate": {"epochs": 3, "architecture": "vgg-mini"}, "jbda": {"seedSize": 50}}"#
        let c = try JSONDecoder().decode(AttackConfiguration.self, from: Data(json.utf8))
        XCTAssertEqual(c.strategy, .jbdaTR)
        XCTAssertEqual(c.variant, .pBayes)
        XCTAssertEqual(c.pool, .fashionAttacker)
        XCTAssertEqual(c.surrogate.epochs, 3)
        XCTAssertEqual(c.surrogate.architecture, .vggMini)
        XCTAssertEqual(c.surrogate.batchSize, 128)
        XCTAssertEqual(c.jbda.seedSize, 50)
        XCTAssertEqual(c.jbda.pgd, TargetedPGD(epsilon: 0.1, steps: 8, stepScale: 1.85))
        XCTAssertEqual(c.pBayes.concentration, 8)
        XCTAssertEqual(c.pBayes.tolerance, 0.01)
        XCTAssertEqual(c.smoothing.copies, 3)
        XCTAssertEqual(c.s4lWeight, 1)
        let back = try JSONDecoder().decode(AttackConfiguration.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
        XCTAssertThrowsError(try JSONDecoder().decode(AttackConfiguration.self, from: Data(#"{"variant": "magic"}"#.utf8)))
    }

    func testPoolScheduleShufflesThenReusesUnderAugmentation() {
        let pool = Fixtures.blobs(5, seed: 30)
        let schedule = PoolSchedule(pool: pool, seed: 4, reuseAugmentation: .cropAndFlip(padding: 2, flip: true))
        let first = (0..<5).map { schedule.source(of: $0).index }
        XCTAssertEqual(Set(first), Set(0..<5))
        XCTAssertNotEqual(first, Array(0..<5))
        // Pass 0 is raw; later passes are augmented copies.
        let size = pool.imageSize
        let images = schedule.images(0..<10)
        XCTAssertEqual(Array(images[0..<size]), pool.image(at: first[0]))
        let second = schedule.source(of: 5)
        XCTAssertEqual(second.pass, 1)
        XCTAssertNotEqual(Array(images[(5 * size)..<(6 * size)]), pool.image(at: second.index))
        XCTAssertEqual(schedule.images(3..<7), Array(images[(3 * size)..<(7 * size)]))
    }
}
