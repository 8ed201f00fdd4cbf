import Datasets
import Extraction
import NeuralNet
import Prediction
import TensorEngine
import Training
import XCTest

final class RecoveryTests: XCTestCase {
    /// Probability rows of varied confidence: softmax of scaled random logits.
    func cleanRows(_ n: Int, classes: Int = 5, seed: UInt64) -> [[Float]] {
        var g = SeededGenerator(seed: seed)
        return (0..<n).map { _ in
            let scale = 1 + 5 * g.nextFloat()
            let z = (0..<classes).map { _ in scale * g.nextNormal() }
            let m = z.max()!
            return ProbabilityRow.normalized(z.map { expf($0 - m) })
        }
    }

    // MARK: p-Bayes

    func testPBayesMapsYToYForAnInputDependentDefense() throws {
        let observed = cleanRows(300, seed: 1)
        let settings = PBayesRecovery.Settings(tableSize: 6_000, simulated: .none)
        let table = try PBayesRecovery(settings: settings, estimates: observed, classes: 5, seed: 2)
        // The table's perturbed entries are its clean entries.
        XCTAssertEqual(table.clean, table.perturbed)
        let (rows, matched) = table.recover(observed)
        for (r, y) in zip(rows, observed) {
            XCTAssertLessThanOrEqual(ProbabilityRow.l1(r, y), 0.01 + 1e-5)
            XCTAssertEqual(ProbabilityRow.argmax(r), ProbabilityRow.argmax(y))
            XCTAssertEqual(r.reduce(0, +), 1, accuracy: 1e-5)
        }
        // Confident rows find entries within tolerance; a row with none is returned unchanged.
        XCTAssertGreaterThan(matched, 0)
        let lonely: [Float] = [0.3, 0.25, 0.2, 0.15, 0.1]
        let r = table.recover(lonely)
        if r.votes == 0 { XCTAssertEqual(r.row, lonely) }
        // One-hot answers (a label API) stay within the tolerance too.
        let hot = table.recover([0, 0, 1, 0, 0]).row
        XCTAssertLessThanOrEqual(ProbabilityRow.l1(hot, [0, 0, 1, 0, 0]), 0.01 + 1e-5)
    }

    func testPBayesInvertsASimulatedRoundingIntoItsCell() throws {
        var g = SeededGenerator(seed: 3)
        let clean = cleanRows(200, seed: 4)
        let observed = clean.map { OutputPerturbation.rounding(decimals: 1).apply($0, generator: &g) }
        let settings = PBayesRecovery.Settings(tableSize: 20_000, simulated: .rounding(decimals: 1))
        let table = try PBayesRecovery(settings: settings, estimates: observed, classes: 5, seed: 5)
        let (rows, matched) = table.recover(observed)
        XCTAssertGreaterThan(matched, 0.5)
        var recoveredError: Float = 0, observedError: Float = 0
        for ((r, y), c) in zip(zip(rows, observed), clean) {
            // A row no entry voted on is returned as observed; the others are probability rows in
            // y's rounding cell (every voting entry rounds to y, and so does their mean).
            guard r != y else { continue }
            XCTAssertEqual(r.reduce(0, +), 1, accuracy: 1e-5)
            for (a, b) in zip(r, y) { XCTAssertLessThanOrEqual(abs(a - b), 0.05 + 1e-4) }
            recoveredError += ProbabilityRow.l1(r, c)
            observedError += ProbabilityRow.l1(y, c)
        }
        XCTAssertLessThan(recoveredError, observedError, "the table's estimate should be nearer the clean rows than the rounded ones")
        assertExtractionError(try PBayesRecovery(settings: settings, estimates: [], classes: 5, seed: 1), .missingData)
        assertExtractionError(try PBayesRecovery(settings: PBayesRecovery.Settings(tolerance: -1), estimates: observed,
                                                 classes: 5, seed: 1), .invalidConfiguration)
    }

    func testDirichletSamplesAreProbabilityRowsWithTheRightMean() {
        var g = SeededGenerator(seed: 6)
        let alpha: [Double] = [8, 4, 2, 0.5, 1e-6]
        var mean = [Double](repeating: 0, count: 5)
        let n = 4_000
        for _ in 0..<n {
            let s = Dirichlet.sample(alpha: alpha, generator: &g)
            XCTAssertEqual(s.reduce(0, +), 1, accuracy: 1e-5)
            for j in 0..<5 { mean[j] += Double(s[j]) / Double(n) }
        }
        let total = alpha.reduce(0, +)
        for j in 0..<5 { XCTAssertEqual(mean[j], alpha[j] / total, accuracy: 0.01) }
    }

