import Datasets
import NeuralNet
import TensorEngine
import Training

/// Trigger inversion as in Neural Cleanse (Wang et al., S&P 2019): the scan a thief or a third party
/// runs on a model to find a backdoor (a watermark is one). For each class c it looks for the smallest
/// mask m and a pattern p such that x' = (1 − m)·x + m·p is classified c on clean images x. The mask is
/// sigmoid(θ_m), one plane shared by all channels; the pattern (tanh(θ_p) + 1) / 2, inside the pixel
/// range [0, 1]. Adam minimises CE(F(x'), c) + λ·|m|₁ with NC's schedule for λ: ×`lambdaUp` after
/// `patience` epochs in a row at or above the success threshold, ÷`lambdaDown` after `patience` below
/// it. A class a backdoor points to needs a much smaller mask than the others (`AnomalyIndex`).
public struct TriggerInversion: Codable, Sendable, Equatable {
    /// Optimisation epochs per class, each of `epochSteps` mini-batches (λ moves between epochs).
    public var epochs: Int
    public var epochSteps: Int
    public var batchSize: Int
    /// Adam's learning rate (betas 0.5 and 0.9, as NC).
    public var learningRate: Float
    /// λ at the start (NC's init_cost: 1e-3).
    public var initialLambda: Float
    /// The share of stamped images classified c for a mask to count (NC: 0.99).
    public var successThreshold: Double
    /// Epochs in a row at (below) the threshold before λ rises (falls); NC: 5 epochs of a whole data set.
    public var patience: Int
    public var lambdaUp: Float
    public var lambdaDown: Float
    public var seed: UInt64

    public init(epochs: Int = 30, epochSteps: Int = 10, batchSize: Int = 32, learningRate: Float = 0.1, initialLambda: Float = 1e-3,
                successThreshold: Double = 0.99, patience: Int = 2, lambdaUp: Float = 1.5, lambdaDown: Float = 1.8371173,
                seed: UInt64 = 0) {
        self.epochs = epochs; self.epochSteps = epochSteps; self.batchSize = batchSize; self.learningRate = learningRate
        self.initialLambda = initialLambda; self.successThreshold = successThreshold; self.patience = patience
        self.lambdaUp = lambdaUp; self.lambdaDown = lambdaDown; self.seed = seed
    }

    /// Mini-batch steps per class.
    public var steps: Int { epochs * epochSteps }

