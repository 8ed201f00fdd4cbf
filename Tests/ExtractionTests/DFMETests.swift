import Datasets
import Extraction
import Foundation
import NeuralNet
import Prediction
import TensorEngine
import Training
import XCTest

/// DFME on 16×16 blobs (its generator needs sides divisible by 4) and its zeroth-order gradient estimate.
final class DFMETests: XCTestCase {
    static let shape = [1, 16, 16]

    /// An fmnist-cnn victim on 16×16 blobs of 4 classes (trained once, shared).
    static var victim: TrainedModel { Fixtures.victim(side: 16) }

    static let testSet = Fixtures.blobs(200, seed: 12, name: "dfme-test", side: 16)

    /// A small DFME: a narrow generator, batches of 32, m = 2, 2 surrogate steps per iteration.
    static func configuration(budget: Int, seed: UInt64 = 1) -> AttackConfiguration {
        var c = AttackConfiguration(strategy: .dfme, variant: .naive, budget: budget, seed: seed)
        c.surrogate = SurrogateRecipe(architecture: .fmnistCNN, augmentation: .none, normalization: .identity)
        c.dfme = DFME.Settings(noiseDimension: 16, generatorWidth: 8, batchSize: 32, directions: 2, epsilon: 1e-3,
                               generatorLearningRate: 1e-3, surrogateLearningRate: 0.05, generatorSteps: 1, surrogateSteps: 2)
        c.queryBatchSize = 50
        return c
    }

    func attack(_ c: AttackConfiguration, api: ModelAPI? = nil) throws -> (TrainedModel, AttackResult) {
        try Fixtures.dataFreeAttack(c, victim: Self.victim, testSet: Self.testSet, api: api)
    }

    // MARK: The zeroth-order estimate

    func testZerothOrderEstimateApproachesTheTrueGradient() {
        // f(x) = Σ aᵢ sin(xᵢ) + ½ Σ bᵢ xᵢ², ∇f = aᵢ cos(xᵢ) + bᵢ xᵢ, at 3 points of 20 values.
        let d = 20, n = 3
        var g = SeededGenerator(seed: 3)
        let a = (0..<d).map { _ in g.nextNormal() }, b = (0..<d).map { _ in g.nextNormal() }
        let x = Tensor.normal([n, d], generator: &g)
        func f(_ points: Tensor) -> [Float] {
            let v = points.scalars
            return (0..<points.shape[0]).map { r in
                var s: Double = 0
                for i in 0..<d { let xi = Double(v[r * d + i]); s += Double(a[i]) * Foundation.sin(xi) + 0.5 * Double(b[i]) * xi * xi }
                return Float(s)
            }
        }
        let truth = x.scalars.enumerated().map { k, xi in a[k % d] * Foundation.cos(xi) + b[k % d] * xi }
        func cosine(_ m: Int, seed: UInt64) -> Double {
            var r = SeededGenerator(seed: seed)
            let (estimate, values) = ZerothOrderGradient(directions: m, epsilon: 1e-3).estimate(at: x, generator: &r, f)
            XCTAssertEqual(estimate.shape, [n, d])
            XCTAssertEqual(values, f(x))
            var worst = 1.0
            for p in 0..<n {
                let e = estimate.scalars[(p * d)..<((p + 1) * d)], t = truth[(p * d)..<((p + 1) * d)]
                let dot = zip(e, t).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let ne = e.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot(), nt = t.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
                worst = min(worst, dot / (ne * nt))
            }
            return worst
        }
        let many = cosine(4_000, seed: 4), few = cosine(4, seed: 4)
        XCTAssertGreaterThan(many, 0.97, "4,000 directions in 20 dimensions")
        XCTAssertGreaterThan(few, 0, "even 4 directions point uphill")
        XCTAssertGreaterThan(many, few)
    }

    func testZerothOrderPointsAndDirections() {
        let z = ZerothOrderGradient(directions: 3, epsilon: 0.5)
        var g = SeededGenerator(seed: 9)
        let u = z.unitDirections(points: 2, dimension: 5, generator: &g)
        XCTAssertEqual(u.shape, [6, 5])
        for r in 0..<6 { XCTAssertEqual(u.scalars[(r * 5)..<(r * 5 + 5)].reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5) }
        let x = Tensor((0..<10).map(Float.init), shape: [2, 5])
        let p = z.evaluationPoints(x, directions: u)
        XCTAssertEqual(p.shape, [8, 5])
        // Rows 3 and 7 are the points themselves; the others are ε away along their direction.
        XCTAssertEqual(Array(p.scalars[15..<20]), Array(x.scalars[0..<5]))
        XCTAssertEqual(Array(p.scalars[35..<40]), Array(x.scalars[5..<10]))
        for (j, v) in p.scalars[25..<30].enumerated() { XCTAssertEqual(v, x.scalars[5 + j] + 0.5 * u.scalars[20 + j], accuracy: 1e-6) }  // point 1, direction 1
    }

    // MARK: The attack