    // MARK: D-DAE

    func testRecoveryMLPGradientsMatchFiniteDifferences() {
        let mlp = RecoveryMLP(classes: 3, hidden: (6, 4), seed: 7)
        var g = SeededGenerator(seed: 8)
        let x = Tensor.uniform([5, 3], generator: &g, requiresGrad: true)
        let w = Tensor.normal([5, 3], generator: &g)
        func loss() -> Tensor { (mlp(x) * w).sum() }
        mlp.train()
        let l = loss()
        l.backward()
        let checks: [(Tensor, Tensor?)] = [(x, x.grad), (mlp.fc1.weight, mlp.fc1.weight.grad), (mlp.bn2.weight, mlp.bn2.weight.grad),
                                           (mlp.fc3.bias!, mlp.fc3.bias!.grad)]
        for (t, grad) in checks {
            guard let grad else { return XCTFail("no gradient for a tensor of shape \(t.shape)") }
            for i in stride(from: 0, to: t.count, by: max(1, t.count / 4)) {
                let old = t.data[i], h: Float = 1e-2
                t.data[i] = old + h
                let up = Autograd.inference { loss() }.item
                t.data[i] = old - h
                let down = Autograd.inference { loss() }.item
                t.data[i] = old
                let numeric = (up - down) / (2 * h)
                XCTAssertEqual(grad.data[i], numeric, accuracy: 2e-2 + 0.05 * abs(numeric), "shape \(t.shape) index \(i)")
            }
        }
    }

    func testRecoveryMLPUndoesReverseSigmoidOnHeldOutRows() throws {
        var g = SeededGenerator(seed: 9)
        let clean = cleanRows(1_200, seed: 10)
        let perturbed = clean.map { OutputPerturbation.defaultReverseSigmoid.apply($0, generator: &g) }
        let mlp = RecoveryMLP(classes: 5, seed: 11)
        try mlp.fit(perturbed: Array(perturbed[200...]), clean: Array(clean[200...]),
                    training: RecoveryMLP.Training(epochs: 15, batchSize: 64, learningRate: 0.05), seed: 12)
        let recovered = mlp.recover(Array(perturbed[..<200]))
        var before: Float = 0, after: Float = 0
        for i in 0..<200 {
            before += ProbabilityRow.l1(perturbed[i], clean[i])
            after += ProbabilityRow.l1(recovered[i], clean[i])
        }
        XCTAssertLessThan(after, 0.6 * before, "held-out L1 \(after / 200) after vs \(before / 200) before")
        assertExtractionError(try mlp.fit(perturbed: [[1, 0, 0, 0, 0]], clean: [[1, 0, 0, 0, 0]], training: .init(), seed: 1),
                              .invalidConfiguration)
    }

    func testDDAEShadowPipelineReducesHeldOutError() throws {
        let settings = DDAERecovery.Settings(shadowCount: 1, shadowEpochs: 2, shadowData: .synthetic, outputsPerShadow: 300,
                                             perturbations: [.none, .defaultReverseSigmoid, .rounding(decimals: 1)],
                                             heldOutFraction: 0.2,
                                             recovery: RecoveryMLP.Training(epochs: 15, batchSize: 64, learningRate: 0.05))
        let recovery = try DDAERecovery.build(settings: settings, shadowData: Fixtures.blobs(200, seed: 21),
                                              queryPool: Fixtures.pool, classes: Fixtures.classes,
                                              recipe: Fixtures.configuration().surrogate, architecture: .fmnistCNN, seed: 3)
        XCTAssertGreaterThan(recovery.shadowTrainAccuracy[0], 0.5)
        XCTAssertLessThan(recovery.heldOutL1After, recovery.heldOutL1Before,
                          "held-out L1 \(recovery.heldOutL1After) after vs \(recovery.heldOutL1Before) before")
        let rows = recovery.recover([[0.4, 0.2, 0.2, 0.2]])
        XCTAssertEqual(rows[0].reduce(0, +), 1, accuracy: 1e-5)
    }

