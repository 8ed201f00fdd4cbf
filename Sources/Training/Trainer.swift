import Datasets
import NeuralNet
import TensorEngine

/// What the trainer reports after every batch, for progress bars and logs.
public struct TrainingProgress: Sendable {
    public let epoch: Int, epochs: Int
    public let batch: Int, batches: Int
    /// Running mean loss and accuracy (against the argmax of the targets) over the epoch so far.
    public let loss: Double, accuracy: Double
    public let imagesPerSecond: Double
    public let learningRate: Float

    public init(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double, accuracy: Double, imagesPerSecond: Double,
                learningRate: Float) {
        self.epoch = epoch
        self.epochs = epochs
        self.batch = batch
        self.batches = batches
        self.loss = loss
        self.accuracy = accuracy
        self.imagesPerSecond = imagesPerSecond
        self.learningRate = learningRate
    }
}

/// One finished epoch.
public struct EpochRecord: Codable, Sendable, Equatable {
    public let epoch: Int
    public let loss: Double
    public let trainAccuracy: Double
    /// Accuracy on the validation set, when one was given.
    public let validationAccuracy: Double?
    public let seconds: Double
}

/// Mini-batch SGD over a dataset with a recipe: seeded shuffling and augmentation,
/// a learning-rate schedule with optional warm-up, hard or soft targets.
public struct Trainer {
    public let recipe: TrainingRecipe
    /// Called after every batch.
    public var onProgress: ((TrainingProgress) -> Void)?
    /// Called after every epoch.
    public var onEpoch: ((EpochRecord) -> Void)?

    public init(recipe: TrainingRecipe, onProgress: ((TrainingProgress) -> Void)? = nil,
                onEpoch: ((EpochRecord) -> Void)? = nil) {
        self.recipe = recipe
        self.onProgress = onProgress
        self.onEpoch = onEpoch
    }

    /// Trains `classifier` in place on `data`.
    ///
    /// - Parameters:
    ///   - softTargets: per image a probability vector (`[N·K]` row-major) to train on with soft
    ///     cross-entropy instead of the dataset's labels (a surrogate learning from API answers).
    ///   - validation: evaluated after each epoch when given.
    /// - Returns: one record per epoch.
    @discardableResult
    public func fit(_ classifier: Classifier, on data: ImageDataset, normalization: Normalization,
                    softTargets: [Float]? = nil, validation: ImageDataset? = nil) throws -> [EpochRecord] {
        try recipe.validate()
        let classes = classifier.classes
        if let softTargets, softTargets.count != data.count * classes {
            throw TrainingError("soft targets hold \(softTargets.count) values, \(data.count) images × \(classes) classes need \(data.count * classes)")
        }
        guard data.classCount <= classes || softTargets != nil else {
            throw TrainingError("\(data.name) has \(data.classCount) classes, the model has \(classes)")
        }
        guard !data.isEmpty else { throw TrainingError("\(data.name) holds no images") }
        let loader = DataLoader(dataset: data, batchSize: recipe.batchSize, shuffle: true, dropLast: data.count > recipe.batchSize,
                                seed: recipe.seed, normalization: normalization, augmentation: recipe.augmentation)
        let optimizer = SGD(classifier.parameters, learningRate: recipe.learningRate, momentum: recipe.momentum,
                            weightDecay: recipe.weightDecay, nesterov: recipe.nesterov)
        let stepsPerEpoch = loader.batchesPerEpoch
        let warmupSteps = Int(recipe.warmupEpochs * Float(stepsPerEpoch))
        var records: [EpochRecord] = []
        var step = 0
        for epoch in 0..<recipe.epochs {
            classifier.train()
            let start = Clock.now()
            var lossSum = 0.0, correct = 0, seen = 0
            for batch in loader.epoch(epoch) {
                var lr = recipe.schedule.rate(base: recipe.learningRate, epoch: epoch)
                if step < warmupSteps { lr *= Float(step + 1) / Float(warmupSteps) }
                optimizer.learningRate = lr
                let n = batch.labels.count
                let targetLabels: [Int]
                let targets: Tensor?
                if let softTargets {
                    var rows = [Float](repeating: 0, count: n * classes)
                    for (r, i) in batch.indices.enumerated() {
                        for c in 0..<classes { rows[r * classes + c] = softTargets[i * classes + c] }
                    }
                    targets = Tensor(rows, shape: [n, classes])
                    targetLabels = (0..<n).map { r in (0..<classes).max { rows[r * classes + $0] < rows[r * classes + $1] }! }
                } else if recipe.labelSmoothing > 0 {
                    let off = recipe.labelSmoothing / Float(classes)
                    var rows = [Float](repeating: off, count: n * classes)
                    for (r, y) in batch.labels.enumerated() { rows[r * classes + y] += 1 - recipe.labelSmoothing }
                    targets = Tensor(rows, shape: [n, classes])
                    targetLabels = batch.labels
                } else {
                    targets = nil
                    targetLabels = batch.labels
                }
                optimizer.zeroGrad()
                let logits: Tensor, loss: Tensor
                if let oe = recipe.outlierExposure {
                    // One forward pass over clean images and outliers, so batch norm sees both.
                    let outliers = oe.outliers(for: batch.images, mean: normalization.mean, std: normalization.std,
                                               seed: SeedMixing.mix(recipe.seed, 0x6F75_746C, UInt64(epoch), UInt64(batch.index)))
                    let all = classifier(Tensor.concat([batch.images, outliers]))
                    logits = all.slice(0..<n)
                    let uniform = Tensor.full([outliers.shape[0], classes], value: 1 / Float(classes))
                    let clean = targets.map { Loss.softCrossEntropy(logits, targets: $0) } ?? Loss.crossEntropy(logits, labels: targetLabels)
                    loss = clean + oe.weight * Loss.softCrossEntropy(all.slice(n..<all.shape[0]), targets: uniform)
                } else {
                    logits = classifier(batch.images)
                    loss = targets.map { Loss.softCrossEntropy(logits, targets: $0) } ?? Loss.crossEntropy(logits, labels: targetLabels)
                }
                loss.backward()
                optimizer.step()
                let value = Double(loss.item)
                guard value.isFinite else {
                    throw TrainingError("the loss became \(value) at epoch \(epoch + 1), batch \(batch.index + 1); lower the learning rate")
                }
                lossSum += value * Double(n)
                correct += zip(Autograd.inference { logits.argmax(axis: 1) }, targetLabels).filter { $0 == $1 }.count
                seen += n
                step += 1
                onProgress?(TrainingProgress(epoch: epoch + 1, epochs: recipe.epochs, batch: batch.index + 1, batches: stepsPerEpoch,
                                             loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                                             imagesPerSecond: Double(seen) / max(Clock.now() - start, 1e-9), learningRate: lr))
            }
            var validationAccuracy: Double?
            if let validation {
                let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
                    architecture: classifier.architecture, classes: classes, inputShape: data.imageShape,
                    normalization: normalization, source: "training"))
                validationAccuracy = try model.evaluate(validation).accuracy
            }
            let record = EpochRecord(epoch: epoch + 1, loss: lossSum / Double(max(seen, 1)),
                                     trainAccuracy: Double(correct) / Double(max(seen, 1)),
                                     validationAccuracy: validationAccuracy, seconds: Clock.now() - start)
            records.append(record)
            onEpoch?(record)
        }
        classifier.eval()
        return records
    }
}
