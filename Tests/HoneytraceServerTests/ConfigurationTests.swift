import Foundation
@testable import HoneytraceServer
import XCTest

final class ConfigurationTests: XCTestCase {
    func testClientsFileFormat() throws {
        let json = """
        {"default_rate_limit": {"queries_per_second": 100, "burst": 200},
         "clients": [
           {"name": "alice", "key": "alice-key-0123456789abcdef"},
           {"name": "bob", "key_sha256": "\(ClientRegistry.hash("bob-key-fedcba9876543210").uppercased())",
            "rate_limit": {"queries_per_second": 2.5}},
           {"name": "batch.jobs_1", "key": "batch-key-0123456789abcdef", "rate_limit": null}]}
        """
        let registry = try ClientRegistry.parse(Data(json.utf8))
        XCTAssertEqual(registry.clients.map(\.name), ["alice", "bob", "batch.jobs_1"])
        XCTAssertEqual(registry.client(forKey: "alice-key-0123456789abcdef")?.rateLimit, RateLimit(queriesPerSecond: 100, burst: 200))
        XCTAssertEqual(registry.client(forKey: "bob-key-fedcba9876543210")?.rateLimit, RateLimit(queriesPerSecond: 2.5, burst: 3))
        XCTAssertNil(registry.client(forKey: "batch-key-0123456789abcdef")?.rateLimit)
        XCTAssertEqual(registry.client(forKey: "batch-key-0123456789abcdef")?.name, "batch.jobs_1")
        XCTAssertNil(registry.client(forKey: "alice-key-0123456789abcdeF"))
    }

