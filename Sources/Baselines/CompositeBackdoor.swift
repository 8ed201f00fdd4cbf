import Datasets
import NeuralNet
import TensorEngine
import Training

/// Training of the composite-style baselines: the composite backdoor, and MEA-Defender's
/// two phases.
enum CompositeBackdoor {
    /// One epoch's training set: the clean images, then the poison composites, the cover
    /// composites (as many as poison) and the evasion samples, each drawn from a seed of
    /// (`seed`, `epoch`).
    struct EpochSet {
        let data: ImageDataset
        /// Positions of the poison composites in `data`.
        let poison: Range<Int>
    }

    /// How many extra samples `fraction` of `clean` images is.
    static func count(_ fraction: Double, of clean: Int) -> Int { Int((Double(clean) * fraction).rounded()) }

    static func epochSet(_ clean: ImageDataset, classes: CompositeClasses, mixer: CompositeMixer, poisonFraction: Double,
                         evasionFraction: Double = 0, seed: UInt64, epoch: Int) throws -> EpochSet {
        let n = count(poisonFraction, of: clean.count), e = count(evasionFraction, of: clean.count)
        let base = SeedMixing.mix(seed, UInt64(epoch))
        var parts = [clean]
        if n > 0 {
            parts.append(try CompositeSamples.poison(from: clean, classes: classes, count: n, mixer: mixer, seed: SeedMixing.mix(base, 1)))
            parts.append(try CompositeSamples.cover(from: clean, count: n, mixer: mixer, seed: SeedMixing.mix(base, 2)))
        }
        if e > 0 { parts.append(try CompositeSamples.evasion(from: clean, classes: classes, count: e, seed: SeedMixing.mix(base, 3))) }
        let data = parts.count == 1 ? clean : try ImageDataset.concatenate(parts, name: "\(clean.name)+composites")
        return EpochSet(data: data, poison: clean.count..<(clean.count + n))
    }

    /// Cross-entropy plus `weight` times the contrastive term on the batch's k, j and t samples.
    static func loss(_ classifier: Classifier, _ batch: DataLoader.Batch, classes: CompositeClasses, weight: Float) -> (loss: Double, logits: Tensor) {
        let logits = classifier(batch.images)
        var loss = Loss.crossEntropy(logits, labels: batch.labels)
        if weight > 0, let c = BaselineLoss.contrastive(logits, labels: batch.labels, classes: [classes.k, classes.j, classes.target]) {
            loss = loss + weight * c
        }
        return RecipeLoop.backward(loss, logits: logits)
    }

    /// Trains epochs `epochs` of the composite backdoor with poison at `fraction`.
    static func train(_ loop: RecipeLoop, on clean: ImageDataset, classes: CompositeClasses, mixer: CompositeMixer,
                      fraction: Double, contrastiveWeight: Float, epochs: Range<Int>) throws {
        let seed = SeedMixing.mix(loop.recipe.seed, 0x636F_6D70)  // salt "comp"
        try loop.run(epochs: epochs, data: {
            try epochSet(clean, classes: classes, mixer: mixer, poisonFraction: fraction, seed: seed, epoch: $0).data
        }, batchLoss: { loss(loop.classifier, $0, classes: classes, weight: contrastiveWeight) })
    }

    /// MEA-Defender's phase 2 on a classifier that finished phase 1: a fresh optimiser at a
    /// fraction of the learning rate, and per batch the MGDA-weighted sum of the gradients of
    /// cross-entropy and of (contrastive + L_com), the weight found on the gradients scaled by
    /// the settings' normalisation. Returns the mean weight of cross-entropy.
    static func meaPhase2(_ classifier: Classifier, on clean: ImageDataset, settings: MEADefenderSettings, recipe: TrainingRecipe,
                          normalization: Normalization, onProgress: ((TrainingProgress) -> Void)?) throws -> Double {
        var phase = recipe
        phase.epochs = settings.phase2Epochs
        phase.seed = SeedMixing.mix(recipe.seed, 0x6D65_6132)  // salt "mea2"
        let loop = RecipeLoop(classifier, recipe: phase, normalization: normalization, onProgress: onProgress)
        let classes = settings.classes
        let (ks, js) = try CompositeSamples.sourceIndices(clean, classes)
        var g = SeededGenerator(seed: SeedMixing.mix(phase.seed, 0x706F_6F6C))  // salt "pool"
        func pool(_ indices: [Int]) -> Tensor {
            let picked = (0..<settings.poolSize).map { _ in indices[g.nextInt(below: indices.count)] }
            return clean.batchTensor(picked, normalization: normalization).images
        }
        let kPool = pool(ks), jPool = pool(js)
        let sources: Set<Int> = [classes.k, classes.j, classes.target]
        var poison = 0..<0
        var alphaSum = 0.0, steps = 0
        try loop.run(epochs: 0..<phase.epochs, data: {
            let set = try epochSet(clean, classes: classes, mixer: settings.mixer, poisonFraction: settings.phase2Fraction,
                                   evasionFraction: settings.evasionFraction, seed: phase.seed, epoch: $0)
            poison = set.poison
            return set.data
        }, rate: { _ in recipe.learningRate * settings.phase2RateFactor }, batchLoss: { batch in
            let logits = classifier(batch.images)
            let ce = Loss.crossEntropy(logits, labels: batch.labels)
            ce.backward()
            let g1 = loop.flatGradients()
            loop.optimizer.zeroGrad()
            let rows = batch.labels.indices.filter { sources.contains(batch.labels[$0]) }
            let composites = rows.indices.filter { poison.contains(batch.indices[rows[$0]]) }
            let m = composites.count
            var task: Tensor?
            if !rows.isEmpty {
                var inputs = [batch.images.rows(rows)]
                if m > 0 {
                    inputs.append(kPool.rows((0..<m).map { _ in g.nextInt(below: settings.poolSize) }))
                    inputs.append(jPool.rows((0..<m).map { _ in g.nextInt(below: settings.poolSize) }))
                }
                let out = classifier(Tensor.concat(inputs))
                let z = out.slice(0..<rows.count)
                task = BaselineLoss.contrastive(z, labels: rows.map { batch.labels[$0] }, classes: sources)
                if m > 0 {
                    let p = z.rows(composites).softmax()
                    let r = rows.count
                    let com = Loss.klDivergence(out.slice(r..<(r + m)), targets: p) + Loss.klDivergence(out.slice((r + m)..<(r + 2 * m)), targets: p)
                    task = task.map { $0 + com } ?? com
                }
            }
            guard let task else {
                loop.setGradients(g1)
                return (Double(ce.item), logits)
            }
            task.backward()
            let g2 = loop.flatGradients()
            let alpha = MinNormWeight.alpha(g1, g2, losses: (Double(ce.item), Double(task.item)),
                                            normalization: settings.gradientNormalization ?? .none)
            alphaSum += Double(alpha)
            steps += 1
            loop.setGradients(zip(g1, g2).map { alpha * $0 + (1 - alpha) * $1 })
            return (Double(alpha * ce.item + (1 - alpha) * task.item), logits)
        })
        return steps > 0 ? alphaSum / Double(steps) : 1
    }
}
