import TensorEngine
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The engine benchmark, step for step the protocol of bench/peer_torch.py: batch 128,
/// input 1×28×28, SGD (lr 0.01, momentum 0.9) on cross-entropy, 3 warm-up steps then `steps`
/// timed ones, for training and for inference.
public enum EngineBenchmark {
    public struct Result: Sendable {
        public let architecture: Architecture
        public let trainImagesPerSecond: Double
        public let inferImagesPerSecond: Double
    }

    public static func run(_ architecture: Architecture, batch: Int = 128, steps: Int = 20, warmup: Int = 3, seed: UInt64 = 0) -> Result {
        let model = architecture.build(seed: seed)
        var g = SeededGenerator(seed: seed &+ 1)
        let x = Tensor.normal([batch, 1, 28, 28], generator: &g)
        let labels = (0..<batch).map { _ in g.nextInt(below: 10) }
        let opt = SGD(model.parameters, learningRate: 0.01, momentum: 0.9)
        model.train()
        var start = 0.0
        for step in 0..<(steps + warmup) {
            if step == warmup { start = now() }
            opt.zeroGrad()
            Loss.crossEntropy(model(x), labels: labels).backward()
            opt.step()
        }
        let train = Double(steps * batch) / (now() - start)
        model.eval()
        let infer: Double = Autograd.inference {
            var t0 = 0.0
            for step in 0..<(steps + warmup) {
                if step == warmup { t0 = now() }
                _ = model(x)
            }
            return Double(steps * batch) / (now() - t0)
        }
        return Result(architecture: architecture, trainImagesPerSecond: train, inferImagesPerSecond: infer)
    }

    /// Peak resident set size of this process in MiB.
    public static func peakResidentMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF_ARGUMENT, &usage)
        #if os(Linux)
        return Double(usage.ru_maxrss) / 1024          // kilobytes on Linux
        #else
        return Double(usage.ru_maxrss) / 1024 / 1024   // bytes on macOS
        #endif
    }

    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

#if os(Linux)
private let RUSAGE_SELF_ARGUMENT = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
private let RUSAGE_SELF_ARGUMENT = RUSAGE_SELF
#endif
