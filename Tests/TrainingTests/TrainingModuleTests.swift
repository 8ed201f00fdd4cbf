import Datasets
import Foundation
import Formats
import NeuralNet
import TensorEngine
import Training
import XCTest

final class TrainingModuleTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-training-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// A small fmnist-cnn trained for one epoch on synthetic blobs.
    func trainedSynthetic(seed: UInt64 = 3) throws -> (TrainedModel, ImageDataset) {
        let train = SyntheticData.make(count: 512, seed: 1), test = SyntheticData.make(count: 200, seed: 2)
        let recipe = TrainingRecipe(architecture: .fmnistCNN, epochs: 2, batchSize: 32, learningRate: 0.02, seed: seed)
        let classifier = recipe.architecture.build(seed: seed)
        try Trainer(recipe: recipe).fit(classifier, on: train, normalization: .identity)
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 10, inputShape: [1, 28, 28], normalization: .identity,
            source: "trained", recipe: recipe, data: DataFingerprint(train)))
        return (model, test)
    }

    func testEvaluationCountsByHand() {
        let e = Evaluation(predictions: [0, 1, 1, 2, 0], labels: [0, 1, 2, 2, 1], classes: 4)
        XCTAssertEqual(e.accuracy, 0.6, accuracy: 1e-12)
        XCTAssertEqual(e.confusion, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]])
        XCTAssertEqual(e.perClassAccuracy[0], 1)
        XCTAssertEqual(e.perClassAccuracy[1], 0.5)
        XCTAssertEqual(e.perClassAccuracy[2], 0.5)
        XCTAssertNil(e.perClassAccuracy[3])
    }

    func testTrainerLearnsSyntheticDataAndIsDeterministic() throws {
        let (model, test) = try trainedSynthetic()
        let accuracy = try model.evaluate(test).accuracy
        XCTAssertGreaterThan(accuracy, 0.9)
        let (again, _) = try trainedSynthetic()
        XCTAssertEqual(model.classifier.stateDict().flatMap { $0.1.scalars }, again.classifier.stateDict().flatMap { $0.1.scalars })
    }

    func testSaveReloadGivesIdenticalLogitsAndAccuracy() throws {
        let (model, test) = try trainedSynthetic()
        let dir = scratch.appendingPathComponent("model").path
        try ModelDirectory.save(model, to: dir)
        XCTAssertEqual(model.manifest.weightsSHA256.count, 64)
        let reloaded = try ModelDirectory.load(dir)
        XCTAssertEqual(reloaded.manifest, model.manifest)
        XCTAssertEqual(try reloaded.evaluate(test), try model.evaluate(test))
        let x = test.batchTensor(Array(0..<8)).images
        XCTAssertEqual(reloaded.forward(pixels: x).logits.scalars, model.forward(pixels: x).logits.scalars)
        // The weights file is PyTorch-shaped: the BatchNorm-free net has exactly the reference architecture's keys.
        let file = try SafeTensors.read(path: dir + "/model.safetensors")
        XCTAssertEqual(Set(file.tensors.keys), ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"])
    }

    func testBatchNormCounterIsSavedAsAnInt64Scalar() throws {
        let classifier = Architecture.resnet8.build(seed: 1)
        let tensors = ModelDirectory.safeTensors(classifier)
        let counter = try XCTUnwrap(tensors.first { $0.name == "1.num_batches_tracked" })
        XCTAssertEqual(counter.dtype, .I64)
        XCTAssertEqual(counter.shape, [])
    }

    func assertLoadFails(_ dir: String, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelDirectory.load(dir), file: file, line: line) { error in
            let text = "\(error)"
            for w in words { XCTAssertTrue(text.contains(w), "'\(text)' does not mention '\(w)'", file: file, line: line) }
        }
    }

    func testDamagedModelDirectoriesGiveErrorsNamingFileAndProblem() throws {
        let (model, _) = try trainedSynthetic()
        let dir = scratch.appendingPathComponent("model").path
        try ModelDirectory.save(model, to: dir)
        let weights = dir + "/model.safetensors", manifest = dir + "/model.json"
        let goodWeights = try Data(contentsOf: URL(fileURLWithPath: weights))
        let goodManifest = try Data(contentsOf: URL(fileURLWithPath: manifest))

        assertLoadFails(scratch.appendingPathComponent("nowhere").path, mentioning: ["nowhere", "no such model directory"])

        // Flipped byte in the weights: the hash check names the file.
        var damaged = goodWeights
        damaged[damaged.count - 1] ^= 0xFF
        try damaged.write(to: URL(fileURLWithPath: weights))
        assertLoadFails(dir, mentioning: ["model.safetensors", "SHA-256"])

        // Truncated weights, hash check off: the safetensors parser names the file.
        try goodWeights.prefix(goodWeights.count / 2).write(to: URL(fileURLWithPath: weights))
        XCTAssertThrowsError(try ModelDirectory.load(dir, verifyHash: false)) { XCTAssertTrue("\($0)".contains("model.safetensors"), "\($0)") }
        try goodWeights.write(to: URL(fileURLWithPath: weights))

        // Weights of another architecture (a resealed manifest, so its own hash holds).
        var m = model.manifest
        m.architecture = .resnet8
        m.manifestSHA256 = try m.canonicalDigest()
        try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: manifest))
        assertLoadFails(dir, mentioning: ["model.safetensors", "resnet-8"])

        // An edited field (not resealed): the manifest's own hash names the file.
        m = model.manifest
        m.classNames = (0..<model.manifest.classes).map { "class \($0)" }
        try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: manifest))
        assertLoadFails(dir, mentioning: ["model.json", "changed or damaged", "manifestSHA256"])
        // The manifest's hash removed, or the weights' hash emptied: refused by field, never unchecked.
        m = model.manifest
        m.manifestSHA256 = nil
        try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: manifest))
        assertLoadFails(dir, mentioning: ["model.json", "'manifestSHA256' is missing"])
        m = model.manifest
        m.weightsSHA256 = ""
        m.manifestSHA256 = try m.canonicalDigest()
        try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: manifest))
        assertLoadFails(dir, mentioning: ["model.json", "'weightsSHA256' is empty"])
        // A version-1 manifest (written before the manifest's hash existed) still loads.
        m = model.manifest
        m.formatVersion = 1
        m.manifestSHA256 = nil
        try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: manifest))
        XCTAssertNoThrow(try ModelDirectory.load(dir))

        // Broken and incomplete JSON.
        try Data("{\"architecture\": ".utf8).write(to: URL(fileURLWithPath: manifest))
        assertLoadFails(dir, mentioning: ["model.json", "JSON"])
        try Data("{\"architecture\": \"fmnist-cnn\"}".utf8).write(to: URL(fileURLWithPath: manifest))
        assertLoadFails(dir, mentioning: ["model.json", "missing"])
        try goodManifest.write(to: URL(fileURLWithPath: manifest))

        try FileManager.default.removeItem(atPath: weights)
        assertLoadFails(dir, mentioning: ["model.safetensors", "missing"])
    }

    /// `model.json` is outside data: classes and input shapes that would overflow, exhaust memory
    /// or miss the architecture's layers are refused by field, with the valid weights' hash intact.
    func testOutOfRangeManifestFieldsAreNamed() throws {
        let model = TrainedModel(classifier: Architecture.fmnistCNN.build(seed: 1), manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 10, inputShape: [1, 28, 28], normalization: .identity, source: "test"))
        let dir = scratch.appendingPathComponent("model").path
        try ModelDirectory.save(model, to: dir)
        let cases: [((inout ModelManifest) -> Void, [String])] = [
            ({ $0.classes = 1_000_000_000_000 }, ["classes", "2…100000", "1000000000000"]),
            ({ $0.classes = 1 }, ["classes", "found 1"]),
            ({ $0.inputShape = [1, 28, 1 << 62] }, ["inputShape", "1…1024", "\(1 << 62)"]),
            ({ $0.inputShape = [1, 28] }, ["inputShape", "[channels, height, width]"]),
            ({ $0.inputShape = [1, 28, 32] }, ["inputShape", "square", "28×32"]),
            ({ $0.inputShape = [1, 2, 2] }, ["inputShape", "4…256"]),
        ]
        for (change, words) in cases {
            var m = model.manifest
            change(&m)
            try JSONEncoder().encode(m).write(to: URL(fileURLWithPath: dir + "/model.json"))
            assertLoadFails(dir, mentioning: [dir + "/model.json"] + words)
        }
        XCTAssertNil(ModelManifest.problem(architecture: .resnet8, classes: 10, inputShape: [3, 28, 32]), "global pooling takes any shape")
        XCTAssertNotNil(ModelManifest.problem(architecture: .vggMini, classes: 10, inputShape: [1, 2, 28]))
        XCTAssertNotNil(ModelManifest.problem(architecture: .resnet8, classes: 10, inputShape: [64, 1024, 1024]))
    }

    /// NaN or infinite weights (imported or edited with a matching hash) are refused by tensor and
    /// index rather than loaded into a model that answers NaN.
    func testNonFiniteWeightsAreRefusedByTensor() throws {
        let classifier = Architecture.fmnistCNN.build(seed: 1)
        for bad in [Float.nan, -.infinity] {
            var tensors = ModelDirectory.safeTensors(classifier)
            let i = try XCTUnwrap(tensors.firstIndex { $0.name.hasSuffix("weight") })
            tensors[i].floats[5] = bad
            let file = try SafeTensors.parse(try SafeTensors.encode(tensors), label: "w.safetensors")
            XCTAssertThrowsError(try ModelDirectory.load(file, into: Architecture.fmnistCNN.build(seed: 2), label: "w.safetensors")) {
                let text = "\($0)"
                for word in ["w.safetensors", "tensor '\(tensors[i].name)'", "\(bad)", "index 5", "finite"] {
                    XCTAssertTrue(text.contains(word), "\(word) not in: \(text)")
                }
            }
        }

        // Through a model directory whose hash matches the NaN weights.
        let dir = scratch.appendingPathComponent("nan-model").path
        try ModelDirectory.save(TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 10, inputShape: [1, 28, 28], normalization: .identity, source: "test")), to: dir)
        var tensors = ModelDirectory.safeTensors(classifier)
        let j = try XCTUnwrap(tensors.firstIndex { $0.name.hasSuffix("bias") })
        tensors[j].floats[0] = .nan
        let weights = try SafeTensors.encode(tensors)
        try weights.write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        var manifest = try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/model.json")))
        manifest.weightsSHA256 = Hashing.sha256(weights)
        manifest.manifestSHA256 = try manifest.canonicalDigest()  // resealed: the weights are what is wrong
        try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: dir + "/model.json"))
        assertLoadFails(dir, mentioning: ["model.safetensors", "tensor '\(tensors[j].name)'", "nan", "finite"])
    }

    func testWrongInputShapeIsRejected() throws {
        let (model, _) = try trainedSynthetic()
        XCTAssertThrowsError(try model.checkInput(Tensor.zeros([2, 1, 32, 32]))) { XCTAssertTrue("\($0)".contains("[N, 1, 28, 28]"), "\($0)") }
        let rgb = SyntheticData.make(count: 4, channels: 3, height: 28, width: 28)
        XCTAssertThrowsError(try model.evaluate(rgb)) { XCTAssertTrue("\($0)".contains("[3, 28, 28]"), "\($0)") }
    }

    func testRecipeValidationNamesTheBadField() {
        var r = TrainingRecipe(architecture: .fmnistCNN, epochs: 1)
        r.learningRate = -1
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".contains("learning rate"), "\($0)") }
        r = TrainingRecipe(architecture: .fmnistCNN, epochs: 0)
        XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".contains("epochs"), "\($0)") }
        // A recipe from a configuration file: an infinite warm-up once trapped in the trainer's step count.
        for warmup in [Float.infinity, 1e30, 3, .nan] {
            r = TrainingRecipe(architecture: .fmnistCNN, epochs: 2, warmupEpochs: warmup)
            XCTAssertThrowsError(try r.validate()) { XCTAssertTrue("\($0)".contains("warm-up epochs must lie in 0…2"), "\($0)") }
        }
        XCTAssertNoThrow(try TrainingRecipe(architecture: .fmnistCNN, epochs: 2, warmupEpochs: 2).validate())
    }
}

