import ArgumentParser
import Foundation
import HoneytraceServer
import Logging
import Prediction
import Training


/// `honeytrace serve`: the defended prediction API over HTTP until SIGTERM / SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model behind Neural Honeytrace over HTTP (POST /v1/predict, GET /v1/model, GET /health; /metrics on the admin port).",
        discussion: """
        Clients send `Authorization: Bearer <api key>` with keys from --clients (a JSON file; see docs/server.md); \
        without --clients every request is counted as client 'anonymous'. Per-client query counts and defense \
        statistics are kept in SQLite (--database; default: honeytrace-queries.sqlite in the model directory) and \
        survive restarts; --ledger postgres://USER@HOST:PORT/DB keeps them in PostgreSQL instead, shared by replicas \
        behind a load balancer (docs/replicas.md). SIGTERM or SIGINT stops the server gracefully.
        """)

    @Argument(help: "Model directory (model.json + model.safetensors).") var directory: String
    @Option(help: "Watermark key made for this model.") var key: String?
    @Flag(help: "Serve the bare model without the defense (a baseline or a suspect's copy); needs no --key.") var undefended = false
    @Option(help: "What /v1/predict answers: probabilities, label or topk:K (default: the key's answer mode).") var answers: AnswerMode?
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port of the prediction API (0 = any free port).") var port = 8080
    @Option(help: "Address of the admin server (/metrics, /health, /v1/clients).") var adminHost = "127.0.0.1"
    @Option(help: "Port of the admin server.") var adminPort = 9090
    @Flag(help: "Run no admin server (no /metrics).") var noAdmin = false
    @Option(help: "Clients file: API keys and rate limits (JSON).") var clients: String?
    @Option(help: "SQLite file of per-client query counts, or :memory:.") var database: String?
    @Option(help: "The ledger: a SQLite file, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE shared by replicas (instead of --database).")
    var ledger: String?
    @Flag(inversion: .prefixedNo,
          help: "Answer a request only after its ledger records committed (default: yes with PostgreSQL, no with SQLite, which flushes every second).")
    var recordBeforeAnswer: Bool?
    @Option(help: "Longest wait, in milliseconds, for more single-image requests to batch into one forward pass.") var batchWaitMs = 2.0
    @Option(help: "Most images in one forward pass.") var maxBatch = 64
    @Option(help: "Most images in one request (413 above).") var maxRows = 256
    @Option(help: "Largest request body in bytes (413 above).") var maxBodyBytes = 8 << 20
    @Option(help: "Engine threads per forward pass (default: all cores).") var threads: Int?
    @Option(help: "Close a connection that sends nothing for this many seconds (0.1…3600).") var idleTimeoutSeconds = 30.0
    @Option(help: "Answer 408 and close the connection when a request body takes longer than this many seconds to arrive (0.1…3600).")
    var bodyTimeoutSeconds = 10.0
    @Option(help: "Requests per second per source address for requests no client answers for: every request without --clients, refused ones (400, 401, 404, 405, 408, 413, 415) with it.")
    var anonymousRequestsPerSecond = 100.0
    @Option(help: "Burst of that per-address bucket, in requests.") var anonymousBurst = 200
    @Flag(help: "No per-address bucket (the lockout after failed authentications stays).") var noAnonymousRateLimit = false
    @Option(help: "Failed authentications from one address within --lockout-window-seconds that lock it out (API keys on the API port, admin tokens on the admin port, counted apart).")
    var lockoutFailures = 20
    @Option(help: "Window in which failed authentications are counted, in seconds.") var lockoutWindowSeconds = 60.0
    @Option(help: "How long a locked-out address gets 429 locked_out, in seconds.") var lockoutSeconds = 300.0
    @Flag(help: "Take the source address from the last X-Forwarded-For entry (only behind a proxy that sets it; else limits are per proxy address).")
    var trustForwardedFor = false
    @Option(help: "File holding the admin token (owner-only permissions, e.g. chmod 600): /metrics and /v1/clients then need 'Authorization: Bearer <token>'.")
    var adminTokenFile: String?
    @Flag(help: "Start the admin server on a non-loopback --admin-host without --admin-token-file.") var allowUnauthenticatedAdmin = false
    @Flag(help: "Serve the key even if it was made for other weights.") var force = false
    @Flag(help: "Serve a key made with --secret-from-seed (experiments only: the seed gives away the secret).")
    var allowSeedDerivedSecret = false
    @Option(help: "DAWN secret file (`honeytrace dawn secret`): DAWN changes its watermark queries' answers and logs them per client in the database.")
    var dawnSecret: String?
    @Option(help: "DAWN's watermark rate r_w.") var dawnRate = 0.005
    @Option(help: ArgumentHelp("An output perturbation on every answer, after the defense and DAWN: \(OutputPerturbation.named.map(\.name).joined(separator: ", ")).",
                               valueName: "name"))
    var perturbation: String?
    @Option(help: "Seed of a random perturbation's noise, mixed with each client's name (default: drawn from the system's generator).")
    var perturbationSeed: UInt64?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func validate() throws {
        if key == nil && !undefended && dawnSecret == nil && perturbation == nil {
            throw ValidationError("give --key KEY, --dawn-secret FILE, --perturbation NAME, or --undefended to serve the bare model")
        }
        if let perturbation, OutputPerturbation(named: perturbation) == nil {
            throw ValidationError("--perturbation '\(perturbation)': expected one of \(OutputPerturbation.named.map(\.name).joined(separator: ", "))")
        }
        if key != nil && undefended { throw ValidationError("--key and --undefended exclude each other") }
        if database != nil && ledger != nil { throw ValidationError("--database and --ledger name the same thing; give one") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)': expected trace, debug, info, notice, warning, error or critical")
        }
        // Bounded here, before the conversion to microseconds, which would trap on 1e20.
        guard batchWaitMs.isFinite, (0...1000).contains(batchWaitMs) else {
            throw ValidationError("--batch-wait-ms must lie in 0…1000, found \(batchWaitMs)")
        }
    }

    /// `seconds` as a duration, refused with a message naming `option` outside `range`.
    static func duration(_ seconds: Double, option: String, in range: ClosedRange<Double>) throws -> Duration {
        guard seconds.isFinite, range.contains(seconds) else {
            throw ValidationError("\(option) must lie in \(range.lowerBound)…\(range.upperBound), found \(seconds)")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    func run() async throws {
        var configuration = ServerConfiguration(
            modelDirectory: directory, keyPath: key, answerMode: answers, force: force, host: host, port: port,
            adminHost: adminHost, adminPort: noAdmin ? nil : adminPort, clientsFile: clients, databasePath: ledger ?? database,
            batchWait: .microseconds(Int64((batchWaitMs * 1000).rounded())), maxBatch: maxBatch, maxRowsPerRequest: maxRows,
            maxBodyBytes: maxBodyBytes, computeThreads: threads, logLevel: Logger.Level(rawValue: logLevel)!)
        configuration.dawnSecretPath = dawnSecret
        configuration.dawnRate = dawnRate
        configuration.perturbation = perturbation.flatMap { OutputPerturbation(named: $0) }
        configuration.perturbationSeed = perturbationSeed
        configuration.allowSeedDerivedSecret = allowSeedDerivedSecret
        guard idleTimeoutSeconds.isFinite, (0.1...3600).contains(idleTimeoutSeconds) else {
            throw ValidationError("--idle-timeout-seconds must lie in 0.1…3600, found \(idleTimeoutSeconds)")
        }
        configuration.idleTimeout = .milliseconds(Int64((idleTimeoutSeconds * 1000).rounded()))
        configuration.recordBeforeAnswer = recordBeforeAnswer
        configuration.bodyTimeout = try Self.duration(bodyTimeoutSeconds, option: "--body-timeout-seconds", in: 0.1...3600)
        if noAnonymousRateLimit {
            configuration.anonymousRateLimit = nil
        } else {
            guard anonymousRequestsPerSecond.isFinite, anonymousRequestsPerSecond > 0, anonymousRequestsPerSecond <= RateLimit.maxQueriesPerSecond else {
                throw ValidationError("--anonymous-requests-per-second must lie in (0, \(RateLimit.maxQueriesPerSecond)], found \(anonymousRequestsPerSecond); --no-anonymous-rate-limit turns it off")
            }
            guard anonymousBurst >= 1 else { throw ValidationError("--anonymous-burst must be at least 1, found \(anonymousBurst)") }
            configuration.anonymousRateLimit = RateLimit(queriesPerSecond: anonymousRequestsPerSecond, burst: anonymousBurst)
        }
        guard lockoutFailures >= 1 else { throw ValidationError("--lockout-failures must be at least 1, found \(lockoutFailures)") }
        configuration.lockoutFailures = lockoutFailures
        configuration.lockoutWindow = try Self.duration(lockoutWindowSeconds, option: "--lockout-window-seconds", in: 0.001...86400)
        configuration.lockoutDuration = try Self.duration(lockoutSeconds, option: "--lockout-seconds", in: 0.001...86400)
        configuration.trustForwardedFor = trustForwardedFor
        configuration.adminTokenFile = adminTokenFile
        configuration.allowUnauthenticatedAdmin = allowUnauthenticatedAdmin
        try configuration.validate()
        try await PredictionServer.run(configuration: configuration) { addresses in
            var line = "serving \(directory)\(key == nil ? " (undefended)" : "")\(dawnSecret == nil ? "" : " with DAWN")\(perturbation.map { " with \($0)" } ?? "") on \(addresses.baseURL)"
            if let admin = addresses.adminURL { line += ", admin on \(admin)" }
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
