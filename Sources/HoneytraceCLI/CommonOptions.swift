import ArgumentParser
import Foundation
import Honeytrace
import NeuralNet
import Prediction
import TensorEngine
import Training

/// An `--arch` option names a reference architecture; `graph` belongs to imported models only.
extension Architecture: ExpressibleByArgument {
    public init?(argument: String) {
        guard let a = Architecture(rawValue: argument), Architecture.allCases.contains(a) else { return nil }
        self = a
    }
}
extension AnswerMode: ExpressibleByArgument {}
extension DefenseConfiguration.Score: ExpressibleByArgument {}
extension DefenseConfiguration.FeatureSpace: ExpressibleByArgument {}
extension DefenseConfiguration.Distance: ExpressibleByArgument {}

/// Options every compute-heavy command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Worker threads for GEMM, convolutions and batch loops.") var threads = 2

    /// Most worker threads an option may ask for: the pool starts them all, so a huge count
    /// would exhaust the process before any work.
    static let maxThreads = 256

    func validate() throws {
        guard threads <= Self.maxThreads else { throw ValidationError("--threads must be at most \(Self.maxThreads), found \(threads)") }
    }

    func apply() { Parallel.threadCount = max(1, threads) }
}

/// Prints a value as pretty JSON on standard output.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Percent with one decimal, e.g. "91.7 %".
func percent(_ x: Double) -> String { String(format: "%.2f %%", 100 * x) }
