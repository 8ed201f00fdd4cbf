import Datasets
import NeuralNet
import Stats
import TensorEngine
import TestSupport
import Training
import XCTest
@testable import Extraction

/// Neural Cleanse's trigger inversion: the objective's gradient against finite differences, and the
/// scan on tiny models with and without a planted backdoor (a white corner patch → class k).
final class TriggerInversionTests: XCTestCase {
    static let classes = 9, side = 16, blobSide = 12, backdoorClass = 4

    /// 9 classes of blobs drawn on the top-left 12×12 of a 16×16 image (the border right and below is
    /// black); with `plant`, every 10th image gets a white 2×2 patch in the bottom-right corner and
    /// the label k.
    static func data(_ count: Int, seed: UInt64, plant: Bool) -> ImageDataset {
        let blobs = SyntheticData.make(count: count, classes: classes, height: blobSide, width: blobSide, seed: seed)
        var pixels = [Float](repeating: 0, count: count * side * side), labels = blobs.labels
        for i in 0..<count {
            for y in 0..<blobSide { for x in 0..<blobSide { pixels[i * side * side + y * side + x] = blobs.pixels[i * blobSide * blobSide + y * blobSide + x] } }
            if plant, i % 10 == 0 {
                for y in (side - 2)..<side { for x in (side - 2)..<side { pixels[i * side * side + y * side + x] = 1 } }
                labels[i] = backdoorClass
            }
        }
        return try! ImageDataset(name: plant ? "blobs+patch" : "blobs", pixels: pixels, labels: labels, channels: 1, height: side,
                                 width: side, classCount: classes)
    }

    static func trainedModel(plant: Bool) -> Classifier {
        let recipe = TrainingRecipe(architecture: .fmnistCNN, epochs: 6, batchSize: 32, learningRate: 0.05, seed: 5)
        let classifier = Architecture.fmnistCNN.build(classes: classes, imageSize: side, seed: 5)
        try! Trainer(recipe: recipe).fit(classifier, on: data(900, seed: 21, plant: plant), normalization: .identity)
        return classifier
    }

    static let settings = TriggerInversion(epochs: 12, epochSteps: 10, batchSize: 16, seed: 3)

