import Foundation
import Testing
import NeuralNet
import TensorEngine
@testable import Diffusion

@Suite("DDPM noise schedule, time embedding and sampler")
struct NoiseScheduleTests {
    @Test("β and ᾱ of the linear schedule against hand-computed values")
    func handValues() throws {
        let s = try NoiseSchedule()
        #expect(s.betas.count == 1_000)
        #expect(abs(s.betas[0] - 1e-4) < 1e-15 && abs(s.betas[999] - 0.02) < 1e-15)
        #expect(abs(s.betas[1] - (1e-4 + 0.0199 / 999)) < 1e-15)
        #expect(abs(s.alphaBars[0] - 0.9999) < 1e-12)
        #expect(abs(s.alphaBars[1] - 0.9999 * (1 - 0.00011991991991991993)) < 1e-12)
        // numpy: cumprod(1 − linspace(1e-4, 0.02, 1000))[[100, 999]]
        #expect(abs(s.alphaBars[100] - 0.8951415908975365) < 1e-9)
        #expect(abs(s.alphaBars[999] - 4.035829765375676e-05) < 1e-9)
        #expect(throws: DiffusionError.self) { try NoiseSchedule(steps: 1) }
        #expect(throws: DiffusionError.self) { try NoiseSchedule(betaFirst: 0.1, betaLast: 0.01) }
    }

    @Test("x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε, row by row")
    func noising() throws {
        let s = try NoiseSchedule()
        let x0 = Tensor([1, 1, 0, 0], shape: [2, 2]), eps = Tensor([0, 0, 1, 1], shape: [2, 2])
        let x = s.noised(x0, noise: eps, timesteps: [100, 999]).scalars
        #expect(abs(Double(x[0]) - 0.8951415908975365.squareRoot()) < 1e-6)
        #expect(abs(Double(x[3]) - (1 - 4.035829765375676e-05).squareRoot()) < 1e-6)
    }

    @Test("sinusoidal embedding: sin then cos of t·10000^(−i/(d/2))")
    func embedding() {
        let e = TimeEmbedding.sinusoidal([0, 1], dimension: 4).scalars
        let expected: [Float] = [0, 0, 1, 1, 0.8414709848078965, 0.009999833334166664, 0.5403023058681398, 0.9999500004166653]
        for (a, b) in zip(e, expected) { #expect(abs(a - b) < 1e-6) }
    }

    @Test("ancestral sampling is seeded and stays in [−1, 1]; the counter holds the budget")
    func samplerAndCounter() throws {
        let s = try NoiseSchedule(steps: 6)
        let api = UNetNoiseAPI(model: NoiseUNet(width: 2, seed: 1))
        let a = try AncestralSampler.sample(api, schedule: s, count: 2, imageShape: [1, 8, 8], seed: 5)
        let b = try AncestralSampler.sample(api, schedule: s, count: 2, imageShape: [1, 8, 8], seed: 5)
        let c = try AncestralSampler.sample(api, schedule: s, count: 2, imageShape: [1, 8, 8], seed: 6)
        #expect(a.scalars == b.scalars && a.scalars != c.scalars)
        #expect(a.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        let counted = CountedNoiseAPI(api, budget: 3)
        _ = try counted.predictNoise(Tensor.zeros([2, 1, 8, 8]), timesteps: [0, 1])
        #expect(counted.queries == 2)
        #expect(throws: DiffusionError.self) { try counted.predictNoise(Tensor.zeros([2, 1, 8, 8]), timesteps: [0, 1]) }
        #expect(counted.queries == 2)
    }

    @Test("saved U-Net weights load back only under the settings they were written with")
    func weightsFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("unet-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = NoiseUNet(width: 2, seed: 1), b = NoiseUNet(width: 2, seed: 2)
        try UNetFile.write(a, settings: "recipe 1", to: path)
        #expect(try !UNetFile.load(into: b, settings: "recipe 2", from: path))
        #expect(try UNetFile.load(into: b, settings: "recipe 1", from: path))
        let x = Tensor.full([1, 1, 8, 8], value: 0.3)
        #expect(Autograd.inference { a(x, timesteps: [3]).scalars == b(x, timesteps: [3]).scalars })
    }

    @Test("training is seeded and lowers the loss on a fixed target")
    func training() throws {
        func run() throws -> ([Float], [Float]) {
            let m = NoiseUNet(width: 2, seed: 3)
            let target = Tensor.full([4, 1, 8, 8], value: 0.5), x = Tensor.full([4, 1, 8, 8], value: -0.2)
            let losses = try DenoiserTraining(steps: 60, batchSize: 4, learningRate: 1e-2, seed: 1).fit(m, reportEvery: 20) { _, _ in
                (x, [1, 2, 3, 4], target)
            }
            return (losses, m.parameters[0].scalars)
        }
        let (l1, w1) = try run(), (l2, w2) = try run()
        #expect(l1 == l2 && w1 == w2)
        #expect(l1.last! < l1.first! / 2)
    }
}
