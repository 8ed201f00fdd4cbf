import Datasets
import Foundation
import Formats
import NeuralNet
import TensorEngine
import Training

/// What a trained baseline records beside its model directory (`baseline.json`): the baseline,
/// its settings, the data, the time it took and its own figures before any theft.
public struct BaselineRecord: Codable, Sendable, Equatable {
    public static let fileName = "baseline.json"

    public var settings: BaselineSettings
    public var recipe: TrainingRecipe
    /// The training split's name and size.
    public var trainingData: String
    public var trainingImages: Int
    public var trainSeconds: Double
    /// Accuracy of the watermarked model on the test set.
    public var testAccuracy: Double
    /// Share of the test set's triggers (fresh composites, or stamped source images) answered with the target.
    public var watermarkRate: Double
    /// The same on triggers made from the owner validation split (what settings may be judged on).
    public var validationWatermarkRate: Double
    /// Share of the test set's clean source-class images answered with the target.
    public var cleanSourceTargetRate: Double
    /// Triggers measured on the test set.
    public var triggerCount: Int
    /// MEA-Defender: the mean MGDA weight of cross-entropy in phase 2.
    public var meanCrossEntropyWeight: Double?
    /// Accuracy of the watermarked model on the owner validation split (what settings may be
    /// judged on); nil in records made before it was measured.
    public var validationAccuracy: Double?
    /// The bare victim it is compared with, when given, and its accuracy on the test set and the
    /// owner validation split.
    public var victim: String?
    public var victimTestAccuracy: Double?
    public var victimValidationAccuracy: Double?

    public var kind: BaselineKind { settings.kind }

    public func save(to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path)
    }

    public static func load(directory: String) throws -> BaselineRecord {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BaselineError(.malformedFile, "\(path): missing; a baseline's model directory holds \(fileName)")
        }
        do {
            return try JSONDecoder().decode(BaselineRecord.self, from: data)
        } catch {
            throw BaselineError(.malformedFile, "\(path): not a baseline record: \(error)")
        }
    }
}

/// Trains the training-time baselines from the victim's architecture and recipe plus their own
/// terms, and makes their verification triggers.
public enum BaselineTraining {
    /// Fresh composites made from a verifier's held-out images.
    public static let verificationComposites = 2_000

    /// The trigger set a verifier queries: `count` fresh composites of `heldOut`'s k and j images
    /// (composite, MEA-Defender) or every source-class image of `heldOut` with EWE's trigger;
    /// all labelled with the target class.
    public static func triggers(_ settings: BaselineSettings, from heldOut: ImageDataset, count: Int = verificationComposites,
                                seed: UInt64 = 0x7665_7269) throws -> ImageDataset {  // "veri"
        switch settings.kind {
        case .composite, .meaDefender:
            let (classes, mixer) = settings.composite.map { ($0.classes, $0.mixer) }
                ?? settings.meaDefender.map { ($0.classes, $0.mixer) }
                ?? (CompositeClasses.fashionMNIST, CompositeMixer())
            guard count >= 1 else { throw BaselineError(.invalidConfiguration, "a trigger set needs at least one composite, found \(count)") }
            return try CompositeSamples.poison(from: heldOut, classes: classes, count: count, mixer: mixer, seed: seed,
                                               name: "\(heldOut.name)/fresh-composites")
        case .ewe:
            guard let ewe = settings.ewe else { throw BaselineError(.invalidConfiguration, "an ewe baseline needs its 'ewe' settings") }
            return try ewe.triggers(from: heldOut)
        }
    }

    /// The classes whose clean images could be mistaken for triggers: k and j, or EWE's source.
    public static func sourceClasses(_ settings: BaselineSettings) -> Set<Int> {
        if let c = settings.composite?.classes ?? settings.meaDefender?.classes { return [c.k, c.j] }
        return [settings.ewe?.source ?? CompositeClasses.fashionMNIST.k]
    }

    /// The class a trigger should be answered with.
    public static func target(_ settings: BaselineSettings) -> Int {
        settings.composite?.classes.target ?? settings.meaDefender?.classes.target ?? settings.ewe?.target ?? CompositeClasses.fashionMNIST.target
    }

    /// Share of `data` answered with `target` by `model`.
    public static func targetRate(_ model: TrainedModel, _ data: ImageDataset, target: Int) -> Double {
        guard !data.isEmpty else { return 0 }
        return Double(model.predictions(data).filter { $0 == target }.count) / Double(data.count)
    }

