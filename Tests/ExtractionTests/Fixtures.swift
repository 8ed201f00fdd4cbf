import Datasets
import Extraction
import NeuralNet
import Prediction
import TensorEngine
import Training
import XCTest

/// Small, fast fixtures: 14×14 single-channel blobs of 4 classes and an fmnist-cnn victim
/// trained on them for 6 epochs (cached: every test that needs it shares one); the same at other
/// sides (DFME's generator needs sides divisible by 4).
enum Fixtures {
    static let classes = 4
    static let side = 14
    static let shape = [1, side, side]

    static func blobs(_ count: Int, seed: UInt64, name: String = "blobs", side: Int = Fixtures.side) -> ImageDataset {
        SyntheticData.make(count: count, classes: classes, height: side, width: side, seed: seed, name: name)
    }

    nonisolated(unsafe) private static var cachedVictims: [Int: TrainedModel] = [:]
    private static let lock = NSLock()

    /// The victim: 93 %+ accurate on `testSet`.
    static var victim: TrainedModel { victim(side: side) }

    /// A victim on side×side blobs.
    static func victim(side: Int) -> TrainedModel {
        lock.lock()
        defer { lock.unlock() }
        if let v = cachedVictims[side] { return v }
        let train = blobs(400, seed: 11, name: "victim-train", side: side)
        let recipe = TrainingRecipe(architecture: .fmnistCNN, epochs: 6, batchSize: 32, learningRate: 0.05, seed: 5)
        let classifier = recipe.architecture.build(classes: classes, imageSize: side, seed: 5)
        try! Trainer(recipe: recipe).fit(classifier, on: train, normalization: .identity)
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: .fmnistCNN, classes: classes, inputShape: [1, side, side], normalization: .identity, source: "test victim",
            recipe: recipe))
        cachedVictims[side] = model
        return model
    }

    /// Runs `attack` with `configuration` twice and with another seed once: the same seed must give
    /// the same surrogate bitwise (and accuracy), another seed another surrogate.
    static func assertSeedDecides(_ configuration: AttackConfiguration, file: StaticString = #filePath, line: UInt = #line,
                                  _ attack: (AttackConfiguration) throws -> (TrainedModel, AttackResult)) throws {
        let (a, ra) = try attack(configuration)
        let (b, rb) = try attack(configuration)
        XCTAssertEqual(a.classifier.stateDict().flatMap { $0.1.scalars }, b.classifier.stateDict().flatMap { $0.1.scalars },
                       file: file, line: line)
        XCTAssertEqual(ra.extractedAccuracy, rb.extractedAccuracy, file: file, line: line)
        var other = configuration
        other.seed += 1
        let (o, _) = try attack(other)
        XCTAssertNotEqual(a.classifier.stateDict().flatMap { $0.1.scalars }, o.classifier.stateDict().flatMap { $0.1.scalars },
                          file: file, line: line)
    }

    /// Runs a data-free attack (no pool: it must not need one) against `victim`, measured on `testSet`.
    static func dataFreeAttack(_ c: AttackConfiguration, victim: TrainedModel, testSet: ImageDataset, api: ModelAPI? = nil) throws
        -> (TrainedModel, AttackResult) {
        let r = try runAttack(c, api: api ?? ModelAPI(model: victim), pools: AttackPools(), testSet: testSet, victim: victim)
        return (r.surrogate, r.result)
    }

    static let testSet = blobs(200, seed: 12, name: "test")
    static let pool = blobs(300, seed: 13, name: "pool")

    /// A quick attack configuration on the blobs (1 surrogate epoch, identity normalisation).
    static func configuration(_ strategy: QueryStrategy = .knockoff, _ variant: AdaptiveVariant = .naive, budget: Int = 240,
                              seed: UInt64 = 1) -> AttackConfiguration {
        var c = AttackConfiguration(strategy: strategy, variant: variant, pool: .synthetic, budget: budget, seed: seed)
        c.surrogate = SurrogateRecipe(architecture: .fmnistCNN, epochs: 1, batchSize: 16, learningRate: 0.02,
                                      augmentation: .none, normalization: .identity)
        c.queryBatchSize = 64
        c.jbda = JBDASettings(seedSize: 40, queriesPerSample: 3, roundEpochs: 1)
        return c
    }
}

/// A fake API: answers a fixed row per image (row i = a function of the image's first pixel),
/// counting what it saw. For boundary tests without a model.
final class RecordingAPI: PredictionAPI {
    let name = "recording"
    let inputShape: [Int]
    let classes: Int
    let answerMode: AnswerMode = .probabilities
    var imagesSeen = 0
    var calls = 0
    var malformed = false

    init(inputShape: [Int] = [1, 2, 2], classes: Int = 3) {
        self.inputShape = inputShape
        self.classes = classes
    }

    func answer(_ pixels: Tensor) throws -> [[Float]] {
        calls += 1
        imagesSeen += pixels.shape[0]
        let size = inputShape.reduce(1, *)
        let values = pixels.scalars
        let rows = (0..<pixels.shape[0]).map { i -> [Float] in
            var row = [Float](repeating: 0, count: classes)
            row[min(Int(values[i * size] * Float(classes)), classes - 1)] = 1
            return row
        }
        return malformed ? Array(rows.dropLast()) : rows
    }
}

/// Throws-assertion helper: the error is an `E` (read by `parts` into its kind and message) of
/// `kind` whose message holds `words`.
func assertKindedError<T, E: Error, K: Equatable>(_ body: () throws -> T, _ type: E.Type, _ kind: K, _ parts: (E) -> (K, String),
                                                  mentioning words: [String], file: StaticString, line: UInt) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let e = error as? E else {
            return XCTFail("expected \(E.self), got \(Swift.type(of: error)): \(error)", file: file, line: line)
        }
        let (k, problem) = parts(e)
        XCTAssertEqual(k, kind, problem, file: file, line: line)
        for w in words { XCTAssertTrue(problem.contains(w), "'\(problem)' does not mention '\(w)'", file: file, line: line) }
    }
}

func assertExtractionError<T>(_ body: @autoclosure () throws -> T, _ kind: ExtractionError.Kind, mentioning words: [String] = [],
                              file: StaticString = #filePath, line: UInt = #line) {
    assertKindedError(body, ExtractionError.self, kind, { ($0.kind, $0.problem) }, mentioning: words, file: file, line: line)
}

func assertPredictionError<T>(_ body: @autoclosure () throws -> T, _ kind: PredictionError.Kind, mentioning words: [String] = [],
                              file: StaticString = #filePath, line: UInt = #line) {
    assertKindedError(body, PredictionError.self, kind, { ($0.kind, $0.problem) }, mentioning: words, file: file, line: line)
}
