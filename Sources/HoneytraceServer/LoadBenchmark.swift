import AsyncHTTPClient
import Formats
import Foundation
import Histogram
import Honeytrace
import Logging
import NIOCore
import NIOHTTP1
import Prediction
import ServiceLifecycle
import TensorEngine
import Training

/// The load benchmark's settings (`honeytrace bench serve`).
public struct LoadBenchmarkConfiguration: Sendable {
    /// Body format of the benchmark's requests.
    public enum BodyFormat: String, Sendable, Codable, CaseIterable {
        case json
        case npy
    }

    /// Concurrent clients, one level after another.
    public var concurrencies: [Int]
    /// How long each level runs (after its warm-up).
    public var duration: Duration
    /// Requests sent before each level's measurement starts (not counted).
    public var warmup: Duration
    /// The server's batching settings.
    public var batchWait: Duration
    public var maxBatch: Int
    /// The server's answer mode; nil = the key's.
    public var answerMode: DefenseConfiguration.AnswerMode?
    /// How requests carry their single image.
    public var bodyFormat: BodyFormat
    /// Distinct images the clients cycle through (uniform noise from `seed`).
    public var distinctImages: Int
    public var seed: UInt64
    /// How often resident memory is sampled during a level.
    public var memorySampleInterval: Duration
    /// The server's `computeThreads` (nil = the engine's default).
    public var computeThreads: Int?
    /// Server log level (warnings by default, so the log does not measure itself).
    public var logLevel: Logger.Level

    public init(concurrencies: [Int] = [1, 16, 64], duration: Duration = .seconds(10), warmup: Duration = .seconds(1),
                batchWait: Duration = .milliseconds(2), maxBatch: Int = 64, answerMode: DefenseConfiguration.AnswerMode? = nil,
                bodyFormat: BodyFormat = .json, distinctImages: Int = 256, seed: UInt64 = 1,
                memorySampleInterval: Duration = .milliseconds(250), computeThreads: Int? = nil, logLevel: Logger.Level = .warning) {
        self.concurrencies = concurrencies
        self.duration = duration
        self.warmup = warmup
        self.batchWait = batchWait
        self.maxBatch = maxBatch
        self.answerMode = answerMode
        self.bodyFormat = bodyFormat
        self.distinctImages = distinctImages
        self.seed = seed
        self.memorySampleInterval = memorySampleInterval
        self.computeThreads = computeThreads
        self.logLevel = logLevel
    }
}

/// What the load benchmark measured.
public struct LoadBenchmarkResult: Codable, Sendable {
    /// One concurrency level.
    public struct Level: Codable, Sendable {
        public var concurrency: Int
        /// Measured seconds (warm-up excluded).
        public var seconds: Double
        /// Requests answered with 200 during the measurement.
        public var requests: Int
        /// Requests that failed (any status but 200, or a transport error).
        public var errors: Int
        /// Up to five distinct error descriptions.
        public var errorSamples: [String]
        public var requestsPerSecond: Double
        /// Latency of successful requests, in milliseconds.
        public var latencyMeanMs: Double
        public var latencyP50Ms: Double
        public var latencyP90Ms: Double
        public var latencyP99Ms: Double
        public var latencyMaxMs: Double
        /// Mean rows per defended forward pass during the level.
        public var meanBatchRows: Double
        /// Resident memory (MiB) when the level started and ended, and its highest sample.
        public var rssStartMiB: Double
        public var rssEndMiB: Double
        public var rssMaxMiB: Double
        /// Resident memory (MiB) once per second through the level: flat means no leak.
        public var rssTimelineMiB: [Double]
    }

    /// The model benchmarked (its directory; "(undefended)" when run without a key).
    public var model: String
    public var answerMode: String
    public var bodyFormat: String
    public var batchWaitMs: Double
    public var maxBatch: Int
    /// The tensor engine's threads per forward pass.
    public var computeThreads: Int
    public var cores: Int
    public var levels: [Level]
    /// Peak resident memory of the whole process (server + load generator), MiB.
    public var peakRSSMiB: Double
    /// ISO 8601 time of the run.
    public var date: String