final class OutlierExposureTests: XCTestCase {
    func testOutliersAreNoiseAndPermutedBatchImages() {
        let batch = Tensor((0..<(4 * 16)).map { Float($0) }, shape: [4, 1, 4, 4])
        let oe = OutlierExposure(weight: 1, fraction: 1)
        let out = oe.outliers(for: batch, mean: [0.5], std: [0.5], seed: 3)
        XCTAssertEqual(out.shape, [4, 1, 4, 4])
        let v = out.scalars
        // Even rows: uniform [0, 1] through (u − 0.5) / 0.5 lies in [−1, 1].
        XCTAssertTrue(v[0..<16].allSatisfy { $0 >= -1 && $0 <= 1 })
        // Odd rows: a permutation of one batch image's pixels.
        let row = Array(v[16..<32]).sorted()
        XCTAssertTrue((0..<4).contains { i in row == (0..<16).map { Float(i * 16 + $0) } }, "\(row)")
        XCTAssertEqual(out.scalars, oe.outliers(for: batch, mean: [0.5], std: [0.5], seed: 3).scalars)
    }

    func testOutlierExposureLowersConfidenceOnNoise() throws {
        let train = SyntheticData.make(count: 512, seed: 1)
        var noise = [Float](repeating: 0, count: 64 * 784)
        var g = SeededGenerator(seed: 9)
        for i in noise.indices { noise[i] = g.nextFloat() }
        let noiseSet = try ImageDataset(name: "noise", pixels: noise, labels: [Int](repeating: 0, count: 64), channels: 1, height: 28, width: 28)
        func meanConfidence(_ oe: OutlierExposure?) throws -> Float {
            var recipe = TrainingRecipe(architecture: .fmnistCNN, epochs: 2, batchSize: 32, learningRate: 0.02, seed: 2)
            recipe.outlierExposure = oe
            let classifier = recipe.architecture.build(seed: 2)
            try Trainer(recipe: recipe).fit(classifier, on: train, normalization: .identity)
            let model = TrainedModel(classifier: classifier, manifest: ModelManifest(architecture: .fmnistCNN, classes: 10,
                                     inputShape: [1, 28, 28], normalization: .identity, source: "test"))
            let p = Autograd.inference { model.forward(pixels: noiseSet.batchTensor(Array(0..<64)).images).logits.softmax() }.scalars
            return stride(from: 0, to: p.count, by: 10).map { p[$0..<$0 + 10].max()! }.reduce(0, +) / 64
        }
        let plain = try meanConfidence(nil), exposed = try meanConfidence(OutlierExposure(weight: 1))
        // Excess confidence over the uniform 0.1 shrinks by well over a third.
        XCTAssertLessThan(exposed - 0.1, 0.6 * (plain - 0.1), "outlier exposure: \(exposed), plain: \(plain)")
    }
}