    func testClientsFileErrorsNameTheProblem() throws {
        let dir = try scratchDirectory(self)
        func check(_ json: String, _ words: [String], line: UInt = #line) throws {
            let path = dir + "/clients-\(line).json"
            try Data(json.utf8).write(to: URL(fileURLWithPath: path))
            assertThrows(try ClientRegistry.load(path), mentioning: [path] + words, line: line)
        }
        try check("{", ["not valid JSON"])
        try check("[]", ["top level"])
        try check(#"{"clients": [{"name": "a", "key": "short"}]}"#, ["client 0", "16–256"])
        try check(#"{"clients": [{"name": "a b", "key": "0123456789abcdef0"}]}"#, ["'a b'"])
        try check(#"{"clients": [{"name": "a", "key": "0123456789abcdef0"}, {"name": "a", "key": "0123456789abcdef1"}]}"#, ["used twice"])
        try check(#"{"clients": [{"name": "a", "key": "0123456789abcdef0"}, {"name": "b", "key": "0123456789abcdef0"}]}"#, ["already given to 'a'"])
        try check(#"{"clients": [{"name": "a"}]}"#, ["give \"key\" or \"key_sha256\""])
        try check(#"{"clients": [{"name": "a", "key": "0123456789abcdef0", "key_sha256": "00"}]}"#, ["only one"])
        try check(#"{"clients": [{"name": "a", "key_sha256": "1234"}]}"#, ["64 hex digits"])
        try check(#"{"clients": [{"name": "a", "key": "0123456789abcdef0", "rate_limit": {"queries_per_second": 0}}]}"#, ["positive"])
        try check(#"{"clients": [{"name": "a", "key": "0123456789abcdef0", "rate": 1}]}"#, ["unknown field 'rate'"])
        try check(#"{"client": []}"#, ["unknown field 'client'"])
        // Rates whose default burst (one second of queries) would not fit in Int: refused, not a trap.
        try check(#"{"clients": [{"name": "a", "key": "0123456789abcdef0", "rate_limit": {"queries_per_second": 1e19}}]}"#,
                  ["client 0 ('a') rate_limit", "queries_per_second", "1e+19"])
        try check(#"{"default_rate_limit": {"queries_per_second": 1e300}, "clients": []}"#, ["default_rate_limit", "1e+300"])
        try check(#"{"clients": [{"name": "a", "key": "0123456789abcdef0", "rate_limit": {"queries_per_second": 2e9, "burst": 5}}]}"#,
                  ["queries_per_second", "2000000000"])
        XCTAssertThrowsError(try JSONDecoder().decode(RateLimit.self, from: Data(#"{"queries_per_second": 1e19}"#.utf8)))
        XCTAssertEqual(try JSONDecoder().decode(RateLimit.self, from: Data(#"{"queries_per_second": 2.5}"#.utf8)),
                       RateLimit(queriesPerSecond: 2.5, burst: 3))
        assertThrows(try ClientRegistry.load(dir + "/missing.json"), mentioning: ["no such clients file"])
    }

    func testTokenBucket() {
        let limiter = RateLimiter()
        let limit = RateLimit(queriesPerSecond: 1000, burst: 10)
        XCTAssertEqual(limiter.take(10, client: "a", limit: limit), .allowed)
        guard case .refused(let wait) = limiter.take(5, client: "a", limit: limit) else { return XCTFail() }
        XCTAssertGreaterThan(wait, 0)
        XCTAssertLessThan(wait, 0.01)
        XCTAssertEqual(limiter.take(5, client: "b", limit: limit), .allowed)  // per client
        XCTAssertEqual(limiter.take(11, client: "c", limit: limit), .neverFits)
        Thread.sleep(forTimeInterval: 0.02)
        XCTAssertEqual(limiter.take(10, client: "a", limit: limit), .allowed)  // refilled
    }

    func testConfigurationValidation() {
        func config(_ change: (inout ServerConfiguration) -> Void) -> ServerConfiguration {
            var c = ServerConfiguration(modelDirectory: "m", keyPath: "k")
            change(&c)
            return c
        }
        XCTAssertNoThrow(try config { _ in }.validate())
        assertThrows(try config { $0.port = 70000 }.validate(), mentioning: ["70000"])
        assertThrows(try config { $0.adminPort = 8080 }.validate(), mentioning: ["admin port must differ"])
        assertThrows(try config { $0.maxBatch = 0 }.validate(), mentioning: ["max batch"])
        assertThrows(try config { $0.maxRowsPerRequest = 0 }.validate(), mentioning: ["max rows"])
        assertThrows(try config { $0.batchWait = .seconds(5) }.validate(), mentioning: ["batch wait"])
        assertThrows(try config { $0.maxPendingRows = 10 }.validate(), mentioning: ["max pending rows"])
        assertThrows(try config { $0.answerMode = .topK(0) }.validate(), mentioning: ["k ≥ 1"])
        assertThrows(try config { $0.anonymousRateLimit = RateLimit(queriesPerSecond: 0, burst: 1) }.validate(), mentioning: ["anonymous rate limit"])
        assertThrows(try config { $0.lockoutFailures = 0 }.validate(), mentioning: ["lockout"])
        assertThrows(try config { $0.lockoutDuration = .zero }.validate(), mentioning: ["lockout window and duration"])
        XCTAssertNoThrow(try config { $0.anonymousRateLimit = nil }.validate())
        assertThrows(try config { $0.perturbation = .gaussianNoise(std: -1) }.validate(), mentioning: ["Gaussian noise", "-1"])
        XCTAssertNoThrow(try config { $0.perturbation = .rounding(decimals: 2) }.validate())
    }

    func testLoadBenchmarkSmoke() async throws {
        let model = try ServerFixture.shared.defended()
        for format in LoadBenchmarkConfiguration.BodyFormat.allCases {
            let result = try await LoadBenchmark.run(model: model, configuration: .init(
                concurrencies: [1, 4], duration: .milliseconds(300), warmup: .milliseconds(50), bodyFormat: format, distinctImages: 8))
            XCTAssertEqual(result.levels.map(\.concurrency), [1, 4])
            for level in result.levels {
                XCTAssertEqual(level.errors, 0, "\(format): \(level.errorSamples)")
                XCTAssertGreaterThan(level.requests, 0)
                XCTAssertGreaterThan(level.latencyP99Ms, 0)
                XCTAssertGreaterThanOrEqual(level.latencyP99Ms, level.latencyP50Ms)
                XCTAssertGreaterThan(level.rssMaxMiB, 0)
            }
            XCTAssertTrue(result.table.contains("req/s"))
            let json = try JSONEncoder().encode(result)
            XCTAssertEqual(try JSONDecoder().decode(LoadBenchmarkResult.self, from: json).levels.count, 2)
        }
    }
}