    func testDFMESpendsExactlyTheBudgetAtTheBoundary() throws {
        // An iteration costs 32·3 + 2·32 = 160 queries; 1,000 = 6 full iterations and a partial one.
        for budget in [1_000, 160, 7, 1] {
            let api = ModelAPI(model: Self.victim)
            let (_, result) = try attack(Self.configuration(budget: budget), api: api)
            XCTAssertEqual(result.queriesSpent, budget, "budget \(budget)")
            XCTAssertEqual(api.queriesAnswered, result.queriesSpent, "the victim answered what the boundary counted")
            XCTAssertEqual((result.diagnostics["dfme.generator_queries"] ?? -1) + (result.diagnostics["dfme.surrogate_queries"] ?? -1),
                           Double(result.queriesSpent))
            XCTAssertEqual(result.transferSetSize, Int(result.diagnostics["dfme.surrogate_queries"] ?? -1))
        }
        let api = ModelAPI(model: Self.victim)
        let (_, result) = try attack(Self.configuration(budget: 1_000), api: api)
        XCTAssertEqual(result.diagnostics["dfme.iterations"], 7)
        XCTAssertEqual(result.diagnostics["dfme.generator_queries"], 6 * 96 + 39, "the last generator step takes ⌊40 / 3⌋ images")
    }

    func testDFMESameSeedGivesTheSameSurrogate() throws {
        try Fixtures.assertSeedDecides(Self.configuration(budget: 500)) { try attack($0) }
    }

    func testDFMERunsEndToEndAndLearnsTheVictimWhereItQueried() throws {
        var phases = Set<String>()
        var probe = SeededGenerator(seed: 98)
        let c = Self.configuration(budget: 8_000)
        let r = try runAttack(c, api: ModelAPI(model: Self.victim), pools: AttackPools(), testSet: Self.testSet,
                              victim: Self.victim) { phases.insert($0.phase.rawValue) }
        XCTAssertEqual(phases, ["querying", "evaluating"])
        XCTAssertEqual(r.result.queriesSpent, 8_000)
        XCTAssertEqual(r.result.trainingRounds, 1)
        XCTAssertGreaterThan(r.result.victimAccuracy ?? 0, 0.9)
        XCTAssertEqual(try r.surrogate.evaluate(Self.testSet).accuracy, r.result.extractedAccuracy)
        // 8,000 queries are far too few for the game to leave the generator's first images, which this
        // victim nearly all calls one class, so the blobs' accuracy stays near chance; but S has learnt
        // the victim where it was queried: on a generator's images (a fresh one of the same kind) its
        // logits are closer to the victim's (DFME's l1 loss) than an untrained surrogate's.
        let images = Autograd.inference { ImageGenerator(noiseDimension: 16, imageShape: Self.shape, width: 8, seed: 99)(
            Tensor.normal([200, 16], generator: &probe)) }
        func disagreement(_ model: TrainedModel) -> Float {
            let v = ModelAPI.probabilityRows(Self.victim, images).flatMap(ProbabilityRow.centeredLogits)
            let m = model.forward(pixels: images).logits.scalars
            return zip(v, m).reduce(0) { $0 + Swift.abs($1.0 - $1.1) } / Float(v.count)
        }
        let untrained = TrainedModel(classifier: Architecture.fmnistCNN.build(classes: 4, imageSize: 16, seed: 5), manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 4, inputShape: Self.shape, normalization: .identity, source: "untrained"))
        XCTAssertLessThan(disagreement(r.surrogate), 0.8 * disagreement(untrained))
        // The settings travel with the result.
        XCTAssertEqual(r.result.configuration.dfme, c.dfme)
        XCTAssertEqual(r.result.configuration.label, "dfme/naive/data-free/8000")
        let back = try JSONDecoder().decode(AttackResult.self, from: JSONEncoder().encode(r.result))
        XCTAssertEqual(back, r.result)
    }

    func testDFMESettingsDecodeWithDefaultsAndAreChecked() throws {
        let json = #"{"strategy": "dfme", "budget": 50000, "dfme": {"directions": 4, "epsilon": 0.01}}"#
        let c = try JSONDecoder().decode(AttackConfiguration.self, from: Data(json.utf8))
        XCTAssertEqual(c.strategy, .dfme)
        XCTAssertEqual(c.dfme.directions, 4)
        XCTAssertEqual(c.dfme.epsilon, 0.01)
        XCTAssertEqual(c.dfme.noiseDimension, 256)
        XCTAssertEqual(c.dfme.batchSize, 64)
        XCTAssertEqual(c.dfme.generatorLearningRate, 1e-3)
        XCTAssertEqual(c.dfme.surrogateSteps, 5)
        XCTAssertEqual(c.dfme.milestones, [0.1, 0.3, 0.5])
        XCTAssertEqual(DFME.Settings().queriesPerIteration, 64 * 2 + 5 * 64)
        XCTAssertEqual(DFME.Settings().rateFactor(spent: 0.35), 0.3 * 0.3, accuracy: 1e-7)
        XCTAssertNoThrow(try c.validate())

        var top1 = Self.configuration(budget: 100)
        top1.variant = .top1
        assertExtractionError(try attack(top1), .invalidConfiguration, mentioning: ["DFME", "naive"])
        var bad = Self.configuration(budget: 100)
        bad.dfme.directions = 0
        assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: ["direction"])
        bad = Self.configuration(budget: 100)
        bad.dfme.milestones = [0.5, 0.2]
        assertExtractionError(try attack(bad), .invalidConfiguration, mentioning: ["milestones"])
        // Sides not divisible by 4: the generator cannot make the victim's images.
        let odd = Fixtures.victim
        assertExtractionError(try runAttack(Self.configuration(budget: 100), api: ModelAPI(model: odd), pools: AttackPools(),
                                            testSet: Fixtures.testSet), .invalidConfiguration, mentioning: ["divisible by 4"])
    }
}