    /// A plain-text table of the levels.
    public var table: String {
        var lines = [String(format: "%-6@ %10@ %8@ %7@ %8@ %8@ %8@ %8@ %7@ %@", "conc" as NSString, "req/s" as NSString,
                            "requests" as NSString, "errors" as NSString, "p50 ms" as NSString, "p90 ms" as NSString,
                            "p99 ms" as NSString, "max ms" as NSString, "batch" as NSString, "RSS MiB start→end (max)" as NSString)]
        for l in levels {
            lines.append(String(format: "%-6d %10.1f %8d %7d %8.2f %8.2f %8.2f %8.2f %7.1f %.0f→%.0f (%.0f)", l.concurrency,
                                l.requestsPerSecond, l.requests, l.errors, l.latencyP50Ms, l.latencyP90Ms, l.latencyP99Ms, l.latencyMaxMs,
                                l.meanBatchRows, l.rssStartMiB, l.rssEndMiB, l.rssMaxMiB))
        }
        return lines.joined(separator: "\n")
    }
}

/// Drives a Honeytrace server, started in this process on loopback, with single-image
/// requests from AsyncHTTPClient at each concurrency level in turn, and measures throughput,
/// latency (HdrHistogram, successful requests), errors and resident memory.
///
/// The server and the load generator share this process and its cores, so the figures are a
/// lower bound for the server alone on the same machine.
public enum LoadBenchmark {
    /// Benchmarks the model directory `modelDirectory` behind the key at `keyPath` (nil = the
    /// bare model, to measure the defense's share).
    public static func run(modelDirectory: String, keyPath: String?, configuration: LoadBenchmarkConfiguration = .init(),
                           progress: (@Sendable (String) -> Void)? = nil) async throws -> LoadBenchmarkResult {
        let trained: TrainedModel
        do { trained = try ModelDirectory.load(modelDirectory) } catch {
            throw ServerError(file: modelDirectory, .model, "cannot load the model: \(error)")
        }
        guard let keyPath else {
            return try await run(served: .plain(trained), name: modelDirectory + " (undefended)", configuration: configuration,
                                 progress: progress)
        }
        let key: WatermarkKey
        do { key = try WatermarkKey.load(keyPath) } catch {
            throw ServerError(file: keyPath, .model, "cannot load the watermark key: \(error)")
        }
        let defended: DefendedModel
        do { defended = try DefendedModel(model: trained, key: key, name: modelDirectory) } catch {
            throw ServerError(file: keyPath, .model, "\(error)")
        }
        return try await run(model: defended, configuration: configuration, progress: progress)
    }

    /// Benchmarks an in-memory defended model.
    public static func run(model: DefendedModel, configuration: LoadBenchmarkConfiguration = .init(),
                           progress: (@Sendable (String) -> Void)? = nil) async throws -> LoadBenchmarkResult {
        try await run(served: .defended(model), name: model.name, configuration: configuration, progress: progress)
    }

