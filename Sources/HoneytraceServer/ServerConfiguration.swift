import Foundation
import Honeytrace
import Logging
import Prediction

/// Everything `honeytrace serve` needs: what to serve, where, for whom, and the limits.
///
/// Defaults suit a single-image prediction API on one machine: loopback only, requests batched
/// for up to 2 ms or 64 images, at most 256 images and 8 MiB per request.
public struct ServerConfiguration: Sendable, Equatable {
    /// The model directory (`model.json` + `model.safetensors`).
    public var modelDirectory: String
    /// The watermark key file made for that model; nil = serve the bare model without the
    /// defense (a suspect's surrogate to verify, a baseline), with a warning in the log.
    public var keyPath: String?
    /// What `/v1/predict` answers; nil = the answer mode stored in the key (probabilities
    /// without a key).
    public var answerMode: DefenseConfiguration.AnswerMode?
    /// Serve the key even when it was made for other weights (its cached features may be wrong).
    public var force: Bool

    /// Address and port of the prediction API (port 0 = any free port).
    public var host: String
    public var port: Int
    /// Address and port of the admin server (`/metrics`, `/health`, `/v1/clients`); nil port =
    /// no admin server. Keep it off the public interface: it lists every client's statistics.
    public var adminHost: String
    public var adminPort: Int?

    /// The clients file (API keys and rate limits, see `ClientRegistry`); nil = no
    /// authentication, every request is counted as client `anonymous`.
    public var clientsFile: String?
    /// The ledger of per-client query counts, defense statistics and evidence: a SQLite file
    /// (nil = the default `honeytrace-queries.sqlite` inside the model directory; `":memory:"` =
    /// not persisted), or a `postgres://` URL shared by replicas (`PostgresLedgerStore`).
    public var databasePath: String?
    /// Whether a request waits for its ledger records to commit before it is answered; nil = yes
    /// for PostgreSQL, no for SQLite (`QueryLedger`).
    public var recordBeforeAnswer: Bool? = nil
    /// How often counters are written to the database (and once more at shutdown).
    public var flushInterval: Duration
    /// How long start-up waits for a locked database before giving up.
    public var databaseBusyTimeout: Duration

    /// The longest the batcher waits for more rows after the first one arrives before it runs a
    /// forward pass. It stops waiting earlier when the batch is full or every request in flight
    /// has queued its rows (so a lone client is not delayed). 0 = run as soon as the model is
    /// free; rows still batch while a pass is running.
    public var batchWait: Duration
    /// The most rows in one forward pass (a larger single request runs alone).
    public var maxBatch: Int
    /// The most images one request may hold (413 above).
    public var maxRowsPerRequest: Int
    /// The largest request body accepted, in bytes (413 above).
    public var maxBodyBytes: Int
    /// The most rows waiting for the model before new requests get 503 (back-pressure).
    public var maxPendingRows: Int

    /// Threads the tensor engine may use for one forward pass (`TensorEngine.Parallel.threadCount`,
    /// process-wide; oneDNN's primitives run single-threaded in each of them); nil = leave the
    /// engine's default (all cores). On a small machine 1 is
    /// usually faster under load: the cores are then free for HTTP and JSON work while batching
    /// supplies the parallelism.
    public var computeThreads: Int?

    /// Log level of the server's logger.
    public var logLevel: Logger.Level

