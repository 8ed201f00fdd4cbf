import Datasets
import NeuralNet
import TensorEngine
import Training

/// The epoch loop the trained baselines share: the victim recipe's SGD (momentum, Nesterov,
/// weight decay), batch size, augmentation, schedule and warm-up, over a training set that
/// may be rebuilt every epoch, with each baseline's own loss per batch.
final class RecipeLoop {
    let recipe: TrainingRecipe
    let normalization: Normalization
    let classifier: Classifier
    let optimizer: SGD
    var onProgress: ((TrainingProgress) -> Void)?
    /// The loop's step count, for warm-up.
    private var step = 0

    init(_ classifier: Classifier, recipe: TrainingRecipe, normalization: Normalization, onProgress: ((TrainingProgress) -> Void)?) {
        self.classifier = classifier
        self.recipe = recipe
        self.normalization = normalization
        self.onProgress = onProgress
        optimizer = SGD(classifier.parameters, learningRate: recipe.learningRate, momentum: recipe.momentum,
                        weightDecay: recipe.weightDecay, nesterov: recipe.nesterov)
    }

    /// The recipe's rate for `epoch`, with its linear warm-up over the first steps.
    func scheduledRate(epoch: Int, batchesPerEpoch: Int) -> Float {
        var lr = recipe.schedule.rate(base: recipe.learningRate, epoch: epoch)
        let warmup = Int(recipe.warmupEpochs * Float(batchesPerEpoch))
        if step < warmup { lr *= Float(step + 1) / Float(warmup) }
        return lr
    }

    /// One optimiser step: clears the gradients, lets `body` fill them, checks the loss and steps.
    func update(_ body: () throws -> Double) throws -> Double {
        optimizer.zeroGrad()
        let loss = try body()
        guard loss.isFinite else { throw BaselineError(.watermarkFailed, "the loss became \(loss); lower the learning rate") }
        optimizer.step()
        return loss
    }

    /// Runs epochs `epochs` of `recipe.epochs` numbering: `data(epoch)` is that epoch's training
    /// set, `rate` its learning rate (nil = the recipe's schedule), `batchLoss` fills the
    /// gradients of one batch and returns its loss and logits (for the running accuracy), and
    /// `afterBatch` may take extra steps.
    func run(epochs: Range<Int>, data: (Int) throws -> ImageDataset, rate: ((Int) -> Float)? = nil,
             batchLoss: (DataLoader.Batch) throws -> (loss: Double, logits: Tensor),
             afterBatch: ((DataLoader.Batch) throws -> Void)? = nil) throws {
        let total = recipe.epochs
        for epoch in epochs {
            let set = try data(epoch)
            let loader = DataLoader(dataset: set, batchSize: recipe.batchSize, shuffle: true, dropLast: set.count > recipe.batchSize,
                                    seed: recipe.seed, normalization: normalization, augmentation: recipe.augmentation)
            classifier.train()
            let start = Clock.now()
            var lossSum = 0.0, correct = 0, seen = 0
            for batch in loader.epoch(epoch) {
                let lr = rate?(epoch) ?? scheduledRate(epoch: epoch, batchesPerEpoch: loader.batchesPerEpoch)
                optimizer.learningRate = lr
                var logits: Tensor?
                let loss = try update {
                    let out = try batchLoss(batch)
                    logits = out.logits
                    return out.loss
                }
                try afterBatch?(batch)
                let n = batch.labels.count
                lossSum += loss * Double(n)
                correct += zip(Autograd.inference { logits!.argmax(axis: 1) }, batch.labels).filter { $0 == $1 }.count
                seen += n
                step += 1
                onProgress?(TrainingProgress(epoch: epoch + 1, epochs: max(total, epochs.upperBound), batch: batch.index + 1,
                                             batches: loader.batchesPerEpoch, loss: lossSum / Double(seen),
                                             accuracy: Double(correct) / Double(seen),
                                             imagesPerSecond: Double(seen) / max(Clock.now() - start, 1e-9), learningRate: lr))
            }
        }
        classifier.eval()
    }

    /// Back-propagates `loss` and returns what `run`'s `batchLoss` returns.
    static func backward(_ loss: Tensor, logits: Tensor) -> (loss: Double, logits: Tensor) {
        loss.backward()
        return (Double(loss.item), logits)
    }

    /// Every parameter's gradient, concatenated (zeros where a parameter has none).
    func flatGradients() -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(classifier.parameterCount)
        for p in classifier.parameters {
            if let g = p.grad { out += g.scalars } else { out += [Float](repeating: 0, count: p.count) }
        }
        return out
    }

    /// Sets every parameter's gradient from a concatenation made by `flatGradients`.
    func setGradients(_ flat: [Float]) {
        var offset = 0
        for p in classifier.parameters {
            p.grad = Tensor(Array(flat[offset..<(offset + p.count)]), shape: p.shape)
            offset += p.count
        }
    }
}
