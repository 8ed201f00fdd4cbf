import AsyncHTTPClient
import Foundation
import NIOCore
import Training
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Two `honeytrace serve` replicas behind nginx sharing one PostgreSQL ledger: identical answers,
/// one rate limit per client, no answered query lost or recorded twice when a replica is killed
/// mid-load, one valid evidence chain. Skips where PostgreSQL or nginx cannot start; with
/// HONEYTRACE_REQUIRE_SERVICES=1 (set by .ci/run, which installs them) it fails instead.
final class ReplicaEndToEndTests: CLITestCase {
    /// The rate limit of the two load clients: a burst, then a trickle.
    let burst = 150, perSecond = 10.0
    /// Requests each load client sends; a replica is killed once half of all have been sent.
    let requestsPerClient = 1200

    /// Skips with `why`, or fails when the services are required.
    func unavailable(_ what: String, _ why: ServiceUnavailable) throws {
        if ProcessInfo.processInfo.environment["HONEYTRACE_REQUIRE_SERVICES"] == "1" {
            XCTFail("HONEYTRACE_REQUIRE_SERVICES=1, but \(what) cannot start: \(why)")
            return
        }
        throw XCTSkip("\(what) cannot start here (\(why)); .ci/run installs postgresql and nginx and requires this test")
    }

