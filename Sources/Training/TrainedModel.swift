import Datasets
import NeuralNet
import TensorEngine

/// A classifier with the manifest that says how to feed it: the unit everything above the
/// training layer works with (the defense, attacks, verification, the server).
public final class TrainedModel: @unchecked Sendable {
    public let classifier: Classifier
    public var manifest: ModelManifest

    public init(classifier: Classifier, manifest: ModelManifest) {
        self.classifier = classifier
        self.manifest = manifest
    }

    public var classes: Int { manifest.classes }
    /// `[C, H, W]`.
    public var inputShape: [Int] { manifest.inputShape }
    /// Values per image.
    public var inputSize: Int { manifest.inputShape.reduce(1, *) }
    /// Width of the penultimate features.
    public var featureWidth: Int { classifier.featureWidth }

    /// Checks that a batch of raw images has this model's input shape.
    public func checkInput(_ pixels: Tensor) throws {
        guard pixels.rank == 4, Array(pixels.shape.dropFirst()) == inputShape else {
            throw TrainingError("input has shape \(pixels.shape), the model expects [N, \(inputShape.map(String.init).joined(separator: ", "))]")
        }
    }

    /// The normalised copy of raw [0, 1] images `[B, C, H, W]`.
    public func normalized(_ pixels: Tensor) -> Tensor { manifest.normalization.normalized(pixels) }

    /// Logits and penultimate features of raw [0, 1] images, in eval mode, recording nothing.
    public func forward(pixels: Tensor) -> (logits: Tensor, features: Tensor) {
        precondition(Array(pixels.shape.dropFirst()) == inputShape, "input \(pixels.shape) does not fit \(inputShape)")
        classifier.eval()
        return Autograd.inference { classifier.forwardWithFeatures(normalized(pixels)) }
    }

    /// Logits and features of every image of `dataset`, in order, as `[N, K]` and `[N, F]` row-major arrays.
    public func outputs(_ dataset: ImageDataset, batchSize: Int = 256) -> (logits: [Float], features: [Float]) {
        var logits = [Float](repeating: 0, count: dataset.count * classes)
        var features = [Float](repeating: 0, count: dataset.count * featureWidth)
        for start in stride(from: 0, to: dataset.count, by: max(1, batchSize)) {
            let (x, _) = dataset.batchTensor(Array(start..<min(start + max(1, batchSize), dataset.count)))
            store(forward(pixels: x), at: start, logits: &logits, features: &features)
        }
        return (logits, features)
    }

    /// Logits and features of `count` raw [0, 1] images stored back to back (C×H×W each) in
    /// `pixels`, in batches, as `[count, K]` and `[count, F]` row-major arrays.
    public func outputs(pixels: [Float], count: Int, batchSize: Int = 256) -> (logits: [Float], features: [Float]) {
        let size = inputSize
        precondition(pixels.count == count * size, "\(pixels.count) values are not \(count) images of \(inputShape)")
        var logits = [Float](repeating: 0, count: count * classes)
        var features = [Float](repeating: 0, count: count * featureWidth)
        for start in stride(from: 0, to: count, by: max(1, batchSize)) {
            let n = min(max(1, batchSize), count - start)
            let x = Tensor(uninitialized: [n] + inputShape)
            pixels.withUnsafeBufferPointer { x.data.update(from: $0.baseAddress! + start * size, count: n * size) }
            store(forward(pixels: x), at: start, logits: &logits, features: &features)
        }
        return (logits, features)
    }

    /// Copies one batch's logits and features into rows `start…` of the output arrays.
    private func store(_ out: (logits: Tensor, features: Tensor), at start: Int, logits: inout [Float], features: inout [Float]) {
        let l = out.logits.layout == .plain ? out.logits : out.logits.plain()
        let h = out.features.layout == .plain ? out.features : out.features.plain()
        let n = l.shape[0], k = classes, f = featureWidth
        logits.withUnsafeMutableBufferPointer { ($0.baseAddress! + start * k).update(from: l.data, count: n * k) }
        features.withUnsafeMutableBufferPointer { ($0.baseAddress! + start * f).update(from: h.data, count: n * f) }
    }

    /// Top-1 predictions for every image of `dataset`.
    public func predictions(_ dataset: ImageDataset, batchSize: Int = 256) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(dataset.count)
        for start in stride(from: 0, to: dataset.count, by: batchSize) {
            let idx = Array(start..<min(start + batchSize, dataset.count))
            result += forward(pixels: dataset.batchTensor(idx).images).logits.argmax(axis: 1)
        }
        return result
    }

    /// Accuracy, per-class accuracy and confusion matrix on a labelled dataset.
    public func evaluate(_ dataset: ImageDataset, batchSize: Int = 256) throws -> Evaluation {
        guard dataset.imageShape == inputShape else {
            throw TrainingError("\(dataset.name) has images of shape \(dataset.imageShape), the model expects \(inputShape)")
        }
        guard dataset.classCount <= classes else {
            throw TrainingError("\(dataset.name) has \(dataset.classCount) classes, the model has \(classes)")
        }
        return Evaluation(predictions: predictions(dataset, batchSize: batchSize), labels: dataset.labels, classes: classes)
    }
}