    /// Trains the baseline on `training` (the owner's training split) with the victim's `recipe`,
    /// then measures it: test and validation accuracy, the watermark rate on test and validation triggers.
    public static func train(_ settings: BaselineSettings, recipe: TrainingRecipe, training: ImageDataset, validation: ImageDataset,
                             test: ImageDataset, normalization: Normalization, victim: BaselineVictim? = nil,
                             onProgress: ((TrainingProgress) -> Void)? = nil) throws -> (model: TrainedModel, record: BaselineRecord) {
        try recipe.validate()
        try training.requireOwnerSide(for: "training a baseline")
        try validation.requireOwnerSide(for: "choosing a baseline's settings")
        guard training.role != .test, validation.role != .test else {
            throw BaselineError(.unusableData, "the test set is for reported figures only; train and validate on the owner's splits")
        }
        guard !training.isEmpty else { throw BaselineError(.unusableData, "\(training.name) holds no images") }
        if let problem = ModelManifest.problem(architecture: recipe.architecture, classes: training.classCount, inputShape: training.imageShape) {
            throw BaselineError(.unusableData, "\(training.name) does not fit \(recipe.architecture.rawValue): \(problem)")
        }
        try settings.validate(classCount: training.classCount, height: training.height, width: training.width, epochs: recipe.epochs)
        let classifier = recipe.architecture.build(inChannels: training.channels, classes: training.classCount,
                                                   imageSize: training.height, seed: recipe.seed)
        let loop = RecipeLoop(classifier, recipe: recipe, normalization: normalization, onProgress: onProgress)
        var trained = settings
        var meanWeight: Double?
        let start = Clock.now()
        switch settings.kind {
        case .composite:
            let s = settings.composite!
            try CompositeBackdoor.train(loop, on: training, classes: s.classes, mixer: s.mixer, fraction: s.poisonFraction,
                                        contrastiveWeight: s.contrastiveWeight ?? 1, epochs: 0..<recipe.epochs)
        case .meaDefender:
            let s = settings.meaDefender!
            try CompositeBackdoor.train(loop, on: training, classes: s.classes, mixer: s.mixer, fraction: s.phase1Fraction,
                                        contrastiveWeight: s.contrastiveWeight ?? 1, epochs: 0..<recipe.epochs)
            meanWeight = try CompositeBackdoor.meaPhase2(classifier, on: training, settings: s, recipe: recipe,
                                                        normalization: normalization, onProgress: onProgress)
        case .ewe:
            trained.ewe = try EWETraining.train(loop, on: training, settings: settings.ewe!)
        }
        let seconds = Clock.now() - start
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: recipe.architecture, classes: training.classCount, inputShape: training.imageShape,
            normalization: normalization, source: "baseline/\(settings.kind.rawValue)", recipe: recipe,
            data: DataFingerprint(training), classNames: training.classCount == FashionMNIST.classCount ? FashionMNIST.classNames : nil))
        let target = target(trained)
        let testTriggers = try triggers(trained, from: test)
        let cleanSources = test.subset(indices: test.labels.indices.filter { sourceClasses(trained).contains(test.labels[$0]) })
        let record = BaselineRecord(
            settings: trained, recipe: recipe, trainingData: training.name, trainingImages: training.count, trainSeconds: seconds,
            testAccuracy: try model.evaluate(test).accuracy, watermarkRate: targetRate(model, testTriggers, target: target),
            validationWatermarkRate: targetRate(model, try triggers(trained, from: validation), target: target),
            cleanSourceTargetRate: targetRate(model, cleanSources, target: target), triggerCount: testTriggers.count,
            meanCrossEntropyWeight: meanWeight, validationAccuracy: try model.evaluate(validation).accuracy, victim: victim?.name,
            victimTestAccuracy: victim?.testAccuracy, victimValidationAccuracy: victim?.validationAccuracy)
        model.manifest.metrics["train_seconds"] = seconds
        model.manifest.metrics["test_accuracy"] = record.testAccuracy
        model.manifest.metrics["watermark_rate"] = record.watermarkRate
        model.manifest.metrics["validation_watermark_rate"] = record.validationWatermarkRate
        model.manifest.metrics["clean_source_target_rate"] = record.cleanSourceTargetRate
        model.manifest.metrics["validation_accuracy"] = record.validationAccuracy
        if let v = victim?.testAccuracy { model.manifest.metrics["victim_test_accuracy"] = v }
        if let v = victim?.validationAccuracy { model.manifest.metrics["victim_validation_accuracy"] = v }
        return (model, record)
    }

    /// Writes the model directory and the record beside it.
    public static func save(_ model: TrainedModel, record: BaselineRecord, to directory: String) throws {
        try ModelDirectory.save(model, to: directory)
        try record.save(to: directory)
    }
}
