import ArgumentParser
import Baselines
import Datasets
import Foundation
import NeuralNet
import Training

extension BaselineKind: ExpressibleByArgument {}
extension GradientNormalization: ExpressibleByArgument {}

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "The training-time baselines Neural Honeytrace is compared with.",
        subcommands: [BaselineTrainCommand.self, BaselineRateCommand.self])
}

struct BaselineTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a watermarked victim (composite backdoor, MEA-Defender or EWE) on the owner's training split and write a model directory with baseline.json.")

    @Option(help: "Baseline: composite, mea-defender or ewe.") var kind: BaselineKind
    @Option(help: "Architecture: fmnist-cnn, vgg-mini or resnet-8 (its Fashion-MNIST recipe).") var architecture: Architecture = .fmnistCNN
    @Option(help: "Seed for weights, batch order, augmentation and every baseline sample.") var seed: UInt64 = 0
    @Option(help: "Epochs (default: the architecture's recipe).") var epochs: Int?
    @Option(help: "The bare victim's model directory, whose test and validation accuracy (measured again) the record names.") var victim: String?
    @Option(help: "Use only the first N owner training images (quick runs).") var limit: Int?
    @Option(help: "composite, mea-defender: factor on the contrastive term (MEA-Defender's phase 1; default: the kind's setting in docs/baselines.md).")
    var contrastiveWeight: Float?
    @Option(help: "composite: poison composites per clean image each epoch (default: the kind's setting).")
    var poisonFraction: Double?
    @Option(help: "mea-defender: task-gradient scaling before phase 2's min-norm weight: none, l2 or loss+ (default: the kind's setting).")
    var gradientNormalization: GradientNormalization?
    @Option(help: "ewe: factor κ on the SNNL terms (default: the kind's setting).") var kappa: Float?
    @Option(help: "ewe: epochs with watermark batches, at the end of the recipe's (default: the kind's setting).") var watermarkEpochs: Int?
    @Option(help: "Directory of the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "Output model directory.") var out: String
    @Flag(help: "Print the record as JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, found \(epochs)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, found \(limit)") }
        let wrongKind: [(String, Bool, [BaselineKind])] = [
            ("--contrastive-weight", contrastiveWeight != nil, [.composite, .meaDefender]),
            ("--poison-fraction", poisonFraction != nil, [.composite]),
            ("--gradient-normalization", gradientNormalization != nil, [.meaDefender]),
            ("--kappa", kappa != nil, [.ewe]), ("--watermark-epochs", watermarkEpochs != nil, [.ewe]),
        ]
        for (option, given, kinds) in wrongKind where given && !kinds.contains(kind) {
            throw ValidationError("\(option) applies to \(kinds.map(\.rawValue).joined(separator: " and ")), not \(kind.rawValue)")
        }
    }

    func run() throws {
        compute.apply()
        var recipe = TrainingRecipe.fashionMNISTDefault(architecture, seed: seed)
        if let epochs { recipe.epochs = epochs; recipe.schedule = .cosine(epochs: epochs, minimum: 0) }
        let splits = try FashionMNIST.heldOutSplits(directory: dataDir)
        let training = limit.map { splits.ownerTraining.subset(0..<min($0, splits.ownerTraining.count)) } ?? splits.ownerTraining
        let victimModel = try victim.map { directory in
            let bare = try ModelDirectory.load(directory)
            return BaselineVictim(name: directory, testAccuracy: try bare.evaluate(splits.test).accuracy,
                                  validationAccuracy: try bare.evaluate(splits.ownerValidation).accuracy)
        }
        var bar: ProgressBar?
        var settings = BaselineSettings(kind: kind, victimEpochs: recipe.epochs)
        if let contrastiveWeight {
            settings.composite?.contrastiveWeight = contrastiveWeight
            settings.meaDefender?.contrastiveWeight = contrastiveWeight
        }
        if let poisonFraction { settings.composite?.poisonFraction = poisonFraction }
        if let gradientNormalization { settings.meaDefender?.gradientNormalization = gradientNormalization }
        if let kappa { settings.ewe?.kappa = kappa }
        if let watermarkEpochs { settings.ewe?.watermarkEpochs = watermarkEpochs }
        let (model, record) = try BaselineTraining.train(
            settings, recipe: recipe, training: training,
            validation: splits.ownerValidation, test: splits.test, normalization: .fashionMNIST, victim: victimModel,
            onProgress: { p in
                if p.batch == 1 && !json { bar = ProgressBar(title: "\(kind.rawValue) epoch \(p.epoch)/\(p.epochs)", total: p.batches) }
                bar?.update(p.batch, status: String(format: "loss %.4f acc %.2f%% %.0f img/s lr %.4f", p.loss, 100 * p.accuracy, p.imagesPerSecond, p.learningRate))
            })
        try BaselineTraining.save(model, record: record, to: out)
        if json { return try printJSON(record) }
        print("trained \(kind.rawValue) \(architecture.rawValue) on \(record.trainingData) (\(record.trainingImages) images) in \(String(format: "%.1f", record.trainSeconds)) s")
        print("test accuracy \(percent(record.testAccuracy))" + (record.victimTestAccuracy.map { " (bare victim \(percent($0)))" } ?? ""))
        if let v = record.validationAccuracy {
            print("validation accuracy \(percent(v))" + (record.victimValidationAccuracy.map { " (bare victim \(percent($0)))" } ?? ""))
        }
        print("watermark rate \(percent(record.watermarkRate)) of \(record.triggerCount) test triggers answer \(BaselineTraining.target(record.settings)); validation \(percent(record.validationWatermarkRate)); clean source images \(percent(record.cleanSourceTargetRate))")
        print("wrote \(out)")
    }
}

struct BaselineRateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate",
        abstract: "Share of a trained baseline's triggers (made again from its settings and held-out images) that a model answers with the target class, e.g. a surrogate's inherited watermark or a bare model's chance rate.")

    @Option(help: "The trained baseline's model directory (holding baseline.json).") var baseline: String
    @Argument(help: "The model directory to measure.") var model: String
    @Option(help: "Held-out images: test or validation (the owner validation split).") var split = "test"
    @Option(help: "Directory of the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory
    @Flag(help: "Print the figures as JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let record = try BaselineRecord.load(directory: baseline)
        let splits = try FashionMNIST.heldOutSplits(directory: dataDir)
        let heldOut: ImageDataset
        switch split {
        case "test": heldOut = splits.test
        case "validation": heldOut = splits.ownerValidation
        default: throw ValidationError("--split '\(split)': expected test or validation")
        }
        let suspect = try ModelDirectory.load(model)
        let target = BaselineTraining.target(record.settings)
        let triggers = try BaselineTraining.triggers(record.settings, from: heldOut)
        let sources = BaselineTraining.sourceClasses(record.settings)
        let clean = heldOut.subset(indices: heldOut.labels.indices.filter { sources.contains(heldOut.labels[$0]) })
        let result = BaselineRate(baseline: baseline, model: model, split: heldOut.name, triggers: triggers.count,
                                  watermarkRate: BaselineTraining.targetRate(suspect, triggers, target: target),
                                  cleanSourceTargetRate: BaselineTraining.targetRate(suspect, clean, target: target))
        if json { return try printJSON(result) }
        print("\(model): \(percent(result.watermarkRate)) of \(result.triggers) \(record.kind.rawValue) triggers from \(result.split) answer \(target); clean source images \(percent(result.cleanSourceTargetRate))")
    }
}

struct BaselineRate: Encodable {
    let baseline: String, model: String, split: String
    let triggers: Int
    let watermarkRate: Double, cleanSourceTargetRate: Double
}
