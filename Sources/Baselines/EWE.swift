import Datasets
import Foundation
import NeuralNet
import TensorEngine
import Training

extension EWESettings {
    /// `data` with the white square trigger stamped at `position` (row, column) on every image.
    public func stamped(_ data: ImageDataset, at position: [Int]) throws -> ImageDataset {
        guard position.count == 2, (0...(data.height - triggerSize)).contains(position[0]),
              (0...(data.width - triggerSize)).contains(position[1]) else {
            throw BaselineError(.invalidConfiguration, "a \(triggerSize)-pixel trigger at \(position) does not fit \(data.height)×\(data.width) images")
        }
        var pixels = data.pixels
        let plane = data.height * data.width
        for i in 0..<(data.count * data.channels) {
            for y in position[0]..<(position[0] + triggerSize) {
                for x in position[1]..<(position[1] + triggerSize) { pixels[i * plane + y * data.width + x] = 1 }
            }
        }
        return try ImageDataset(name: "\(data.name)/ewe-trigger", pixels: pixels, labels: data.labels, channels: data.channels,
                                height: data.height, width: data.width, classCount: data.classCount).withRole(data.role)
    }

    /// The verification triggers: every source-class image of `heldOut` with the trigger, labelled
    /// with the target class.
    public func triggers(from heldOut: ImageDataset) throws -> ImageDataset {
        guard let triggerPosition else { throw BaselineError(.invalidConfiguration, "these EWE settings have no trigger position yet (it is chosen in training)") }
        let sources = heldOut.subset(indices: heldOut.indices(ofClass: source))
        guard !sources.isEmpty else { throw BaselineError(.unusableData, "\(heldOut.name) holds no image of the source class \(source)") }
        return try stamped(sources, at: triggerPosition).relabeled(Array(repeating: target, count: sources.count))
    }
}

/// EWE's training: clean pre-training, the trigger's position from the soft-nearest-neighbour
/// loss gradient, then clean batches alternating with watermark batches on
/// CE − κ·Σ_l SNNL_l, the temperatures following gradient steps that reduce SNNL.
enum EWETraining {
    /// Trains `loop`'s classifier on `clean`; returns the settings with the trigger position and
    /// final temperatures filled in.
    static func train(_ loop: RecipeLoop, on clean: ImageDataset, settings: EWESettings) throws -> EWESettings {
        var settings = settings
        let recipe = loop.recipe, classifier = loop.classifier
        let hidden = classifier.architecture.hiddenLayerIndices
        let pre = recipe.epochs - settings.watermarkEpochs
        let ce: (DataLoader.Batch) -> (loss: Double, logits: Tensor) = { batch in
            let logits = classifier(batch.images)
            return RecipeLoop.backward(Loss.crossEntropy(logits, labels: batch.labels), logits: logits)
        }
        try loop.run(epochs: 0..<pre, data: { _ in clean }, batchLoss: ce)

        let sourceImages = clean.subset(indices: clean.indices(ofClass: settings.source))
        let targetIndices = clean.indices(ofClass: settings.target)
        guard !sourceImages.isEmpty, !targetIndices.isEmpty else {
            throw BaselineError(.unusableData, "\(clean.name) holds \(sourceImages.count) images of the source class \(settings.source) and \(targetIndices.count) of the target \(settings.target); EWE needs both")
        }
        var g = SeededGenerator(seed: SeedMixing.mix(recipe.seed, 0x6577_6521))  // salt "ewe!"
        let half = settings.halfBatch
        let groups = Array(repeating: 1, count: half) + Array(repeating: 0, count: half)
        func draw(_ data: ImageDataset, _ indices: [Int]) -> Tensor {
            data.batchTensor((0..<half).map { _ in indices[g.nextInt(below: indices.count)] }, normalization: loop.normalization).images
        }
        let allSources = Array(0..<sourceImages.count)
        let probe = Tensor.concat([draw(sourceImages, allSources), draw(clean, targetIndices)])
        var temperatures = initialTemperatures(classifier, probe, hidden: hidden)
        let position = triggerPosition(classifier, probe, groups: groups, hidden: hidden, temperatures: temperatures,
                                       size: settings.triggerSize, epsilon: settings.epsilon)
        settings.triggerPosition = position
        let triggers = try settings.stamped(sourceImages, at: position)

        var cleanBatches = 0
        try loop.run(epochs: pre..<recipe.epochs, data: { _ in clean }, batchLoss: ce, afterBatch: { _ in
            cleanBatches += 1
            guard cleanBatches % settings.cleanBatchesPerWatermarkBatch == 0 else { return }
            let x = Tensor.concat([draw(triggers, allSources), draw(clean, targetIndices)])
            let t = temperatures.map { Tensor([$0], shape: [1, 1], requiresGrad: true) }
            _ = try loop.update {
                let out = classifier.forwardWithActivations(x, hidden: hidden)
                var loss = Loss.crossEntropy(out.logits, labels: Array(repeating: settings.target, count: 2 * half))
                if settings.kappa > 0 {
                    let layers = out.hidden + [out.features]
                    for (h, temperature) in zip(layers, t) {
                        loss = loss - settings.kappa * BaselineLoss.softNearestNeighbour(h, groups: groups, temperature: temperature, epsilon: settings.epsilon)
                    }
                }
                loss.backward()
                return Double(loss.item)
            }
            guard settings.kappa > 0 else { return }
            // The loss holds −κ·SNNL, so ∂SNNL/∂T = −grad/κ; the step on log T is −rate·T·∂SNNL/∂T.
            for (l, temperature) in t.enumerated() {
                let dSNNL = -(temperature.grad?.item ?? 0) / settings.kappa
                let step = max(-1, min(1, -settings.temperatureRate * temperatures[l] * dSNNL))
                temperatures[l] *= Float(exp(Double(step)))
            }
        })
        settings.temperatures = temperatures
        return settings
    }

