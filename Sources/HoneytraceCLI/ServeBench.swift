import ArgumentParser
import Formats
import Foundation
import HoneytraceServer
import Training

/// `honeytrace bench serve`: the HTTP server under single-image load, at several concurrency levels.
struct ServeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Requests/s, p50/p99 latency, errors and memory of the defended HTTP API under single-image load.",
        discussion: """
        Starts the server on loopback in this process and drives it with AsyncHTTPClient, one concurrency level after \
        another. Prints `ours serve c<N> requests_per_s|p50_ms|p99_ms|errors|rss_end_mib <value>` lines, then a table. \
        Server and load generator share the cores, so the figures are a lower bound for the server alone.
        """)

    @Option(help: "Model directory (default: a fresh fmnist-cnn with a key made on the test set).") var model: String?
    @Option(help: "Watermark key for --model.") var key: String?
    @Flag(help: "Serve the bare model (to measure the defense's share).") var undefended = false
    @Option(help: "Concurrency levels, comma separated.") var concurrency = "1,16,64"
    @Option(help: "Seconds measured per level (after a 1-second warm-up).") var seconds = 10.0
    @Option(help: "Request body: json or npy.") var body = "json"
    @Option(help: "Longest batching wait in milliseconds.") var batchWaitMs = 2.0
    @Option(help: "Most images in one forward pass.") var maxBatch = 64
    @Option(help: "Engine threads per forward pass (default: all cores).") var threads: Int?
    @Option(help: "Write the full result as JSON to this file.") var json: String?

    func run() async throws {
        let levels = concurrency.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        // Each level starts that many clients at once: bounded so a typo cannot exhaust the machine.
        guard !levels.isEmpty, levels.allSatisfy({ (1...4096).contains($0 ?? 0) }) else {
            throw ValidationError("--concurrency '\(concurrency)': expected integers in 1…4096 separated by commas")
        }
        guard let format = LoadBenchmarkConfiguration.BodyFormat(rawValue: body) else {
            throw ValidationError("--body '\(body)': expected json or npy")
        }
        // Bounded before the conversions to milli- and microseconds below, which trap on huge values.
        guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must lie in (0, 86400], found \(seconds)") }
        guard batchWaitMs.isFinite, (0...1000).contains(batchWaitMs) else {
            throw ValidationError("--batch-wait-ms must lie in 0…1000, found \(batchWaitMs)")
        }
        let configuration = LoadBenchmarkConfiguration(
            concurrencies: levels.map { $0! }, duration: .milliseconds(Int64(seconds * 1000)),
            batchWait: .microseconds(Int64((batchWaitMs * 1000).rounded())), maxBatch: maxBatch, bodyFormat: format,
            computeThreads: threads)
        let progress: @Sendable (String) -> Void = { ProgressBar.writeError($0 + "\n") }
        let result: LoadBenchmarkResult
        if let model {
            guard undefended || key != nil else { throw ValidationError("--model needs --key KEY (or --undefended)") }
            result = try await LoadBenchmark.run(modelDirectory: model, keyPath: undefended ? nil : key,
                                                 configuration: configuration, progress: progress)
        } else {
            guard !undefended else { throw ValidationError("--undefended needs --model DIR") }
            result = try await LoadBenchmark.run(model: try DefenseBench.freshDefendedModel(), configuration: configuration,
                                                 progress: progress)
        }
        for level in result.levels {
            let c = "c\(level.concurrency)"
            print("ours serve \(c) requests_per_s \(String(format: "%.1f", level.requestsPerSecond))")
            print("ours serve \(c) p50_ms \(String(format: "%.2f", level.latencyP50Ms))")
            print("ours serve \(c) p99_ms \(String(format: "%.2f", level.latencyP99Ms))")
            print("ours serve \(c) errors \(level.errors)")
            print("ours serve \(c) rss_end_mib \(String(format: "%.1f", level.rssEndMiB))")
        }
        print(result.table)
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(result), to: json)
        }
    }
}
