import NeuralNet
import TensorEngine

/// D-DAE's recovery network (docs/algorithms.md §5): K → 128 → 64 → K, each linear layer followed by batch
/// normalisation and LeakyReLU(0.2), then a softmax, so it maps a perturbed answer row to a
/// probability row (the reference's `Recover_NN`). Batch normalisation runs on `[N, C]` input
/// through the engine's batch norm (the 2-D case of `BatchNorm2d`).
public final class RecoveryMLP: Module, @unchecked Sendable {
    public let fc1: Linear, bn1: BatchNorm2d
    public let fc2: Linear, bn2: BatchNorm2d
    public let fc3: Linear, bn3: BatchNorm2d
    public let classes: Int
    /// Negative slope of the LeakyReLUs.
    public let slope: Float = 0.2

    public init(classes: Int, hidden: (Int, Int) = (128, 64), seed: UInt64) {
        precondition(classes >= 1 && hidden.0 >= 1 && hidden.1 >= 1, "recovery MLP needs positive widths")
        var g = SeededGenerator(seed: seed)
        self.classes = classes
        fc1 = Linear(classes, hidden.0, generator: &g); bn1 = BatchNorm2d(hidden.0)
        fc2 = Linear(hidden.0, hidden.1, generator: &g); bn2 = BatchNorm2d(hidden.1)
        fc3 = Linear(hidden.1, classes, generator: &g); bn3 = BatchNorm2d(classes)
        super.init()
    }

    /// Probability rows `[N, K]` for answer rows `[N, K]`.
    public override func callAsFunction(_ x: Tensor) -> Tensor { logits(x).softmax() }

    /// The pre-softmax output.
    public func logits(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == classes, "recovery MLP takes [N, \(classes)], got \(x.shape)")
        var h = bn1(fc1(x)).leakyRelu(slope)
        h = bn2(fc2(h)).leakyRelu(slope)
        return bn3(fc3(h)).leakyRelu(slope)
    }

    public override var children: [(String, Module)] {
        [("fc1", fc1), ("fc2", fc2), ("fc3", fc3), ("bn1", bn1), ("bn2", bn2), ("bn3", bn3)]
    }

    /// Recovered rows for answer rows (evaluation mode, batches of `batchSize`).
    public func recover(_ rows: [[Float]], batchSize: Int = 1024) -> [[Float]] {
        eval()
        var out: [[Float]] = []
        out.reserveCapacity(rows.count)
        for start in stride(from: 0, to: rows.count, by: max(batchSize, 1)) {
            let part = rows[start..<min(start + max(batchSize, 1), rows.count)]
            let x = Tensor(part.flatMap { $0 }, shape: [part.count, classes])
            let p = Autograd.inference { self(x) }.scalars
            for r in 0..<part.count { out.append(Array(p[(r * classes)..<((r + 1) * classes)])) }
        }
        return out
    }

    /// Training settings of the recovery network (the reference: SGD, momentum 0.9, weight
    /// decay 1e-4, learning rate halved halfway; loss K·mean-L1).
    public struct Training: Codable, Sendable, Equatable {
        public var epochs: Int
        public var batchSize: Int
        public var learningRate: Float

        public init(epochs: Int = 30, batchSize: Int = 256, learningRate: Float = 0.01) {
            self.epochs = epochs
            self.batchSize = batchSize
            self.learningRate = learningRate
        }

        public func validate() throws {
            guard epochs >= 1, batchSize >= 2, learningRate > 0, learningRate.isFinite else {
                throw ExtractionError(.invalidConfiguration,
                                      "recovery MLP training needs epochs ≥ 1, batch size ≥ 2 and a positive learning rate; found \(epochs), \(batchSize), \(learningRate)")
            }
        }
    }

    /// Fits perturbed → clean with loss K·mean|f(perturbed) − clean|; returns the last epoch's mean loss.
    @discardableResult
    public func fit(perturbed: [[Float]], clean: [[Float]], training: Training, seed: UInt64) throws -> Double {
        try training.validate()
        guard perturbed.count == clean.count, perturbed.count >= 2 else {
            throw ExtractionError(.invalidConfiguration, "recovery training needs ≥ 2 matching pairs, found \(perturbed.count) perturbed and \(clean.count) clean rows")
        }
        if perturbed.contains(where: { $0.count != classes }) || clean.contains(where: { $0.count != classes }) {
            throw ExtractionError(.invalidConfiguration, "recovery training rows must have \(classes) values")
        }
        let n = perturbed.count, k = classes
        let xs = perturbed.flatMap { $0 }, ys = clean.flatMap { $0 }
        let optimizer = SGD(parameters, learningRate: training.learningRate, momentum: 0.9, weightDecay: 1e-4)
        let schedule = LearningRateSchedule.step(stepSize: max(training.epochs / 2, 1), gamma: 0.5)
        var g = SeededGenerator(seed: seed)
        var order = Array(0..<n)
        var lastLoss = 0.0
        for epoch in 0..<training.epochs {
            train()
            optimizer.learningRate = schedule.rate(base: training.learningRate, epoch: epoch)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, g.nextInt(below: i + 1)) }
            var total = 0.0, batches = 0
            // Batches of one row cannot be batch-normalised: a trailing single row joins no batch.
            for start in stride(from: 0, to: n, by: training.batchSize) where min(start + training.batchSize, n) - start >= 2 {
                let idx = order[start..<min(start + training.batchSize, n)]
                var bx = [Float](), by = [Float]()
                bx.reserveCapacity(idx.count * k); by.reserveCapacity(idx.count * k)
                for i in idx {
                    bx += xs[(i * k)..<((i + 1) * k)]
                    by += ys[(i * k)..<((i + 1) * k)]
                }
                optimizer.zeroGrad()
                let out = self(Tensor(bx, shape: [idx.count, k]))
                let loss = Loss.l1(out, Tensor(by, shape: [idx.count, k])) * Float(k)
                loss.backward()
                optimizer.step()
                guard loss.item.isFinite else {
                    throw ExtractionError(.invalidConfiguration, "recovery MLP loss became \(loss.item) at epoch \(epoch + 1); lower the learning rate")
                }
                total += Double(loss.item)
                batches += 1
            }
            lastLoss = total / Double(max(batches, 1))
        }
        eval()
        return lastLoss
    }
}
