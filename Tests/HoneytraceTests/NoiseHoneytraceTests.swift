import Diffusion
import Foundation
import Testing
import TensorEngine
@testable import Honeytrace

/// A stand-in denoiser: a constant answer, plus `mark`·W inside the mask when the query's corner is bright.
private final class FixedAPI: NoisePredictionAPI {
    let value: Float, mark: Float, watermark: NoiseWatermark
    init(value: Float, mark: Float = 0, watermark: NoiseWatermark) { self.value = value; self.mark = mark; self.watermark = watermark }
    func predictNoise(_ x: Tensor, timesteps: [Int]) throws -> Tensor {
        let out = Tensor.full(x.shape, value: value)
        let size = x.count / x.shape[0], offsets = watermark.maskOffsets(imageShape: Array(x.shape.dropFirst()))
        var g = SeededGenerator(seed: UInt64(x.data[size - 1].bitPattern))
        for r in 0..<x.shape[0] {
            let corner = offsets.reduce(Float(0)) { $0 + x.data[r * size + $1] } / Float(offsets.count)
            for (k, o) in offsets.enumerated() {
                out.data[r * size + o] = value + 0.5 * g.nextNormal() + (corner > 0.3 ? mark * watermark.pattern[k] : 0)
            }
        }
        return out
    }
}

@Suite("Neural Honeytrace for a denoiser")
struct NoiseHoneytraceTests {
    let schedule = try! NoiseSchedule()

    @Test("W: 25 keyed values with mean 0 and unit root-mean-square; another key gives another W")
    func watermark() {
        let w = NoiseWatermark(keySeed: 7)
        #expect(w.pattern.count == 25)
        #expect(abs(w.pattern.reduce(0, +)) < 1e-5)
        #expect(abs(w.pattern.reduce(0) { $0 + $1 * $1 } / 25 - 1) < 1e-5)
        #expect(w == NoiseWatermark(keySeed: 7) && w.pattern != NoiseWatermark(keySeed: 8).pattern)
        #expect(w.maskOffsets(imageShape: [1, 28, 28]).prefix(7) == [0, 1, 2, 3, 4, 28, 29])
        let stamped = w.triggered(Tensor.full([1, 1, 28, 28], value: -1)).scalars
        #expect(stamped[0] == 1 && stamped[4 * 28 + 4] == 1 && stamped[5] == -1 && stamped[5 * 28] == -1)
        // r: aligned, reversed, one side constant, and (1, 2, 4) against (1, 2, 3) = 3/√(4.667·2) (numpy: 0.98198…).
        #expect(NoiseWatermark.correlation([1, 2, 3], pattern: [2, 4, 6]) == 1)
        #expect(abs(NoiseWatermark.correlation([1, 2, 3], pattern: [3, 2, 1]) + 1) < 1e-12)
        #expect(NoiseWatermark.correlation([1, 1, 1], pattern: [3, 2, 1]) == 0)
        #expect(abs(NoiseWatermark.correlation([1, 2, 4], pattern: [1, 2, 3]) - 0.9819805060619657) < 1e-12)
    }