    public func validate() throws {
        func fail(_ s: String) -> ExtractionError { ExtractionError(.invalidConfiguration, "trigger inversion: \(s)") }
        guard (1...100_000).contains(epochs) else { throw fail("epochs must lie in 1…100000, found \(epochs)") }
        guard (1...100_000).contains(epochSteps) else { throw fail("steps per epoch must lie in 1…100000, found \(epochSteps)") }
        guard (1...4_096).contains(batchSize) else { throw fail("the batch size must lie in 1…4096, found \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite, learningRate < 100 else { throw fail("the learning rate must lie in (0, 100), found \(learningRate)") }
        guard initialLambda > 0, initialLambda.isFinite else { throw fail("the initial λ must be positive, found \(initialLambda)") }
        guard successThreshold > 0, successThreshold <= 1 else { throw fail("the success threshold must lie in (0, 1], found \(successThreshold)") }
        guard patience >= 1 else { throw fail("the patience must be at least 1 epoch, found \(patience)") }
        guard lambdaUp > 1, lambdaUp.isFinite, lambdaDown > 1, lambdaDown.isFinite else {
            throw fail("λ's factors up and down must be finite and above 1, found \(lambdaUp) and \(lambdaDown)")
        }
    }

    /// What the scan keeps of one class.
    public struct ClassTrigger: Codable, Sendable, Equatable {
        public var target: Int
        /// |m|₁ of the smallest mask that reached the success threshold at the end of an epoch (of the
        /// last mask when none did).
        public var maskL1: Double
        /// The share of stamped images classified `target` over that mask's epoch.
        public var attackSuccess: Double
        public var reachedThreshold: Bool
        public var finalLambda: Double
    }

    /// A found trigger: its summary, the mask (H×W) and the pattern (C×H×W).
    public struct Trigger: Sendable {
        public var summary: ClassTrigger
        public var mask: [Float]
        public var pattern: [Float]
    }

    /// The objective on one batch of raw images `[N, C, H, W]`: CE(F(normalise(x + m·(p − x))), target) + λ·Σm,
    /// with m = sigmoid(`maskLogits` `[1, 1, H, W]`) and p = (tanh(`patternLogits` `[1, C, H, W]`) + 1) / 2.
    /// Also returns the logits and |m|₁ = Σm; recorded for `backward` inside `Autograd.recordingGraph`.
    public static func objective(maskLogits: Tensor, patternLogits: Tensor, images: Tensor, target: Int, lambda: Float,
                                 classifier: Classifier, normalization: Normalization) -> (loss: Tensor, logits: Tensor, maskL1: Tensor) {
        let mask = maskLogits.sigmoid()
        let pattern = (patternLogits.tanh() + 1) * 0.5
        let stamped = images + mask * (pattern - images)
        let (scale, shift) = normalization.affine(channels: images.shape[1])
        let logits = classifier(stamped * scale + shift)
        let l1 = mask.sum()
        let ce = Tensor.crossEntropy(logits, labels: Array(repeating: target, count: images.shape[0]))
        return (ce + l1 * lambda, logits, l1)
    }

    /// Every class's smallest trigger for `classifier` on the clean `images`, class by class; `progress`
    /// hears after each class. The classifier is left in evaluation mode, its parameters untouched.
    public func scan(_ classifier: Classifier, normalization: Normalization, images: ImageDataset,
                     progress: ((Int) -> Void)? = nil) throws -> [Trigger] {
        try (0..<classifier.classes).map { c in
            let trigger = try invert(classifier, normalization: normalization, images: images, target: c)
            progress?(c + 1)
            return trigger
        }
    }

    /// The smallest trigger that turns `images` into class `target`.
    public func invert(_ classifier: Classifier, normalization: Normalization, images: ImageDataset, target: Int) throws -> Trigger {
        try validate()
        guard !images.isEmpty else { throw ExtractionError(.missingData, "trigger inversion needs clean images; \(images.name) holds none") }
        guard (0..<classifier.classes).contains(target) else {
            throw ExtractionError(.invalidConfiguration, "trigger inversion: class \(target) is outside 0..<\(classifier.classes)")
        }
        guard normalization.fits(channels: images.channels) else {
            throw ExtractionError(.invalidConfiguration, "trigger inversion: the normalisation does not fit \(images.channels)-channel images")
        }
        classifier.eval()
        let parameters = classifier.parameters
        let saved = parameters.map(\.requiresGrad)
        for p in parameters { p.requiresGrad = false }
        defer { for (p, r) in zip(parameters, saved) { p.requiresGrad = r } }

        let (c, h, w) = (images.channels, images.height, images.width)
        var generator = SeededGenerator(seed: SeedMixing.mix(seed, UInt64(target)))
        let maskLogits = Tensor((0..<(h * w)).map { _ in generator.nextNormal() }, shape: [1, 1, h, w])
        let patternLogits = Tensor((0..<(c * h * w)).map { _ in generator.nextNormal() }, shape: [1, c, h, w])
        maskLogits.requiresGrad = true
        patternLogits.requiresGrad = true
        let optimizer = Adam([maskLogits, patternLogits], learningRate: learningRate, beta1: 0.5, beta2: 0.9)

        var order: [Int] = [], next = 0
        func batch() -> [Int] {
            (0..<min(batchSize, images.count)).map { _ in
                if next == order.count {
                    order = Array(0..<images.count)
                    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, generator.nextInt(below: i + 1)) }
                    next = 0
                }
                next += 1
                return order[next - 1]
            }
        }

        var lambda = initialLambda
        var best: Trigger?
        var above = 0, below = 0
        var last = ClassTrigger(target: target, maskL1: 0, attackSuccess: 0, reachedThreshold: false, finalLambda: 0)
        for _ in 0..<epochs {
            var hits = 0, seen = 0
            for _ in 0..<epochSteps {
                let x = images.batchTensor(batch()).images
                let (loss, logits, _) = Autograd.recordingGraph {
                    Self.objective(maskLogits: maskLogits, patternLogits: patternLogits, images: x, target: target, lambda: lambda,
                                   classifier: classifier, normalization: normalization)
                }
                optimizer.zeroGrad()
                loss.backward()
                for t in [maskLogits, patternLogits] {
                    if let g = t.grad, g.layout != .plain { t.grad = Autograd.inference { g.plain() } }
                }
                optimizer.step()
                let predicted = Autograd.inference { logits.argmax(axis: 1) }
                hits += predicted.filter { $0 == target }.count
                seen += predicted.count
            }
            let success = Double(hits) / Double(seen)
            let mask = Autograd.inference { maskLogits.sigmoid() }.scalars
            let l1 = mask.reduce(0.0) { $0 + Double($1) }
            last = ClassTrigger(target: target, maskL1: l1, attackSuccess: success, reachedThreshold: success >= successThreshold,
                                finalLambda: Double(lambda))
            if success >= successThreshold, l1 < best?.summary.maskL1 ?? .infinity {
                let pattern = Autograd.inference { (patternLogits.tanh() + 1) * 0.5 }.scalars
                best = Trigger(summary: last, mask: mask, pattern: pattern)
            }
            if success >= successThreshold { above += 1; below = 0 } else { below += 1; above = 0 }
            if above >= patience { above = 0; lambda *= lambdaUp } else if below >= patience { below = 0; lambda /= lambdaDown }
        }
        if var found = best {
            found.summary.finalLambda = Double(lambda)
            return found
        }
        last.finalLambda = Double(lambda)
        return Trigger(summary: last, mask: Autograd.inference { maskLogits.sigmoid() }.scalars,
                       pattern: Autograd.inference { (patternLogits.tanh() + 1) * 0.5 }.scalars)
    }
}