    /// Each layer's starting temperature: the mean squared distance between the probe's rows.
    static func initialTemperatures(_ classifier: Classifier, _ probe: Tensor, hidden: [Int]) -> [Float] {
        let out = Autograd.inference { classifier.forwardWithActivations(probe, hidden: hidden) }
        return (out.hidden + [out.features]).map { h in
            let x = h.flattened().plain()
            let n = x.shape[0], d = x.shape[1], v = x.scalars
            var sum = 0.0
            for i in 0..<n {
                for j in (i + 1)..<n {
                    var s: Float = 0
                    for c in 0..<d { let e = v[i * d + c] - v[j * d + c]; s += e * e }
                    sum += Double(s)
                }
            }
            return max(Float(sum / Double(n * (n - 1) / 2)), 1e-6)
        }
    }

    /// The trigger's top-left (row, column): the `size`×`size` window where the gradient of
    /// Σ_l SNNL_l with respect to the source images (the probe's first group), summed over
    /// those images, channels and the window, is smallest.
    static func triggerPosition(_ classifier: Classifier, _ probe: Tensor, groups: [Int], hidden: [Int], temperatures: [Float],
                                size: Int, epsilon: Float) -> [Int] {
        let x = probe.copy()
        x.requiresGrad = true
        let out = classifier.forwardWithActivations(x, hidden: hidden)
        var snnl: Tensor?
        for (h, t) in zip(out.hidden + [out.features], temperatures) {
            let term = BaselineLoss.softNearestNeighbour(h, groups: groups, temperature: Tensor([t], shape: [1, 1]), epsilon: epsilon)
            snnl = snnl.map { $0 + term } ?? term
        }
        snnl!.backward()
        for p in classifier.parameters { p.grad = nil }
        let grad = x.grad!.plain().scalars
        let (c, height, width) = (probe.shape[1], probe.shape[2], probe.shape[3])
        var map = [Float](repeating: 0, count: height * width)
        for (i, w) in groups.enumerated() where w == 1 {
            for ch in 0..<c {
                for p in 0..<(height * width) { map[p] += grad[(i * c + ch) * height * width + p] }
            }
        }
        var best = [0, 0], bestValue = Float.infinity
        for y in 0...(height - size) {
            for x in 0...(width - size) {
                var s: Float = 0
                for dy in 0..<size { for dx in 0..<size { s += map[(y + dy) * width + x + dx] } }
                if s < bestValue { bestValue = s; best = [y, x] }
            }
        }
        return best
    }
}