    func testObjectiveGradientMatchesFiniteDifferences() {
        var g = SeededGenerator(seed: 7)
        let classifier = Classifier(architecture: .fmnistCNN, layers: [Flatten(), Linear(2 * 4 * 4, 3, generator: &g)])
        classifier.eval()
        for p in classifier.parameters { p.requiresGrad = false }
        let images = Tensor((0..<(5 * 2 * 4 * 4)).map { _ in g.nextFloat() }, shape: [5, 2, 4, 4])
        let maskLogits = testTensor([1, 1, 4, 4], seed: 1), patternLogits = testTensor([1, 2, 4, 4], seed: 2)
        // A per-channel normalisation: the gradient passes through it to the stamped pixels.
        let normalization = Normalization(mean: [0.3, 0.5], std: [0.4, 0.2])
        let problem = GradientCheck.check([maskLogits, patternLogits], step: 1e-2, atol: 1e-3, rtol: 1e-2) { t in
            TriggerInversion.objective(maskLogits: t[0], patternLogits: t[1], images: images, target: 2, lambda: 0.05,
                                       classifier: classifier, normalization: normalization).loss
        }
        XCTAssertNil(problem)
        // |m|₁ is the sum of the sigmoid mask; with m → 1 the stamped image is the pattern.
        let all = Tensor(Array(repeating: 30, count: 16), shape: [1, 1, 4, 4])
        let parts = Autograd.inference {
            TriggerInversion.objective(maskLogits: all, patternLogits: patternLogits, images: images, target: 0, lambda: 1,
                                       classifier: classifier, normalization: .identity)
        }
        XCTAssertEqual(parts.maskL1.item, 16, accuracy: 1e-4)
        let pattern = Autograd.inference { (patternLogits.tanh() + 1) * 0.5 }
        let expected = Autograd.inference { classifier(Tensor(Array((0..<5).map { _ in pattern.scalars }.joined()), shape: [5, 2, 4, 4])) }
        for (a, b) in zip(parts.logits.scalars, expected.scalars) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testScanFlagsThePlantedBackdoorAndNotACleanModel() throws {
        let threads = Parallel.threadCount
        Parallel.threadCount = 1  // the same numbers on any machine
        defer { Parallel.threadCount = threads }
        let clean = Self.data(300, seed: 22, plant: false)
        let backdoored = Self.trainedModel(plant: true)
        // The backdoor took: stamped clean images go to k.
        let stamped = Self.data(100, seed: 23, plant: true).subset(indices: Array(stride(from: 0, to: 100, by: 10)))
        let predicted = Autograd.inference { backdoored(stamped.batchTensor(Array(0..<stamped.count)).images).argmax(axis: 1) }
        XCTAssertGreaterThanOrEqual(predicted.filter { $0 == Self.backdoorClass }.count, 9)

        let found = try Self.settings.scan(backdoored, normalization: .identity, images: clean).map(\.summary)
        let l1 = found.map(\.maskL1)
        let indices = try AnomalyIndex.indices(l1)
        XCTAssertEqual(AnomalyIndex.flagged(indices), [Self.backdoorClass], "L1 \(l1), indices \(indices)")
        XCTAssertEqual(l1.firstIndex(of: l1.min()!), Self.backdoorClass)
        XCTAssertTrue(found[Self.backdoorClass].reachedThreshold)

        let honest = try Self.settings.scan(Self.trainedModel(plant: false), normalization: .identity, images: clean).map(\.summary)
        let honestIndices = try AnomalyIndex.indices(honest.map(\.maskL1))
        XCTAssertFalse(AnomalyIndex.flagged(honestIndices).contains(Self.backdoorClass), "indices \(honestIndices)")
        XCTAssertLessThan(honestIndices[Self.backdoorClass], indices[Self.backdoorClass])
    }

    func testSameSeedSameTriggerAndTheModelIsUntouched() throws {
        let threads = Parallel.threadCount
        Parallel.threadCount = 1  // the same numbers on any machine
        defer { Parallel.threadCount = threads }
        let model = Fixtures.victim.classifier
        let weights = model.stateDict().flatMap { $0.1.scalars }
        let settings = TriggerInversion(epochs: 2, epochSteps: 3, batchSize: 8, seed: 9)
        let a = try settings.invert(model, normalization: .identity, images: Fixtures.pool, target: 1)
        let b = try settings.invert(model, normalization: .identity, images: Fixtures.pool, target: 1)
        XCTAssertEqual(a.summary, b.summary)
        XCTAssertEqual(a.mask, b.mask)
        XCTAssertEqual(a.pattern, b.pattern)
        var other = settings
        other.seed = 10
        XCTAssertNotEqual(try other.invert(model, normalization: .identity, images: Fixtures.pool, target: 1).mask, a.mask)
        XCTAssertEqual(model.stateDict().flatMap { $0.1.scalars }, weights)
        XCTAssertTrue(model.parameters.allSatisfy(\.requiresGrad))
        XCTAssertTrue(a.mask.allSatisfy { $0 >= 0 && $0 <= 1 } && a.pattern.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testBadSettingsAndInputsAreRefused() {
        let model = Fixtures.victim.classifier
        assertExtractionError(try TriggerInversion(epochs: 0).validate(), .invalidConfiguration, mentioning: ["epochs"])
        assertExtractionError(try TriggerInversion(learningRate: .nan).validate(), .invalidConfiguration, mentioning: ["learning rate"])
        assertExtractionError(try TriggerInversion(initialLambda: 0).validate(), .invalidConfiguration, mentioning: ["λ"])
        assertExtractionError(try TriggerInversion(successThreshold: 1.5).validate(), .invalidConfiguration, mentioning: ["threshold"])
        assertExtractionError(try TriggerInversion(lambdaUp: 1).validate(), .invalidConfiguration, mentioning: ["factors"])
        assertExtractionError(try TriggerInversion().invert(model, normalization: .identity, images: Fixtures.pool, target: 4),
                              .invalidConfiguration, mentioning: ["class 4", "0..<4"])
        assertExtractionError(try TriggerInversion().invert(model, normalization: .identity, images: Fixtures.pool.subset(0..<0), target: 0),
                              .missingData, mentioning: ["clean images"])
    }
}
