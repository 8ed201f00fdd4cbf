import NeuralNet
import TensorEngine

/// Training a noise predictor by regression: at each step a batch (x_t, t, target) and the mean
/// squared error of the U-Net's output to the target, minimised with Adam whose rate falls from
/// `learningRate` to `minimumLearningRate` on a cosine over the steps. For the owner the target is
/// the true noise ε (DDPM's loss); for a thief it is the API's answer.
public struct DenoiserTraining: Codable, Sendable, Equatable {
    public var steps: Int
    public var batchSize: Int
    public var learningRate: Float
    public var minimumLearningRate: Float
    /// Seed of the batches (images, steps, noise).
    public var seed: UInt64

    public init(steps: Int, batchSize: Int = 64, learningRate: Float = 1e-3, minimumLearningRate: Float = 1e-4, seed: UInt64) {
        self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate
        self.minimumLearningRate = minimumLearningRate; self.seed = seed
    }

    public func validate() throws {
        guard steps >= 1 else { throw DiffusionError("training needs at least one step, found \(steps)") }
        guard (1...4_096).contains(batchSize) else { throw DiffusionError("the batch size must lie in 1…4096, found \(batchSize)") }
        guard learningRate > 0, learningRate < 1, minimumLearningRate >= 0, minimumLearningRate <= learningRate else {
            throw DiffusionError("learning rates must satisfy 0 ≤ minimum ≤ rate < 1, found \(minimumLearningRate) and \(learningRate)")
        }
    }

    /// Trains `model` in place; `batch` draws one batch from the generator it is given. `progress`
    /// sees (step, mean loss of the steps since its last call) every `reportEvery` steps and at the
    /// end. Returns those mean losses.
    @discardableResult
    public func fit(_ model: NoiseUNet, reportEvery: Int = 100,
                    batch: (Int, inout SeededGenerator) throws -> (x: Tensor, timesteps: [Int], target: Tensor),
                    progress: (Int, Float) -> Void = { _, _ in }) throws -> [Float] {
        try validate()
        var g = SeededGenerator(seed: seed)
        let optimizer = Adam(model.parameters, learningRate: learningRate)
        let schedule = LearningRateSchedule.cosine(epochs: steps, minimum: minimumLearningRate)
        model.train()
        var sum: Float = 0, counted = 0
        var losses: [Float] = []
        for step in 0..<steps {
            optimizer.learningRate = schedule.rate(base: learningRate, epoch: step)
            let b = try batch(batchSize, &g)
            let loss = Loss.mse(model(b.x, timesteps: b.timesteps), b.target)
            guard loss.item.isFinite else { throw DiffusionError("training diverged at step \(step + 1): the loss is \(loss.item)") }
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            sum += loss.item; counted += 1
            if (step + 1) % max(1, reportEvery) == 0 || step + 1 == steps {
                losses.append(sum / Float(counted))
                progress(step + 1, sum / Float(counted))
                sum = 0; counted = 0
            }
        }
        model.eval()
        return losses
    }
}
