@testable import Baselines
import Datasets
import Foundation
import NeuralNet
import TensorEngine
import TestSupport
import Training
import XCTest

final class BaselineTrainingTests: XCTestCase {
    /// Synthetic owner splits in ten classes (so k = 4, j = 6 and t = 9 exist) and a two-epoch recipe.
    private func splits(count: Int = 128) -> (train: ImageDataset, validation: ImageDataset, test: ImageDataset, recipe: TrainingRecipe) {
        let train = SyntheticData.make(count: count, classes: 10, seed: 1).withRole(.victimTraining)
        let validation = SyntheticData.make(count: 60, classes: 10, seed: 2).withRole(.ownerValidation)
        let test = SyntheticData.make(count: 60, classes: 10, seed: 3).withRole(.test)
        let recipe = TrainingRecipe(architecture: .fmnistCNN, epochs: 2, batchSize: 32, learningRate: 0.02, seed: 7)
        return (train, validation, test, recipe)
    }

    private func settings(_ kind: BaselineKind) -> BaselineSettings {
        var s = BaselineSettings(kind: kind, victimEpochs: 2)
        s.ewe?.halfBatch = 8
        s.meaDefender?.poolSize = 20
        return s
    }

    func testEachBaselineTrainsEndToEndAndRecordsItself() throws {
        let d = splits()
        for kind in BaselineKind.allCases {
            var batches = 0
            let (model, record) = try BaselineTraining.train(settings(kind), recipe: d.recipe, training: d.train, validation: d.validation,
                                                             test: d.test, normalization: .fashionMNIST,
                                                             victim: BaselineVictim(name: "bare", testAccuracy: 0.5, validationAccuracy: 0.4),
                                                             onProgress: { _ in batches += 1 })
            XCTAssertGreaterThan(batches, 0, "\(kind)")
            XCTAssertEqual(model.manifest.source, "baseline/\(kind.rawValue)")
            XCTAssertEqual(record.kind, kind)
            XCTAssertEqual(record.victimTestAccuracy, 0.5)
            XCTAssertEqual(record.victimValidationAccuracy, 0.4)
            XCTAssertEqual(record.validationAccuracy, try model.evaluate(d.validation).accuracy)
            XCTAssert((0...1).contains(record.watermarkRate) && (0...1).contains(record.testAccuracy), "\(kind)")
            XCTAssertEqual(model.manifest.metrics["watermark_rate"], record.watermarkRate)
            switch kind {
            case .composite, .meaDefender:
                XCTAssertEqual(record.triggerCount, BaselineTraining.verificationComposites)
            case .ewe:
                let position = try XCTUnwrap(record.settings.ewe?.triggerPosition)
                XCTAssert(position.allSatisfy { (0...25).contains($0) })
                XCTAssertEqual(record.settings.ewe?.temperatures?.count, 3)
                XCTAssertEqual(record.triggerCount, d.test.indices(ofClass: 4).count)
            }
            if kind == .meaDefender { XCTAssert((0...1).contains(try XCTUnwrap(record.meanCrossEntropyWeight))) }

            // A directory every victim loader reads, and triggers made again from the record.
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baseline-\(kind.rawValue)-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try BaselineTraining.save(model, record: record, to: dir)
            let loaded = try ModelDirectory.load(dir)
            let again = try BaselineRecord.load(directory: dir)
            XCTAssertEqual(again, record)
            let triggers = try BaselineTraining.triggers(again.settings, from: d.test)
            XCTAssertEqual(BaselineTraining.targetRate(loaded, triggers, target: 9), record.watermarkRate, accuracy: 1e-12)
        }
    }

    func testTrainingIsDeterministicForASeed() throws {
        let d = splits(count: 96)
        var recipe = d.recipe
        recipe.epochs = 1
        func weights(_ kind: BaselineKind) throws -> [Float] {
            var s = BaselineSettings(kind: kind, victimEpochs: 1)
            s.ewe?.halfBatch = 8
            s.meaDefender?.poolSize = 20
            let model = try BaselineTraining.train(s, recipe: recipe, training: d.train, validation: d.validation, test: d.test,
                                                   normalization: .fashionMNIST).model
            return model.classifier.parameters.flatMap(\.scalars)
        }
        XCTAssertEqual(try weights(.composite), try weights(.composite))
        XCTAssertEqual(try weights(.ewe), try weights(.ewe))
    }