    func testReplicasBehindNginxShareOneLedgerAndSurviveAKilledReplica() async throws {
        let postgres: LocalPostgres
        switch LocalPostgres.start() {
        case .success(let started): postgres = started
        case .failure(let why): return try unavailable("PostgreSQL", why)
        }
        defer { postgres.stop() }

        try trainSynthetic(seed: 1, to: path("m"))
        let key = path("m.htkey")
        _ = try CLI.succeed(["watermark", "create", path("m"), "--out", key, "--recipe", "composite", "--count", "10", "--seed", "3",
                             "--source-class", "0", "--other-class", "2", "--target", "6"])
        let limit = ["queries_per_second": perSecond, "burst": burst] as [String: Any]
        let clients: [String: Any] = ["clients": [
            ["name": "alice", "key": "ht-alice-0123456789abcdef", "rate_limit": limit],
            ["name": "bob", "key": "ht-bob-0123456789abcdef00", "rate_limit": limit],
            ["name": "probe", "key": "ht-probe-0123456789abcdef", "rate_limit": NSNull()],
        ]]
        try JSONSerialization.data(withJSONObject: clients).write(to: URL(fileURLWithPath: path("clients.json")))

        // Two replicas as real processes, so one can be killed.
        let replicas = Daemons(directory: scratch.path)
        defer { replicas.stopAll() }
        let ports = try Daemons.freePorts(2)
        var pids: [pid_t] = []
        for (i, port) in ports.enumerated() {
            pids.append(try replicas.launch("replica\(i)", CLI.executable.path, [
                "serve", path("m"), "--key", key, "--clients", path("clients.json"), "--ledger", postgres.url,
                "--port", "\(port)", "--no-admin", "--threads", "1",
            ]))
        }
        let deadline = Date().addingTimeInterval(60)
        while !ports.allSatisfy({ LocalNginx.accepts(port: $0) }) {
            guard Date() < deadline, pids.allSatisfy(replicas.isRunning) else {
                return XCTFail("the replicas did not start\n\(replicas.logs())\n\(postgres.logs())")
            }
            usleep(200_000)
        }
        let nginx: LocalNginx
        switch LocalNginx.start(upstreams: ports.map { "127.0.0.1:\($0)" }) {
        case .success(let started): nginx = started
        case .failure(let why): return try unavailable("nginx", why)
        }
        defer { nginx.stop() }

        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await exercise(http, postgres: postgres, nginx: nginx, replicas: replicas, pids: pids, ports: ports)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func exercise(_ http: HTTPClient, postgres: LocalPostgres, nginx: LocalNginx, replicas: Daemons, pids: [pid_t], ports: [Int]) async throws {
        let info = try await Self.send(http, "GET", "http://127.0.0.1:\(ports[0])/v1/model", apiKey: nil, body: nil)
        let size = try XCTUnwrap(try CLI.json(info.body)["input_size"] as? Int, info.body)

        // The same query answered by each replica directly: byte for byte the same answer.
        for n in 0..<10 {
            let body = Self.imageJSON(n, size: size)
            let a = try await Self.send(http, "POST", "http://127.0.0.1:\(ports[0])/v1/predict", apiKey: "ht-probe-0123456789abcdef", body: body)
            let b = try await Self.send(http, "POST", "http://127.0.0.1:\(ports[1])/v1/predict", apiKey: "ht-probe-0123456789abcdef", body: body)
            XCTAssertEqual(a.status, 200, a.body)
            XCTAssertEqual(a.body, b.body, "query \(n): the replicas answer differently")
        }

        // Load through nginx from two rate-limited clients; replica 0 is killed halfway.
        let total = 2 * requestsPerClient
        let plan = (0..<total).map { i in (client: i % 2 == 0 ? "alice" : "bob", n: 1_000 + i) }
        let next = Counter(), killAt = total / 2
        let url = "http://127.0.0.1:\(nginx.port)/v1/predict"
        let start = Date()
        let results = try await withThrowingTaskGroup(of: [(Int, Int)].self) { group in
            for _ in 0..<12 {
                group.addTask {
                    var mine: [(Int, Int)] = []
                    while let i = next.take(below: total) {
                        if i == killAt { kill(pids[0], SIGKILL) }
                        let apiKey = plan[i].client == "alice" ? "ht-alice-0123456789abcdef" : "ht-bob-0123456789abcdef00"
                        let status = (try? await Self.send(http, "POST", url, apiKey: apiKey, body: Self.imageJSON(plan[i].n, size: size)).status) ?? -1
                        mine.append((i, status))
                    }
                    return mine
                }
            }
            var all = [Int](repeating: 0, count: total)
            for try await part in group { for (i, s) in part { all[i] = s } }
            return all
        }
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertFalse(replicas.isRunning(pids[0]), "replica 0 should have been killed")
        XCTAssertTrue(replicas.stop(pids[1]), "replica 1 should stop cleanly on SIGTERM\n\(replicas.logs())")

        // What the ledger holds for the load's queries, by client and query digest.
        let rows = try postgres.psql("SELECT client, query_sha256, count(*) FROM evidence_ledger WHERE client IN ('alice', 'bob') GROUP BY 1, 2")
        XCTAssertEqual(rows.status, 0, rows.stderr)
        var recorded: [String: Int] = [:]
        for line in rows.stdout.split(separator: "\n") {
            let f = line.split(separator: "|").map(String.init)
            recorded[f[0] + "/" + f[1]] = Int(f[2])
        }
        var answered: [String: Int] = ["alice": 0, "bob": 0], lost: [String: Int] = ["alice": 0, "bob": 0], refused = 0
        var expectedKeys = Set<String>()
        for (i, status) in results.enumerated() {
            let (client, n) = plan[i]
            let key = client + "/" + Self.querySHA256(n, size: size)
            expectedKeys.insert(key)
            switch status {
            case 200:
                answered[client]! += 1
                XCTAssertEqual(recorded[key], 1, "answered query \(n) of \(client) is in the ledger \(recorded[key] ?? 0) times")
            case 429:
                refused += 1
                XCTAssertNil(recorded[key], "refused query \(n) of \(client) is in the ledger")
            default:
                // In flight when the replica died (502 from nginx): recorded at most once.
                lost[client]! += 1
                XCTAssertLessThanOrEqual(recorded[key] ?? 0, 1, "query \(n) of \(client) is recorded twice")
            }
        }
        XCTAssertEqual(Set(recorded.keys).subtracting(expectedKeys), [], "the ledger holds load queries nobody sent")
        XCTAssertGreaterThan(refused, 0, "the load should run into the rate limit")
        let lostTotal = lost.values.reduce(0, +)
        XCTAssertLessThan(lostTotal, 50, "only requests in flight at the kill may fail: \(lost)")

        // One bucket per client across both replicas: at most the burst plus what refilled meanwhile.
        for client in ["alice", "bob"] {
            let allowedMost = Double(burst) + perSecond * elapsed + 1
            XCTAssertLessThanOrEqual(Double(answered[client]!), allowedMost,
                                     "\(client): \(answered[client]!) answered in \(elapsed) s exceeds one shared limit (burst \(burst), \(perSecond)/s)")
            XCTAssertGreaterThanOrEqual(answered[client]! + lost[client]!, burst, "\(client): the burst should be answered")
            // Counts and evidence are written in the same transactions.
            let stats = try postgres.psql("SELECT queries FROM client_stats WHERE client = '\(client)'")
            let entries = recorded.filter { $0.key.hasPrefix(client + "/") }.values.reduce(0, +)
            XCTAssertEqual(Int(stats.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), entries, "\(client): counts and ledger disagree")
        }
        print("replicas: \(total) requests in \(String(format: "%.1f", elapsed)) s; answered \(answered), refused \(refused), lost at the kill \(lost)")

        // Both replicas extended one chain, which verifies.
        let count = Int(try postgres.psql("SELECT count(*) FROM evidence_ledger").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        let verified = try CLI.run(["ledger", "verify", postgres.url])
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertTrue(verified.stdout.contains("intact: \(count) entries"), verified.stdout)
        let replicasSeen = try postgres.psql("SELECT count(*) FROM server_runs")
        XCTAssertEqual(replicasSeen.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "2")

        // An edited row breaks the chain there, and verify names it.
        let edited = count / 2
        XCTAssertEqual(try postgres.psql("UPDATE evidence_ledger SET client = 'mallory' WHERE id = \(edited)").status, 0)
        let broken = try CLI.run(["ledger", "verify", postgres.url])
        XCTAssertEqual(broken.status, 2, broken.stderr)
        XCTAssertTrue(broken.stderr.contains("entry \(edited) (client mallory) does not check"), broken.stderr)

        // A schema written by a newer honeytrace is refused by name, by verify and by serve.
        XCTAssertEqual(try postgres.psql("INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')").status, 0)
        try CLI.fail(["ledger", "verify", postgres.url], mentioning: ["v99-future", "newer than this honeytrace"])
        try CLI.fail(["serve", path("m"), "--undefended", "--ledger", postgres.url, "--port", "0", "--no-admin"],
                     mentioning: ["v99-future", "newer than this honeytrace"])
    }

    /// One image whose first two pixels encode `n`, so each `n` is a distinct query; pixels are
    /// multiples of 1/256, which JSON carries exactly.
    static func pixels(_ n: Int, size: Int) -> [Float] {
        (0..<size).map { j in
            switch j {
            case 0: return Float(n % 256) / 256
            case 1: return Float(n / 256 % 256) / 256
            default: return Float((n &* 2_654_435_761 &+ j &* 40_503) >> 7 & 255) / 256
            }
        }
    }

    static func imageJSON(_ n: Int, size: Int) -> String {
        "{\"images\": [[" + Self.pixels(n, size: size).map { "\($0)" }.joined(separator: ",") + "]]}"
    }

    /// The ledger's `query_sha256` of image `n`: SHA-256 of its pixels as Float32 little-endian.
    static func querySHA256(_ n: Int, size: Int) -> String {
        var bytes = Data()
        for p in Self.pixels(n, size: size) { withUnsafeBytes(of: p.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return Hashing.sha256(bytes)
    }

    static func send(_ http: HTTPClient, _ method: String, _ url: String, apiKey: String?, body: String?) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(20))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }
}

/// Hands out 0, 1, 2, … to concurrent tasks.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
