import Datasets
import Diffusion
import NeuralNet
import TensorEngine

/// Model extraction against a denoiser API (the attack of the Neural Honeytrace paper's appendix
/// A.1): the thief noises its own images to random steps, asks the API for the predicted noise of
/// each (x_t, t), and trains its own U-Net to reproduce the answers with the mean squared error.
/// The queries are drawn once from the seed, so thieves of two APIs ask exactly the same questions
/// and differ only in the answers.
public struct DenoiserExtraction: Sendable {
    public struct Settings: Codable, Sendable, Equatable {
        /// Query rows the thief may send (and sends).
        public var queries: Int
        /// Width of the thief's U-Net.
        public var width: Int
        public var training: DenoiserTraining
        /// Seed of the queries (images, steps, noise) and of the thief's U-Net's initialisation.
        public var seed: UInt64

        public init(queries: Int, width: Int, training: DenoiserTraining, seed: UInt64) {
            self.queries = queries; self.width = width; self.training = training; self.seed = seed
        }
    }

    /// The thief's questions: noisy images and their steps.
    public struct Queries: Sendable {
        public let x: Tensor
        public let timesteps: [Int]
    }

    /// A stolen copy and what it cost.
    public struct Copy {
        public let model: NoiseUNet
        public let queries: Int
        public let losses: [Float]
    }

    public let settings: Settings
    public let schedule: NoiseSchedule

    public init(settings: Settings, schedule: NoiseSchedule) throws {
        guard settings.queries >= 1 else { throw DiffusionError("the thief needs at least one query, found \(settings.queries)") }
        guard settings.width >= 1 else { throw DiffusionError("the thief's U-Net needs a width ≥ 1, found \(settings.width)") }
        try settings.training.validate()
        self.settings = settings; self.schedule = schedule
    }

    /// The `settings.queries` questions built from `images`: a random image, a uniform step, fresh noise each.
    public func queries(from images: DiffusionImages) -> Queries {
        var g = SeededGenerator(seed: settings.seed)
        let b = images.denoisingBatch(settings.queries, schedule: schedule, generator: &g)
        return Queries(x: b.x, timesteps: b.timesteps)
    }

    /// Asks `api` every question (through a counter holding the budget, in batches of 256) and
    /// trains a fresh U-Net on the answers; `progress` sees (step, loss) during training.
    public func steal(from api: NoisePredictionAPI, queries q: Queries, progress: (Int, Float) -> Void = { _, _ in }) throws -> Copy {
        let counted = CountedNoiseAPI(api, budget: settings.queries)
        let n = q.timesteps.count
        var parts: [Tensor] = []
        for start in stride(from: 0, to: n, by: 256) {
            let end = min(n, start + 256)
            parts.append(try counted.predictNoise(q.x.slice(start..<end), timesteps: Array(q.timesteps[start..<end])))
        }
        let answers = Tensor.concat(parts, axis: 0)
        let model = NoiseUNet(width: settings.width, imageChannels: q.x.shape[1], seed: SeedMixing.mix(settings.seed, 1))
        let losses = try settings.training.fit(model, batch: { size, g in
            let rows = (0..<size).map { _ in g.nextInt(below: n) }
            return (q.x.rows(rows), rows.map { q.timesteps[$0] }, answers.rows(rows))
        }, progress: progress)
        return Copy(model: model, queries: counted.queries, losses: losses)
    }
}
