import Datasets
import TensorEngine
import Training

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The defense's cost next to the model's (docs/algorithms.md §7 "defense overhead"; target ≤ 5 % at batch 256).
public struct DefenseBenchmarkResult: Codable, Sendable, Equatable {
    public var batchSize: Int
    public var iterations: Int
    /// Median seconds of the bare forward pass per batch.
    public var forwardSeconds: Double
    /// Median seconds of the defense per batch (on that forward pass's outputs).
    public var defenseSeconds: Double
    /// 100 · defense / forward: the defended API's extra time per batch, in percent.
    public var overheadPercent: Double
    /// Rows per batch the defense touched (mixed), on average, so the figure can be read in context.
    public var fractionMixed: Double
}

/// Times defended against bare inference.
public enum DefenseBenchmark {
    /// Runs `iterations` (after `warmup`) batches of `batchSize` images through the model, timing
    /// the forward pass and the defense separately in each iteration; reports the medians. The
    /// defended API costs forward + defense, so the overhead is their ratio (more stable than the
    /// difference of two separately measured totals).
    ///
    /// - Parameter images: where the batches come from (cycled); nil: uniform noise from `seed`,
    ///   which is far from the data and so makes the defense do its most expensive work (every
    ///   touched row needs an HMAC).
    public static func measure(model: TrainedModel, defense: HoneytraceDefense, batchSize: Int, iterations: Int = 20,
                               warmup: Int = 3, images: ImageDataset? = nil, seed: UInt64 = 0) throws -> DefenseBenchmarkResult {
        guard batchSize >= 1, iterations >= 1, warmup >= 0 else {
            throw HoneytraceError(.invalidArgument, "batch size and iterations must be positive, warm-up non-negative")
        }
        let size = model.inputSize
        var pixels = [Float](repeating: 0, count: batchSize * size)
        if let images, !images.isEmpty {
            guard images.imageShape == model.inputShape else {
                throw HoneytraceError(.invalidArgument, "\(images.name) has images of shape \(images.imageShape), the model takes \(model.inputShape)")
            }
            for i in 0..<batchSize {
                let src = (i % images.count) * size
                for j in 0..<size { pixels[i * size + j] = images.pixels[src + j] }
            }
        } else {
            var g = SeededGenerator(seed: seed)
            for i in pixels.indices { pixels[i] = g.nextFloat() }
        }
        let x = Tensor(pixels, shape: [batchSize] + model.inputShape)
        var forward: [Double] = [], defenseTimes: [Double] = []
        var mixed = 0
        for i in 0..<(warmup + iterations) {
            let t0 = now()
            let out = model.forward(pixels: x)
            let t1 = now()
            let d = try defense.defend(pixels: x, logits: out.logits, features: out.features)
            let t2 = now()
            if i >= warmup {
                forward.append(t1 - t0)
                defenseTimes.append(t2 - t1)
                mixed += d.mixedCount
            }
        }
        let f = median(forward), d = median(defenseTimes)
        return DefenseBenchmarkResult(batchSize: batchSize, iterations: iterations, forwardSeconds: f, defenseSeconds: d,
                                      overheadPercent: 100 * d / max(f, 1e-12),
                                      fractionMixed: Double(mixed) / Double(iterations * batchSize))
    }

    private static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