    /// DAWN's secret file (`DAWNSecret`); nil = no DAWN. With it, DAWN changes the answers of
    /// its watermark queries (after the Honeytrace defense, if any) and logs them per client.
    public var dawnSecretPath: String? = nil
    /// DAWN's watermark rate r_w.
    public var dawnRate: Double = 0.005
    /// An output perturbation on every answer (after the defense and DAWN); nil = none.
    public var perturbation: OutputPerturbation? = nil
    /// The seed of a random perturbation's generators (mixed with each client's name); nil = a
    /// seed from the system's generator, so nobody can predict the noise.
    public var perturbationSeed: UInt64? = nil
    /// Serve a key whose HMAC secret was derived from its seed (experiments only): anyone who
    /// knows the seed can recompute the secret, and with it the watermarks.
    public var allowSeedDerivedSecret = false
    /// A connection that sends nothing for this long is closed: half-open connections and clients
    /// that stall mid-request cannot hold the server's sockets.
    public var idleTimeout: Duration = .seconds(30)
    /// The longest a request body may take to arrive, from its headers to its last byte; a slower
    /// body gets 408 and its connection is closed. The idle timeout alone would let a body that
    /// trickles in one byte at a time hold a connection for ever.
    public var bodyTimeout: Duration = .seconds(10)

    /// A token bucket of requests per source address for requests no client answers for: every
    /// request of a server without a clients file, and every refused one (400, 401, 404, 405, 408,
    /// 413, 415) of a server with one, so nobody hammers the parser or guesses keys for free; nil =
    /// no such limit. (`RateLimit.queriesPerSecond` counts requests here.)
    public var anonymousRateLimit: RateLimit? = RateLimit(queriesPerSecond: 100, burst: 200)
    /// Failed authentications (401) from one address within `lockoutWindow` after which the address
    /// is refused (429 `locked_out`) for `lockoutDuration`, whatever key it sends. The admin port
    /// applies the same numbers to admin tokens, counted apart from API keys.
    public var lockoutFailures = 20
    public var lockoutWindow: Duration = .seconds(60)
    public var lockoutDuration: Duration = .seconds(300)
    /// Take the source address from the last `X-Forwarded-For` entry (the one the proxy in front
    /// appended) instead of the peer: only behind a proxy that sets it, else clients choose their address.
    public var trustForwardedFor = false

    /// A file holding the admin token (owner-only permissions): `/metrics` and `/v1/clients` then
    /// need `Authorization: Bearer <token>`; nil = the admin port asks for nothing.
    public var adminTokenFile: String? = nil
    /// Start an admin server on a non-loopback address without an admin token.
    public var allowUnauthenticatedAdmin = false

    public init(modelDirectory: String, keyPath: String?, answerMode: DefenseConfiguration.AnswerMode? = nil, force: Bool = false,
                host: String = "127.0.0.1", port: Int = 8080, adminHost: String = "127.0.0.1", adminPort: Int? = 9090,
                clientsFile: String? = nil, databasePath: String? = nil, flushInterval: Duration = .seconds(1),
                databaseBusyTimeout: Duration = .seconds(2), batchWait: Duration = .milliseconds(2), maxBatch: Int = 64,
                maxRowsPerRequest: Int = 256, maxBodyBytes: Int = 8 << 20, maxPendingRows: Int = 8192,
                computeThreads: Int? = nil, logLevel: Logger.Level = .info) {
        self.modelDirectory = modelDirectory
        self.keyPath = keyPath
        self.answerMode = answerMode
        self.force = force
        self.host = host
        self.port = port
        self.adminHost = adminHost
        self.adminPort = adminPort
        self.clientsFile = clientsFile
        self.databasePath = databasePath
        self.flushInterval = flushInterval
        self.databaseBusyTimeout = databaseBusyTimeout
        self.batchWait = batchWait
        self.maxBatch = maxBatch
        self.maxRowsPerRequest = maxRowsPerRequest
        self.maxBodyBytes = maxBodyBytes
        self.maxPendingRows = maxPendingRows
        self.computeThreads = computeThreads
        self.logLevel = logLevel
    }

    /// File name of the default database inside the model directory.
    public static let defaultDatabaseName = "honeytrace-queries.sqlite"

    /// The ledger in use: `databasePath`, or the default file inside the model directory.
    public var resolvedDatabasePath: String {
        databasePath ?? URL(fileURLWithPath: modelDirectory).appendingPathComponent(Self.defaultDatabaseName).path
    }

