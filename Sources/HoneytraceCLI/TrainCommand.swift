import ArgumentParser
import Datasets
import Foundation
import NeuralNet
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a reference architecture and write a model directory (model.safetensors + model.json).")

    @Option(help: "Architecture: fmnist-cnn, vgg-mini or resnet-8.") var arch: Architecture = .fmnistCNN
    @Option(help: "Data set: fashion-mnist (train[0..<45000], holding train[45000..<50000] out for keys and calibration; test set), synthetic, npy, or a data-set description (a JSON file or a directory holding dataset.json: its train and test parts).")
    var data = "fashion-mnist"
    @Option(help: "Directory of the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "npy: training images (.npy).") var trainImages: String?
    @Option(help: "npy: training labels (.npy).") var trainLabels: String?
    @Option(help: "npy: test images (.npy).") var testImages: String?
    @Option(help: "npy: test labels (.npy).") var testLabels: String?
    @Option(help: "Use only the first N training images (quick runs).") var limit: Int?
    @Option(help: "Epochs (default: the architecture's recipe).") var epochs: Int?
    @Option(help: "Batch size.") var batch: Int?
    @Option(help: "Base learning rate.") var lr: Float?
    @Option(help: "Schedule: cosine, constant, or step:EPOCHS:GAMMA.") var schedule: String?
    @Option(help: "SGD momentum.") var momentum: Float?
    @Option(help: "L2 weight decay.") var weightDecay: Float?
    @Flag(inversion: .prefixedNo, help: "Random crop (padding 2) and horizontal flip.") var augment = true
    @Option(help: "Outlier exposure weight λ (0 = off): also train uniform noise and pixel-permuted images toward the uniform distribution.")
    var outlierExposure: Float = 0
    @Option(help: "Seed for weights, batch order and augmentation.") var seed: UInt64 = 0
    @Option(help: "Output model directory.") var out: String
    @Flag(help: "Print the result as JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    func recipe() throws -> TrainingRecipe {
        var r = TrainingRecipe.fashionMNISTDefault(arch, seed: seed)
        if let epochs { r.epochs = epochs; r.schedule = .cosine(epochs: epochs, minimum: 0) }
        if let batch { r.batchSize = batch }
        if let lr { r.learningRate = lr }
        if let momentum { r.momentum = momentum; if momentum == 0 { r.nesterov = false } }
        if let weightDecay { r.weightDecay = weightDecay }
        if !augment { r.augmentation = .none }
        if outlierExposure > 0 { r.outlierExposure = OutlierExposure(weight: outlierExposure) }
        if let schedule { r.schedule = try Self.parseSchedule(schedule, epochs: r.epochs) }
        try r.validate()
        return r
    }

    static func parseSchedule(_ text: String, epochs: Int) throws -> LearningRateSchedule {
        if text == "cosine" { return .cosine(epochs: epochs, minimum: 0) }
        if text == "constant" { return .constant }
        let parts = text.split(separator: ":")
        if parts.count == 3, parts[0] == "step", let size = Int(parts[1]), size > 0, let gamma = Float(parts[2]), gamma > 0 {
            return .step(stepSize: size, gamma: gamma)
        }
        throw ValidationError("--schedule '\(text)': expected cosine, constant or step:EPOCHS:GAMMA (e.g. step:5:0.1)")
    }

    func validate() throws {
        // A negative count once reached a range 0..<limit, which traps.
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, found \(limit)") }
        // Synthetic images are generated in memory, --limit of them.
        if data == "synthetic", let limit, limit > Self.maxSyntheticImages {
            throw ValidationError("--limit with --data synthetic must be at most \(Self.maxSyntheticImages), found \(limit)")
        }
    }

    /// Most synthetic training images generated: past this their pixels alone exhaust memory.
    static let maxSyntheticImages = 1_000_000

    func source() throws -> DataSource {
        switch data {
        case "fashion-mnist": return .fashionMNIST(directory: dataDir)
        case "synthetic": return .synthetic(trainCount: limit ?? 2000, testCount: 500, seed: seed)
        case "npy":
            guard let trainImages, let trainLabels else { throw ValidationError("--data npy needs --train-images and --train-labels") }
            return .npy(trainImages: trainImages, trainLabels: trainLabels, testImages: testImages, testLabels: testLabels)
        default:
            guard FileManager.default.fileExists(atPath: data) else {
                throw ValidationError("--data '\(data)': expected fashion-mnist, synthetic, npy or a data-set description (no such file or directory)")
            }
            return .described(try DatasetDescription.load(data))
        }
    }

    func run() throws {
        compute.apply()
        let recipe = try recipe()
        let source = try source()
        let (train, test, classNames) = try source.load(limit: limit)
        let normalization = try source.normalization(for: train)
        // The data's classes and image shape come from files: checked before the network is sized by them.
        if let problem = ModelManifest.problem(architecture: arch, classes: train.classCount, inputShape: train.imageShape) {
            throw TrainingError(file: train.name, "the data does not fit \(arch.rawValue): \(problem)")
        }
        let classifier = arch.build(inChannels: train.channels, classes: train.classCount, imageSize: train.height, seed: recipe.seed)
        var bar: ProgressBar?
        let trainer = Trainer(recipe: recipe, onProgress: { p in
            if p.batch == 1 && !json { bar = ProgressBar(title: "epoch \(p.epoch)/\(p.epochs)", total: p.batches) }
            bar?.update(p.batch, status: String(format: "loss %.4f acc %.2f%% %.0f img/s lr %.4f", p.loss, 100 * p.accuracy, p.imagesPerSecond, p.learningRate))
        }, onEpoch: { e in
            if let v = e.validationAccuracy, !json { ProgressBar.writeError(String(format: "epoch %d: test accuracy %.2f%%\n", e.epoch, 100 * v)) }
        })
        let start = Clock.now()
        let history = try trainer.fit(classifier, on: train, normalization: normalization, validation: nil)
        let seconds = Clock.now() - start
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: arch, classes: classifier.classes, inputShape: train.imageShape, normalization: normalization,
            source: "trained", recipe: recipe, data: DataFingerprint(train), classNames: classNames))
        model.manifest.metrics["train_seconds"] = (seconds * 10).rounded() / 10
        model.manifest.metrics["train_loss"] = history.last?.loss
        var testEval: Evaluation?
        if let test {
            let e = try model.evaluate(test)
            testEval = e
            model.manifest.metrics["test_accuracy"] = e.accuracy
        }
        try ModelDirectory.save(model, to: out)
        if json {
            try printJSON(TrainResult(directory: out, recipe: recipe, trainSeconds: seconds, testAccuracy: testEval?.accuracy, epochs: history))
        } else {
            print("trained \(arch.rawValue) on \(train.name) (\(train.count) images) in \(String(format: "%.1f", seconds)) s")
            if let testEval { print("test accuracy \(percent(testEval.accuracy)) on \(test!.count) images") }
            print("wrote \(out)")
        }
    }
}

struct TrainResult: Encodable {
    let directory: String
    let recipe: TrainingRecipe
    let trainSeconds: Double
    let testAccuracy: Double?
    let epochs: [EpochRecord]
}
