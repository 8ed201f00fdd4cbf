import Datasets
import Extraction
import NeuralNet
import Prediction
import TensorEngine
import Training
import XCTest

final class OutputPerturbationTests: XCTestCase {
    var g = SeededGenerator(seed: 1)

    func assertRow(_ a: [Float], _ b: [Float], accuracy: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, "\(a) vs \(b)", file: file, line: line) }
    }

    func testReverseSigmoidMatchesHandComputedRows() {
        // y − 0.7·(σ(0.4·logit y) − ½): logit 0.8 = ln 4, σ(0.4 ln 4) = 0.635188…, r = 0.094632…
        let rs = OutputPerturbation.defaultReverseSigmoid
        assertRow(rs.apply([0.8, 0.2], generator: &g), [0.705372, 0.294628])
        // [0.7, 0.2, 0.1] → [0.641250, 0.294628, 0.244614] before renormalising (sum 1.180493).
        assertRow(rs.apply([0.7, 0.2, 0.1], generator: &g), [0.543206, 0.249581, 0.207214])
        // Uniform rows are fixed points; the top class stays on top here, but small
        // probabilities swap places: 0.01 comes out above 0.06.
        assertRow(rs.apply([0.25, 0.25, 0.25, 0.25], generator: &g), [0.25, 0.25, 0.25, 0.25])
        let out = rs.apply([0.9, 0.06, 0.03, 0.01], generator: &g)
        XCTAssertEqual(ProbabilityRow.ranking(out), [0, 3, 2, 1])
        XCTAssertEqual(out.reduce(0, +), 1, accuracy: 1e-6)
    }

    func testRoundingToOneAndTwoDecimals() {
        let row: [Float] = [0.734, 0.155, 0.101, 0.010]
        assertRow(OutputPerturbation.rounding(decimals: 1).apply(row, generator: &g), [0.7, 0.2, 0.1, 0.0])
        assertRow(OutputPerturbation.rounding(decimals: 2).apply(row, generator: &g), [0.73, 0.16, 0.10, 0.01])
        // The rounded row is returned as is, not renormalised.
        assertRow(OutputPerturbation.rounding(decimals: 1).apply([0.34, 0.33, 0.33], generator: &g), [0.3, 0.3, 0.3])
    }

    func testTopOneKeepsTheArgmaxAndSumsToOne() {
        let out = OutputPerturbation.top1.apply([0.2, 0.5, 0.3], generator: &g)
        XCTAssertEqual(out, [0, 1, 0])
        // Ties go to the first class.
        XCTAssertEqual(OutputPerturbation.top1.apply([0.4, 0.4, 0.2], generator: &g), [1, 0, 0])
        XCTAssertEqual(OutputPerturbation.top1.answerMode, .label)
    }

    func testGaussianNoiseAndTopPreservingShuffleStayProbabilityRows() {
        let row: [Float] = [0.6, 0.25, 0.1, 0.05]
        var changed = false
        for _ in 0..<50 {
            let n = OutputPerturbation.gaussianNoise(std: 0.05).apply(row, generator: &g)
            XCTAssertEqual(n.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertTrue(n.allSatisfy { $0 >= 0 })
            changed = changed || n != row
            let s = OutputPerturbation.topPreservingShuffle.apply(row, generator: &g)
            XCTAssertEqual(s[0], 0.6)
            XCTAssertEqual(s.sorted(), row.sorted())
        }
        XCTAssertTrue(changed)
        XCTAssertEqual(OutputPerturbation.gaussianNoise(std: 0).apply(row, generator: &g), row)
    }

    func testValidationAndCodableRoundTrip() throws {
        assertPredictionError(try OutputPerturbation.rounding(decimals: 9).validate(), .invalidConfiguration)
        assertPredictionError(try OutputPerturbation.reverseSigmoid(beta: 0, gamma: 0.4).validate(), .invalidConfiguration)
        assertPredictionError(try OutputPerturbation.gaussianNoise(std: -1).validate(), .invalidConfiguration)
        let all = OutputPerturbation.dDAEDefaults + [.top1]
        let back = try JSONDecoder().decode([OutputPerturbation].self, from: JSONEncoder().encode(all))
        XCTAssertEqual(back, all)
    }

    func testAnswerModesShapeRows() throws {
        let p: [Float] = [0.1, 0.5, 0.15, 0.25]
        XCTAssertEqual(AnswerMode.probabilities.shape(p), p)
        XCTAssertEqual(AnswerMode.label.shape(p), [0, 1, 0, 0])
        XCTAssertEqual(AnswerMode.topK(2).shape(p), [0, 0.5, 0, 0.25])
        XCTAssertEqual(AnswerMode(argument: "top-3"), .topK(3))
        XCTAssertNil(AnswerMode(argument: "top-0"))
        XCTAssertEqual(try JSONDecoder().decode(AnswerMode.self, from: Data("\"label\"".utf8)), .label)
    }

    func testModelAndPerturbedAPIsAnswerSoftmaxRowsInTheirMode() throws {
        let victim = Fixtures.victim
        let x = Fixtures.testSet.batchTensor(Array(0..<6)).images
        let plain = ModelAPI(model: victim)
        let rows = try plain.answer(x)
        let logits = victim.forward(pixels: x).logits.softmax().scalars
        for (i, row) in rows.enumerated() {
            assertRow(row, Array(logits[(i * 4)..<((i + 1) * 4)]), accuracy: 1e-6)
        }
        let labels = try ModelAPI(model: victim, answerMode: .label).answer(x)
        XCTAssertEqual(labels, rows.map(ProbabilityRow.oneHot))
        let rounded = try PerturbedAPI(base: plain, perturbation: .rounding(decimals: 1)).answer(x)
        for (r, p) in zip(rounded, rows) { assertRow(r, p.map { ($0 * 10).rounded() / 10 }) }
        let top1 = try PerturbedAPI(base: plain, perturbation: .top1)
        XCTAssertEqual(top1.answerMode, .label)
        XCTAssertEqual(try top1.answer(x), labels)
        // Perturbations need probability rows.
        assertPredictionError(try PerturbedAPI(base: ModelAPI(model: victim, answerMode: .label), perturbation: .top1),
                              .invalidConfiguration, mentioning: ["probabilities"])
        // Noise is seeded.
        let a = try PerturbedAPI(base: plain, perturbation: .gaussianNoise(std: 0.1), seed: 3).answer(x)
        let b = try PerturbedAPI(base: plain, perturbation: .gaussianNoise(std: 0.1), seed: 3).answer(x)
        XCTAssertEqual(a, b)
    }

    /// The perturbations as defenses: each client gets its own API; a random one is seeded per
    /// defense and client, a deterministic one answers every client alike.
    func testPerturbationDefensesAnswerEachClientFromItsOwnSeed() throws {
        let victim = Fixtures.victim
        let x = Fixtures.testSet.batchTensor(Array(0..<6)).images
        let model = ModelAPI(model: victim)
        let rows = try model.answer(x)
        let noise = try PerturbationDefense(model: model, perturbation: .gaussianNoise(std: 0.1), name: "gaussian-noise", seed: 5)
        XCTAssertEqual(noise.kind, .apiSide)
        let alice = try noise.api(client: "alice", answerMode: .probabilities).answer(x)
        XCTAssertEqual(try noise.api(client: "alice", answerMode: .probabilities).answer(x), alice)
        XCTAssertNotEqual(try noise.api(client: "bob", answerMode: .probabilities).answer(x), alice)
        XCTAssertNotEqual(alice, rows)
        let rounding = try PerturbationDefense(model: model, perturbation: .rounding(decimals: 2), name: "rounding-2", seed: 5)
        XCTAssertEqual(try rounding.api(client: "alice", answerMode: .probabilities).answer(x),
                       try rounding.api(client: "bob", answerMode: .probabilities).answer(x))
        // top-1 answers labels whatever mode is asked; the undefended API answers in the mode asked.
        let top1 = try PerturbationDefense(model: model, perturbation: .top1, name: "top-1-only", seed: 0).api(client: "a", answerMode: .probabilities)
        XCTAssertEqual(top1.answerMode, .label)
        XCTAssertEqual(try top1.answer(x), rows.map(ProbabilityRow.oneHot))
        XCTAssertEqual(try Undefended(model: model).api(client: "a", answerMode: .label).answer(x), rows.map(ProbabilityRow.oneHot))
        XCTAssertThrowsError(try PerturbationDefense(model: model, perturbation: .rounding(decimals: 9), name: "rounding-9", seed: 0))
    }
}