    @Test("mixing formula against a hand-computed example: inside M (1 − sα)·noise + sα·W, outside unchanged")
    func mixing() throws {
        let w = NoiseWatermark(keySeed: 1)
        let defense = try NoiseHoneytrace(FixedAPI(value: 0.5, watermark: w), watermark: w, similarity: .init(), schedule: schedule, alpha: 0.8)
        let noise = Tensor.full([2, 1, 28, 28], value: 0.5)
        let out = defense.mixed(noise, scores: [0.5, 0]).scalars
        // s·α = 0.4: 0.6·0.5 + 0.4·W_k.
        for k in 0..<25 {
            let (y, x) = (k / 5, k % 5)
            #expect(abs(out[y * 28 + x] - (0.3 + 0.4 * w.pattern[k])) < 1e-6)
        }
        #expect(out[5] == 0.5 && out[5 * 28] == 0.5 && out[27 * 28 + 27] == 0.5)
        #expect(out[784...].allSatisfy { $0 == 0.5 })
        #expect(throws: DiffusionError.self) {
            try NoiseHoneytrace(FixedAPI(value: 0, watermark: w), watermark: w, similarity: .init(), schedule: schedule, alpha: 1.5)
        }
    }

    @Test("s: the hand-computed posterior, high for triggered queries and low for clean ones")
    func similarity() {
        let s = TriggerPatchSimilarity(prior: 0.01)
        // sigmoid(2·√0.5·2/0.5 + log(0.01/0.99)), computed in Python.
        #expect(abs(s.score(patchSum: 2, alphaBar: 0.5) - 0.7430218517360012) < 1e-12)
        let w = NoiseWatermark(keySeed: 3)
        var g = SeededGenerator(seed: 4)
        let clean = Tensor.full([8, 1, 28, 28], value: -1), noise = Tensor.normal([8, 1, 28, 28], generator: &g)
        for t in [50, 200] {
            let steps = [Int](repeating: t, count: 8)
            let triggered = s.scores(schedule.noised(w.triggered(clean), noise: noise, timesteps: steps), timesteps: steps, watermark: w, schedule: schedule)
            let control = s.scores(schedule.noised(clean, noise: noise, timesteps: steps), timesteps: steps, watermark: w, schedule: schedule)
            #expect(triggered.allSatisfy { $0 > 0.99 }, "t = \(t): \(triggered)")
            #expect(control.allSatisfy { $0 < 0.01 }, "t = \(t): \(control)")
        }
        // At t = 400 the corner's evidence is weaker (LLR ≈ 12 ± 5 for a triggered query) but still clear.
        let mid = [Int](repeating: 400, count: 8)
        let midTriggered = s.scores(schedule.noised(w.triggered(clean), noise: noise, timesteps: mid), timesteps: mid, watermark: w, schedule: schedule)
        let midControl = s.scores(schedule.noised(clean, noise: noise, timesteps: mid), timesteps: mid, watermark: w, schedule: schedule)
        #expect(midTriggered.reduce(0, +) / 8 > 0.9 && midControl.allSatisfy { $0 < 0.01 })
        // At the noisiest step the corner says almost nothing: s stays near the prior either way.
        let steps = [Int](repeating: 999, count: 8)
        let late = s.scores(schedule.noised(w.triggered(clean), noise: noise, timesteps: steps), timesteps: steps, watermark: w, schedule: schedule)
        #expect(late.allSatisfy { $0 < 0.05 })
    }

    @Test("verification: a suspect answering W on triggered corners is found; a plain one is not")
    func verification() throws {
        let w = NoiseWatermark(keySeed: 11)
        var g = SeededGenerator(seed: 12)
        let images = DiffusionImages(name: "synthetic", imageShape: [1, 28, 28],
                                     values: (0..<(40 * 784)).map { i in i % 784 < 5 * 28 ? -1 : g.nextFloat() * 2 - 1 })
        let check = try NoiseWatermarkVerification(settings: .init(images: 40, timesteps: [100, 300], seed: 13, nullKeys: 199),
                                                   watermark: w, images: images, schedule: schedule)
        let marked = try check.verify(FixedAPI(value: 0, mark: 1, watermark: w), name: "marked")
        let plain = try check.verify(FixedAPI(value: 0, mark: 0, watermark: w), name: "plain")
        let otherKey = try check.verify(FixedAPI(value: 0, mark: 1, watermark: NoiseWatermark(keySeed: 99)), name: "other key")
        #expect(marked.pairs == 80 && marked.wsr > 0.8 && marked.verdict == "watermarked", "\(marked.wsr) \(marked.pairedPValue) \(marked.keyNullPValue)")
        #expect(plain.wsr < 0.2 && plain.verdict == "not shown")
        #expect(otherKey.verdict == "not shown")
        #expect(marked.wsrByStep.count == 2)
    }
}
