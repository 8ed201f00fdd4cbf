import Foundation
import HoneytraceServer
import XCTest

/// Opt-in load benchmark on a real model (skipped unless HONEYTRACE_SERVE_BENCH is set), until
/// `honeytrace bench serve` exists:
///
///     HONEYTRACE_SERVE_BENCH=MODEL_DIR:KEY_FILE[:SECONDS[:CONCURRENCIES[:WAIT_MS]]] \
///       swift test -c release -Xswiftc -enable-testing --filter LoadBenchmarkRun
///
/// HONEYTRACE_SERVE_BENCH_THREADS=N sets `computeThreads`, HONEYTRACE_SERVE_BENCH_FORMAT=npy the body format;
/// e.g. `runs/victims/fmnist-cnn-s0:runs/keys/fmnist-cnn-s0.htkey:10:1,16,64:2`. Prints the
/// table and the JSON result.
final class LoadBenchmarkRun: XCTestCase {
    func testServeBenchmark() async throws {
        guard let spec = ProcessInfo.processInfo.environment["HONEYTRACE_SERVE_BENCH"], !spec.isEmpty else { return }
        let parts = spec.split(separator: ":").map(String.init)
        guard parts.count >= 2 else { return XCTFail("HONEYTRACE_SERVE_BENCH=MODEL_DIR:KEY_FILE[:SECONDS[:C1,C2,…[:WAIT_MS]]]") }
        var config = LoadBenchmarkConfiguration()
        if parts.count > 2, let s = Double(parts[2]) { config.duration = .milliseconds(Int(s * 1000)) }
        if parts.count > 3 { config.concurrencies = parts[3].split(separator: ",").compactMap { Int($0) } }
        if parts.count > 4, let w = Double(parts[4]) { config.batchWait = .microseconds(Int(w * 1000)) }
        if let t = ProcessInfo.processInfo.environment["HONEYTRACE_SERVE_BENCH_THREADS"].flatMap({ Int($0) }) { config.computeThreads = t }
        if let format = ProcessInfo.processInfo.environment["HONEYTRACE_SERVE_BENCH_FORMAT"],
           let f = LoadBenchmarkConfiguration.BodyFormat(rawValue: format) { config.bodyFormat = f }
        let result = try await LoadBenchmark.run(modelDirectory: parts[0], keyPath: parts[1], configuration: config) { print("bench: \($0)") }
        print(result.table)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
    }
}
