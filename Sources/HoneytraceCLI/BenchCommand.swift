import ArgumentParser
import NeuralNet
import TensorEngine

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print `ours <name> <figure> <value>` lines, comparable with bench/peer_torch.py.",
        subcommands: [EngineBench.self, DefenseBench.self, ServeBench.self]
    )
}

struct EngineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Training and inference throughput of the reference architectures (peer_torch.py's protocol)."
    )

    @Option(help: "Worker threads.") var threads = 2
    @Option(help: "Batch size.") var batch = 128
    @Option(help: "Timed steps after 3 warm-up steps.") var steps = 20
    @Option(name: .customLong("arch"), help: "Architecture (repeatable); default all three.")
    var architectures: [String] = []

    func validate() throws {
        guard (1...ComputeOptions.maxThreads).contains(threads) else {
            throw ValidationError("--threads must lie in 1…\(ComputeOptions.maxThreads), found \(threads)")
        }
        // Batch tensors are allocated whole and the steps counted with the warm-up: both bounded.
        guard (1...4096).contains(batch) else { throw ValidationError("--batch must lie in 1…4096, found \(batch)") }
        guard (1...1_000_000).contains(steps) else { throw ValidationError("--steps must lie in 1…1000000, found \(steps)") }
    }

    func run() throws {
        Parallel.threadCount = threads
        let archs = try (architectures.isEmpty ? Architecture.allCases.map(\.rawValue) : architectures).map { name in
            guard let a = Architecture(rawValue: name) else {
                throw ValidationError("unknown architecture '\(name)'; expected one of \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return a
        }
        for arch in archs {
            let r = EngineBenchmark.run(arch, batch: batch, steps: steps)
            print("ours \(arch.rawValue) train \(String(format1: r.trainImagesPerSecond))")
            print("ours \(arch.rawValue) infer \(String(format1: r.inferImagesPerSecond))")
        }
        print("ours all rss_mib \(Int(EngineBenchmark.peakResidentMiB().rounded()))")
    }
}

extension String {
    /// One decimal place, like Python's `:.1f`.
    init(format1 value: Double) {
        let scaled = (value * 10).rounded()
        self = "\(Int(scaled) / 10).\(abs(Int(scaled) % 10))"
    }
}
