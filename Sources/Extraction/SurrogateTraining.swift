import Datasets
import NeuralNet
import Prediction
import TensorEngine
import Training

/// Fits a fresh surrogate on the attacker's transfer set (query images and the answer rows it
/// trains on), with soft or hard cross-entropy through `Training.Trainer`, or, for S4L, with its
/// own loop that adds the rotation loss on the unlabelled pool.
public enum SurrogateTraining {
    /// What one finished epoch reports.
    public struct EpochReport: Sendable {
        public let epoch: Int, epochs: Int
        /// Mean training loss (for S4L: classification + weight × rotation).
        public let loss: Double
        public let seconds: Double
    }

    /// S4L's extra task.
    public struct RotationLoss {
        /// Unlabelled images (the attacker's pool) the rotation head learns on.
        public let pool: ImageDataset
        /// Weight of the rotation cross-entropy (1.0 in docs/algorithms.md §5).
        public let weight: Float

        public init(pool: ImageDataset, weight: Float = 1) {
            self.pool = pool
            self.weight = weight
        }
    }

    /// Trains a surrogate from `seed` on `count` images (raw pixels back to back) and one target
    /// row per image. Rows are renormalised to sum to 1 before training (rounded or top-k
    /// answers need not); `.hard` trains on their argmax.
    public static func train(pixels: [Float], targets: [[Float]], inputShape: [Int], classes: Int,
                             recipe: SurrogateRecipe, architecture: Architecture, epochs: Int? = nil, seed: UInt64,
                             rotation: RotationLoss? = nil, onEpoch: ((EpochReport) -> Void)? = nil) throws -> TrainedModel {
        guard inputShape.count == 3 else { throw ExtractionError(.invalidConfiguration, "input shape must be [C, H, W], found \(inputShape)") }
        guard !targets.isEmpty else { throw ExtractionError(.missingData, "the surrogate has no answered queries to train on") }
        guard targets.allSatisfy({ $0.count == classes }) else {
            throw ExtractionError(.invalidConfiguration, "every target row must hold \(classes) values")
        }
        guard recipe.normalization.fits(channels: inputShape[0]) else {
            throw ExtractionError(.invalidConfiguration, "the surrogate's normalisation does not fit \(inputShape[0])-channel images")
        }
        let rows = targets.map(ProbabilityRow.normalized)
        let labels = rows.map(ProbabilityRow.argmax)
        let data: ImageDataset
        do {
            data = try ImageDataset(name: "transfer-set", pixels: pixels, labels: labels, channels: inputShape[0],
                                    height: inputShape[1], width: inputShape[2], classCount: classes)
        } catch {
            throw ExtractionError(.invalidQuery, "transfer set: \(error)")
        }
        let trainingRecipe = recipe.trainingRecipe(architecture: architecture, epochs: epochs, seed: seed)
        let classifier = architecture.build(inChannels: inputShape[0], classes: classes, imageSize: inputShape[1], seed: seed)
        if let rotation {
            try trainWithRotation(classifier, data: data, rows: rows, recipe: trainingRecipe, loss: recipe.loss,
                                  normalization: recipe.normalization, rotation: rotation, seed: seed, onEpoch: onEpoch)
        } else {
            let trainer = Trainer(recipe: trainingRecipe, onEpoch: { record in
                onEpoch?(EpochReport(epoch: record.epoch, epochs: trainingRecipe.epochs, loss: record.loss, seconds: record.seconds))
            })
            do {
                try trainer.fit(classifier, on: data, normalization: recipe.normalization,
                                softTargets: recipe.loss == .soft ? rows.flatMap { $0 } : nil)
            } catch let e as TrainingError {
                throw ExtractionError(.invalidConfiguration, "surrogate training: \(e.problem)")
            }
        }
        classifier.eval()
        return TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: architecture, classes: classes, inputShape: inputShape, normalization: recipe.normalization,
            source: "extraction", recipe: trainingRecipe))
    }

    /// The S4L loop: each step feeds the labelled batch and a quarter-batch of pool images in
    /// all four rotations through one forward pass; loss = CE(labelled) + weight · CE(rotation
    /// head on the rotated images' features). The rotation head is Linear(features → 4) and is
    /// discarded after training.
    static func trainWithRotation(_ classifier: Classifier, data: ImageDataset, rows: [[Float]], recipe: TrainingRecipe,
                                  loss lossKind: SurrogateLoss, normalization: Normalization, rotation: RotationLoss,
                                  seed: UInt64, onEpoch: ((EpochReport) -> Void)?) throws {
        try recipe.validate()
        guard data.height == data.width else {
            throw ExtractionError(.invalidConfiguration, "S4L's rotations need square images, found \(data.height)×\(data.width)")
        }
        guard rotation.pool.imageShape == data.imageShape, !rotation.pool.isEmpty else {
            throw ExtractionError(.invalidConfiguration, "S4L's unlabelled pool has images \(rotation.pool.imageShape), the queries \(data.imageShape)")
        }
        let k = classifier.classes
        let loader = DataLoader(dataset: data, batchSize: recipe.batchSize, shuffle: true, dropLast: data.count > recipe.batchSize,
                                seed: recipe.seed, normalization: normalization, augmentation: recipe.augmentation)
        let perStep = max(1, recipe.batchSize / RotationTask.classes)
        let unlabeled = DataLoader(dataset: rotation.pool, batchSize: perStep, shuffle: true,
                                   dropLast: rotation.pool.count > perStep, seed: SeedMixing.mix(seed, 0x7334_6C),  // "s4l"
                                   normalization: normalization, augmentation: recipe.augmentation)
        var unlabeledEpoch = 0
        var unlabeledBatches = unlabeled.epoch(0).makeIterator()
        func nextUnlabeled() -> Tensor {
            if let b = unlabeledBatches.next() { return b.images }
            unlabeledEpoch += 1
            unlabeledBatches = unlabeled.epoch(unlabeledEpoch).makeIterator()
            return unlabeledBatches.next()!.images
        }
        var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x6865_6164))  // "head"
        let head = Linear(classifier.featureWidth, RotationTask.classes, generator: &g)
        let optimizer = SGD(classifier.parameters + head.parameters, learningRate: recipe.learningRate, momentum: recipe.momentum,
                            weightDecay: recipe.weightDecay, nesterov: recipe.nesterov)
        for epoch in 0..<recipe.epochs {
            classifier.train()
            let start = Clock.now()
            optimizer.learningRate = recipe.schedule.rate(base: recipe.learningRate, epoch: epoch)
            var lossSum = 0.0, seen = 0
            for batch in loader.epoch(epoch) {
                let n = batch.indices.count
                let (rotated, rotationLabels) = RotationTask.batch(nextUnlabeled())
                let (logits, features) = classifier.forwardWithFeatures(Tensor.concat([batch.images, rotated], axis: 0))
                let own = logits.slice(0..<n)
                let classification: Tensor
                switch lossKind {
                case .soft:
                    var t = [Float](repeating: 0, count: n * k)
                    for (r, i) in batch.indices.enumerated() { for c in 0..<k { t[r * k + c] = rows[i][c] } }
                    classification = Loss.softCrossEntropy(own, targets: Tensor(t, shape: [n, k]))
                case .hard:
                    classification = Loss.crossEntropy(own, labels: batch.labels)
                }
                let rotationLoss = Loss.crossEntropy(head(features.slice(n..<(n + rotationLabels.count))), labels: rotationLabels)
                let loss = classification + rotationLoss * rotation.weight
                optimizer.zeroGrad()
                loss.backward()
                optimizer.step()
                let value = Double(loss.item)
                guard value.isFinite else {
                    throw ExtractionError(.invalidConfiguration, "the S4L loss became \(value) at epoch \(epoch + 1); lower the learning rate")
                }
                lossSum += value * Double(n)
                seen += n
            }
            onEpoch?(EpochReport(epoch: epoch + 1, epochs: recipe.epochs, loss: lossSum / Double(max(seen, 1)),
                                 seconds: Clock.now() - start))
        }
        classifier.eval()
    }
}