    func testEWETriggerIsAWhiteSquareAtItsPosition() throws {
        var s = EWESettings(victimEpochs: 3)
        s.triggerPosition = [2, 5]
        let data = SyntheticData.make(count: 40, classes: 10, seed: 9)
        let triggers = try s.triggers(from: data)
        let sources = data.indices(ofClass: 4)
        XCTAssertEqual(triggers.count, sources.count)
        XCTAssert(triggers.labels.allSatisfy { $0 == 9 })
        for (n, i) in sources.enumerated() {
            let original = data.image(at: i), stamped = triggers.image(at: n)
            for p in 0..<784 {
                let inBlock = (2..<5).contains(p / 28) && (5..<8).contains(p % 28)
                XCTAssertEqual(stamped[p], inBlock ? 1 : original[p])
            }
        }
        XCTAssertThrowsError(try s.stamped(data, at: [26, 0])) { XCTAssert("\($0)".contains("does not fit")) }
    }

    func testBadInputIsRefusedWithTheProblemNamed() {
        let d = splits(count: 64)
        var s = settings(.composite)
        s.composite?.poisonFraction = 1.5
        XCTAssertThrowsError(try BaselineTraining.train(s, recipe: d.recipe, training: d.train, validation: d.validation, test: d.test,
                                                        normalization: .fashionMNIST)) { XCTAssert("\($0)".contains("poison fraction"), "\($0)") }
        XCTAssertThrowsError(try BaselineTraining.train(settings(.ewe), recipe: d.recipe, training: d.train.withRole(.attackerPool),
                                                        validation: d.validation, test: d.test, normalization: .fashionMNIST)) {
            XCTAssert("\($0)".contains("attacker"), "\($0)")
        }
        XCTAssertThrowsError(try BaselineTraining.train(settings(.ewe), recipe: d.recipe, training: d.test, validation: d.validation,
                                                        test: d.test, normalization: .fashionMNIST)) { XCTAssert("\($0)".contains("test set"), "\($0)") }
        var ewe = settings(.ewe)
        ewe.ewe?.watermarkEpochs = 5
        XCTAssertThrowsError(try BaselineTraining.train(ewe, recipe: d.recipe, training: d.train, validation: d.validation, test: d.test,
                                                        normalization: .fashionMNIST)) { XCTAssert("\($0)".contains("watermark epochs"), "\($0)") }
    }

    func testSettingsWithoutTheLaterFieldsReadAsTheFirstSettings() throws {
        // The first records had no contrastive weight or gradient normalisation: they mean factor 1 and raw gradients.
        let first = #"{"kind": "mea-defender", "meaDefender": {"classes": {"k": 4, "j": 6, "target": 9}, "mixer": {"jitter": 3, "maxOffset": 2},"#
            + #" "phase1Fraction": 0.01, "phase2Fraction": 0.2, "evasionFraction": 0.008, "poolSize": 600, "phase2Epochs": 3, "phase2RateFactor": 0.1}}"#
        let decoded = try JSONDecoder().decode(BaselineSettings.self, from: Data(first.utf8))
        XCTAssertNil(decoded.meaDefender?.contrastiveWeight)
        XCTAssertNil(decoded.meaDefender?.gradientNormalization)
        let defaults = BaselineSettings(kind: .meaDefender, victimEpochs: 12)
        XCTAssertEqual(defaults.meaDefender?.gradientNormalization, GradientNormalization.none)
        XCTAssertEqual(defaults.meaDefender?.contrastiveWeight, 0.1)
        let again = try JSONDecoder().decode(BaselineSettings.self, from: JSONEncoder().encode(defaults))
        XCTAssertEqual(again, defaults)
    }

    func testHiddenActivationsLeaveTheForwardPassUnchanged() {
        let net = Architecture.fmnistCNN.build(seed: 3)
        let x = testTensor([2, 1, 28, 28], seed: 1)
        let plain = Autograd.inference { net.forwardWithFeatures(x) }
        let withHidden = Autograd.inference { net.forwardWithActivations(x, hidden: Architecture.fmnistCNN.hiddenLayerIndices) }
        XCTAssertEqual(plain.logits.scalars, withHidden.logits.scalars)
        XCTAssertEqual(withHidden.hidden.map(\.shape), [[2, 32, 14, 14], [2, 64, 7, 7]])
    }
}