    /// Throws `invalidConfiguration` naming the first value out of range.
    public func validate() throws {
        func fail(_ problem: String) -> ServerError { ServerError(.invalidConfiguration, problem) }
        guard (0...65535).contains(port) else { throw fail("port \(port) is not in 0…65535") }
        if let adminPort {
            guard (0...65535).contains(adminPort) else { throw fail("admin port \(adminPort) is not in 0…65535") }
            if adminPort == port && adminPort != 0 && adminHost == host {
                throw fail("the admin port must differ from the API port (both are \(port))")
            }
        }
        guard !host.isEmpty else { throw fail("the host must not be empty") }
        guard idleTimeout >= .milliseconds(100), idleTimeout <= .seconds(3600) else {
            throw fail("the idle timeout must lie in 0.1…3600 s, found \(idleTimeout)")
        }
        guard bodyTimeout >= .milliseconds(100), bodyTimeout <= .seconds(3600) else {
            throw fail("the body timeout must lie in 0.1…3600 s, found \(bodyTimeout)")
        }
        if let limit = anonymousRateLimit {
            guard limit.queriesPerSecond > 0, limit.queriesPerSecond <= RateLimit.maxQueriesPerSecond, limit.burst >= 1 else {
                throw fail("the anonymous rate limit needs requests per second in (0, \(RateLimit.maxQueriesPerSecond)] and a burst ≥ 1, found \(limit.queriesPerSecond)/s, burst \(limit.burst)")
            }
        }
        guard lockoutFailures >= 1 else { throw fail("the lockout needs at least 1 failed authentication, found \(lockoutFailures)") }
        guard lockoutWindow > .zero, lockoutWindow <= .seconds(86400), lockoutDuration > .zero, lockoutDuration <= .seconds(86400) else {
            throw fail("the lockout window and duration must lie in (0, 86400] s, found \(lockoutWindow) and \(lockoutDuration)")
        }
        if adminPort != nil, adminTokenFile == nil, !allowUnauthenticatedAdmin, !Self.isLoopback(adminHost) {
            throw fail("the admin server would listen on \(adminHost), not a loopback address, without an admin token: "
                       + "anyone who reaches it reads every client's statistics; give --admin-token-file FILE, "
                       + "bind it to 127.0.0.1, or pass --allow-unauthenticated-admin")
        }
        guard maxBatch >= 1 else { throw fail("max batch must be at least 1, found \(maxBatch)") }
        guard maxRowsPerRequest >= 1 else { throw fail("max rows per request must be at least 1, found \(maxRowsPerRequest)") }
        guard maxBodyBytes >= 1024 else { throw fail("max body bytes must be at least 1024, found \(maxBodyBytes)") }
        guard maxPendingRows >= maxRowsPerRequest else {
            throw fail("max pending rows (\(maxPendingRows)) must be at least max rows per request (\(maxRowsPerRequest))")
        }
        guard batchWait >= .zero, batchWait <= .seconds(1) else { throw fail("batch wait must lie in 0…1 s, found \(batchWait)") }
        guard flushInterval > .zero else { throw fail("flush interval must be positive, found \(flushInterval)") }
        guard databaseBusyTimeout >= .zero else { throw fail("database busy timeout must be ≥ 0, found \(databaseBusyTimeout)") }
        if case .topK(let k) = answerMode, k < 1 { throw fail("top-k needs k ≥ 1, found \(k)") }
        if let computeThreads, !(1...256).contains(computeThreads) { throw fail("compute threads must lie in 1…256, found \(computeThreads)") }
        guard dawnRate > 0, dawnRate <= 1 else { throw fail("DAWN's watermark rate must lie in (0, 1], found \(dawnRate)") }
        if let perturbation {
            do { try perturbation.validate() } catch { throw fail("\(error)") }
        }
    }
}

extension ServerConfiguration {
    /// Whether `host` names a loopback address (`localhost`, 127.0.0.0/8, `::1`).
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        return h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" || h.hasPrefix("127.")
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