    static func run(served: ServedModel, name: String, configuration c: LoadBenchmarkConfiguration,
                    progress: (@Sendable (String) -> Void)?) async throws -> LoadBenchmarkResult {
        guard !c.concurrencies.isEmpty, c.concurrencies.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else {
            throw ServerError(.invalidConfiguration, "concurrency levels must lie in 1…4096, found \(c.concurrencies)")
        }
        guard c.duration > .zero, c.warmup >= .zero, c.distinctImages >= 1 else {
            throw ServerError(.invalidConfiguration, "the duration must be positive, the warm-up ≥ 0 and at least one image used")
        }
        let dbDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dbDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dbDirectory) }
        let apiKey = "honeytrace-bench-\(UUID().uuidString)"
        let serverConfig = ServerConfiguration(modelDirectory: dbDirectory.path, keyPath: "", answerMode: c.answerMode, port: 0, adminPort: nil,
                                               databasePath: dbDirectory.appendingPathComponent("bench.sqlite").path,
                                               batchWait: c.batchWait, maxBatch: c.maxBatch,
                                               maxPendingRows: max(8192, 4 * (c.concurrencies.max() ?? 1)),
                                               computeThreads: c.computeThreads, logLevel: c.logLevel)
        let server = try PredictionServer(served: served, configuration: serverConfig,
                                          clients: try ClientRegistry(clients: [ClientEntry(name: "bench", key: apiKey, rateLimit: nil)]),
                                          logger: nil)
        let bodies = try makeBodies(inputShape: served.trained.inputShape, configuration: c)
        let (portStream, portContinuation) = AsyncStream.makeStream(of: ServerAddresses.self)
        let group = server.makeServiceGroup(gracefulShutdownSignals: []) { addresses in portContinuation.yield(addresses) }
        let maxConcurrency = c.concurrencies.max() ?? 1
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(30)),
                                                     connectionPool: .init(idleTimeout: .seconds(60),
                                                                           concurrentHTTP1ConnectionsPerHostSoftLimit: maxConcurrency)))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var levels: [LoadBenchmarkResult.Level] = []
            do {
                var iterator = portStream.makeAsyncIterator()
                guard let addresses = await iterator.next() else { throw ServerError(.endpoint, "the benchmark server did not start") }
                let url = addresses.baseURL + "/v1/predict"
                progress?("server on \(addresses.baseURL); \(c.concurrencies.count) levels of \(c.duration) each")
                for concurrency in c.concurrencies {
                    let level = try await runLevel(concurrency: concurrency, url: url, apiKey: apiKey, bodies: bodies, client: client,
                                                   server: server, configuration: c)
                    levels.append(level)
                    progress?(String(format: "concurrency %d: %.1f req/s, p50 %.2f ms, p99 %.2f ms, %d errors, RSS %.0f→%.0f MiB",
                                     concurrency, level.requestsPerSecond, level.latencyP50Ms, level.latencyP99Ms, level.errors,
                                     level.rssStartMiB, level.rssEndMiB))
                }
            } catch {
                try? await client.shutdown()
                await group.triggerGracefulShutdown()
                throw error
            }
            try await client.shutdown()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            let f = ISO8601DateFormatter()
            return LoadBenchmarkResult(model: name, answerMode: server.answerMode.description, bodyFormat: c.bodyFormat.rawValue,
                                       batchWaitMs: c.batchWait.seconds * 1000, maxBatch: c.maxBatch,
                                       computeThreads: Parallel.threadCount,
                                       cores: ProcessInfo.processInfo.activeProcessorCount, levels: levels,
                                       peakRSSMiB: Double(ProcessMemory.peakResidentBytes() ?? 0) / 1_048_576, date: f.string(from: Date()))
        }
    }

    /// One request body per distinct image: JSON `{"images": [[…]]}` or a `[1, C, H, W]` `.npy`.
    static func makeBodies(inputShape: [Int], configuration c: LoadBenchmarkConfiguration) throws -> [(ByteBuffer, String)] {
        var g = SeededGenerator(seed: c.seed)
        let size = inputShape.reduce(1, *)
        return try (0..<c.distinctImages).map { _ in
            let image = (0..<size).map { _ in g.nextFloat() }
            switch c.bodyFormat {
            case .json:
                let w = JSONWriter(capacity: size * 12 + 16)
                w.object {
                    w.key("images")
                    w.array { w.floats(image) }
                }
                return (w.buffer, "application/json")
            case .npy:
                return (ByteBuffer(bytes: try NPY.encode(floats: image, shape: [1] + inputShape)), "application/x-npy")
            }
        }
    }

    private struct WorkerResult: Sendable {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var requests = 0
        var errors = 0
        var errorSamples: [String] = []
    }

    private static func runLevel(concurrency: Int, url: String, apiKey: String, bodies: [(ByteBuffer, String)], client: HTTPClient,
                                 server: PredictionServer, configuration c: LoadBenchmarkConfiguration) async throws -> LoadBenchmarkResult.Level {
        let clock = ContinuousClock()
        // Warm-up: same load, not measured (connections opened, caches warm).
        if c.warmup > .zero {
            _ = await drive(concurrency: concurrency, until: clock.now + c.warmup, url: url, apiKey: apiKey, bodies: bodies, client: client)
        }
        let batchesBefore = server.batchStatistics()
        let rssStart = Double(ProcessMemory.residentBytes() ?? 0) / 1_048_576
        let start = clock.now
        let end = start + c.duration
        let sampler = Task { () -> (max: Double, timeline: [Double]) in
            var maxRSS = rssStart
            var timeline: [Double] = []
            var nextMark = start + .seconds(1)
            while clock.now < end && !Task.isCancelled {
                try? await Task.sleep(for: c.memorySampleInterval)
                let rss = Double(ProcessMemory.residentBytes() ?? 0) / 1_048_576
                maxRSS = max(maxRSS, rss)
                if clock.now >= nextMark {
                    timeline.append((rss * 10).rounded() / 10)
                    nextMark = nextMark + .seconds(1)
                }
            }
            return (maxRSS, timeline)
        }
        let result = await drive(concurrency: concurrency, until: end, url: url, apiKey: apiKey, bodies: bodies, client: client)
        let seconds = (clock.now - start).seconds
        sampler.cancel()
        let rssEnd = Double(ProcessMemory.residentBytes() ?? 0) / 1_048_576
        let samples = await sampler.value
        let rssMax = max(samples.max, rssEnd)
        let batchesAfter = server.batchStatistics()
        let batches = batchesAfter.batches - batchesBefore.batches
        let h = result.histogram
        func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }
        return LoadBenchmarkResult.Level(
            concurrency: concurrency, seconds: seconds, requests: result.requests, errors: result.errors, errorSamples: result.errorSamples,
            requestsPerSecond: Double(result.requests) / max(seconds, 1e-9),
            latencyMeanMs: h.totalCount > 0 ? h.mean / 1000 : 0, latencyP50Ms: ms(h.totalCount > 0 ? h.valueAtPercentile(50) : 0),
            latencyP90Ms: ms(h.totalCount > 0 ? h.valueAtPercentile(90) : 0), latencyP99Ms: ms(h.totalCount > 0 ? h.valueAtPercentile(99) : 0),
            latencyMaxMs: ms(h.totalCount > 0 ? h.max : 0),
            meanBatchRows: batches > 0 ? Double(batchesAfter.rows - batchesBefore.rows) / Double(batches) : 0,
            rssStartMiB: rssStart, rssEndMiB: rssEnd, rssMaxMiB: rssMax, rssTimelineMiB: samples.timeline)
    }

    /// `concurrency` workers, each sending one request at a time until `deadline`.
    private static func drive(concurrency: Int, until deadline: ContinuousClock.Instant, url: String, apiKey: String,
                              bodies: [(ByteBuffer, String)], client: HTTPClient) async -> WorkerResult {
        await withTaskGroup(of: WorkerResult.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var r = WorkerResult()
                    let clock = ContinuousClock()
                    var i = worker
                    while clock.now < deadline {
                        let (body, type) = bodies[i % bodies.count]
                        i += concurrency
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: type)
                        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
                        request.body = .bytes(body)
                        let sent = clock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(30))
                            let answer = try await response.body.collect(upTo: 1 << 20)
                            if response.status == .ok {
                                let micros = (clock.now - sent).seconds * 1e6
                                _ = r.histogram.record(UInt64(max(1, micros.rounded())))
                                r.requests += 1
                            } else {
                                r.errors += 1
                                let text = "HTTP \(response.status.code): \(String(buffer: answer).prefix(160))"
                                if r.errorSamples.count < 5 && !r.errorSamples.contains(text) { r.errorSamples.append(text) }
                            }
                        } catch {
                            r.errors += 1
                            let text = "\(error)"
                            if r.errorSamples.count < 5 && !r.errorSamples.contains(text) { r.errorSamples.append(text) }
                        }
                    }
                    return r
                }
            }
            var total = WorkerResult()
            for await r in group {
                total.histogram.add(r.histogram)
                total.requests += r.requests
                total.errors += r.errors
                for s in r.errorSamples where total.errorSamples.count < 5 && !total.errorSamples.contains(s) { total.errorSamples.append(s) }
            }
            return total
        }
    }
}