    /// An oracle who knows the defense (here: every answer's classes rotated by one) learns to undo it
    /// from its shadow's true and defended answers, and the copy it extracts through the recovery is
    /// right where a naive copy of the same API is wrong.
    func testOracleRecoveryUndoesTheDefenseItsShadowCopies() throws {
        var calls: [UInt64] = []
        let shadowDefense: ShadowDefense = { shadow, seed in
            calls.append(seed)
            return RotatedAPI(base: ModelAPI(model: shadow))
        }
        let settings = DDAERecovery.Settings(shadowCount: 1, shadowEpochs: 2, shadowData: .synthetic, outputsPerShadow: 300,
                                             perturbations: [.none], heldOutFraction: 0.2,
                                             recovery: RecoveryMLP.Training(epochs: 30, batchSize: 32, learningRate: 0.05))
        let recovery = try DDAERecovery.build(settings: settings, shadowData: Fixtures.blobs(200, seed: 21),
                                              queryPool: Fixtures.pool, classes: Fixtures.classes,
                                              recipe: Fixtures.configuration().surrogate, architecture: .fmnistCNN, seed: 3,
                                              shadowDefense: shadowDefense)
        XCTAssertEqual(calls.count, 1, "one defended copy per shadow")
        XCTAssertLessThan(recovery.heldOutL1After, 0.5 * recovery.heldOutL1Before,
                          "held-out L1 \(recovery.heldOutL1After) after vs \(recovery.heldOutL1Before) before: the pairs are the defense's")
        XCTAssertEqual(ProbabilityRow.argmax(recovery.recover([[0.05, 0.85, 0.05, 0.05]])[0]), 0, "class 1 answered means class 0")

        var oracle = Fixtures.configuration(.knockoff, .oracle, budget: 240)
        oracle.dDAE = settings
        let api = RotatedAPI(base: ModelAPI(model: Fixtures.victim))
        let pools = AttackPools([.synthetic: Fixtures.pool])
        assertExtractionError(try runAttack(oracle, api: api, pools: pools, testSet: Fixtures.testSet), .invalidConfiguration,
                              mentioning: ["oracle variant needs a copy of the deployed defense"])
        let (_, stolen) = try runAttack(oracle, api: api, pools: pools, testSet: Fixtures.testSet, victim: Fixtures.victim, shadowDefense: shadowDefense)
        let (_, naive) = try runAttack(Fixtures.configuration(.knockoff, .naive, budget: 240), api: api, pools: pools, testSet: Fixtures.testSet)
        XCTAssertEqual(stolen.queriesSpent, 240)
        XCTAssertGreaterThan(stolen.extractedAccuracy, 0.6, "the oracle copy undoes the rotation")
        XCTAssertLessThan(naive.extractedAccuracy, 0.3, "the naive copy learns the rotated labels")
    }

    // MARK: S4L

    func testRotationTargetsAndImages() {
        // Two 2×2 images: [[1, 2], [3, 4]] and [[5, 6], [7, 8]].
        let x = Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 1, 2, 2])
        let (images, labels) = RotationTask.batch(x)
        XCTAssertEqual(images.shape, [8, 1, 2, 2])
        XCTAssertEqual(labels, [0, 0, 1, 1, 2, 2, 3, 3])
        let v = images.scalars
        func image(_ i: Int) -> [Float] { Array(v[(i * 4)..<((i + 1) * 4)]) }
        XCTAssertEqual(image(0), [1, 2, 3, 4])
        XCTAssertEqual(image(2), [2, 4, 1, 3])   // 90° counter-clockwise
        XCTAssertEqual(image(4), [4, 3, 2, 1])   // 180°
        XCTAssertEqual(image(6), [3, 1, 4, 2])   // 270°
        XCTAssertEqual(image(7), [7, 5, 8, 6])
    }
}

/// A defense for tests: every answer row's classes rotated by one (class c's probability is
/// reported as class c + 1's).
final class RotatedAPI: PredictionAPI {
    let base: PredictionAPI
    init(base: PredictionAPI) { self.base = base }
    var name: String { base.name + " rotated" }
    var inputShape: [Int] { base.inputShape }
    var classes: Int { base.classes }
    var answerMode: AnswerMode { .probabilities }
    func answer(_ pixels: Tensor) throws -> [[Float]] {
        try base.answer(pixels).map { row in (0..<row.count).map { row[($0 + row.count - 1) % row.count] } }
    }
}
