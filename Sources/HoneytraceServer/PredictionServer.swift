import Formats
import Foundation
import Honeytrace
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prediction
import ServiceLifecycle
import TensorEngine
import Training
import UnixSignals

/// Public facts about the served model, as `GET /v1/model` returns them. Never key material:
/// no watermark, target class, secret, offset or model hash.
public struct ModelInfo: Codable, Sendable, Equatable {
    /// `[C, H, W]` of one image.
    public var inputShape: [Int]
    /// Values per image (C·H·W), the length of each flattened image in a JSON request.
    public var inputSize: Int
    public var classes: Int
    /// Class names, when the model directory has them.
    public var classNames: [String]?
    /// `probabilities`, `label` or `top-<k>`.
    public var answerMode: String
    /// The most images one request may hold.
    public var maxRowsPerRequest: Int
    /// The largest request body, in bytes.
    public var maxBodyBytes: Int
    /// Request content types accepted by `/v1/predict`.
    public var contentTypes: [String]

    private enum CodingKeys: String, CodingKey {
        case inputShape = "input_shape", inputSize = "input_size", classes, classNames = "class_names", answerMode = "answer_mode"
        case maxRowsPerRequest = "max_rows_per_request", maxBodyBytes = "max_body_bytes", contentTypes = "content_types"
    }
}

/// Where a running server listens (port 0 in the configuration resolves to the bound port).
public struct ServerAddresses: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var adminHost: String?
    public var adminPort: Int?

    /// `http://host:port`, the base URL clients use.
    public var baseURL: String { "http://\(Self.urlHost(host)):\(port)" }
    /// `http://adminHost:adminPort`, when there is an admin server.
    public var adminURL: String? { adminPort.map { "http://\(Self.urlHost(adminHost ?? host)):\($0)" } }

    static func urlHost(_ host: String) -> String {
        if host == "0.0.0.0" { return "127.0.0.1" }
        if host == "::" { return "[::1]" }
        return host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    }
}

/// A defended model served over HTTP (Hummingbird 2): the prediction API and the admin server.
///
/// Prediction API (`host:port`):
/// - `POST /v1/predict`: images in (JSON or `.npy`, see `PredictionBody`), defended answers out;
///   `Authorization: Bearer <api key>` when a clients file is configured;
/// - `GET /v1/model`: `ModelInfo`;
/// - `GET /health`: `{"status": "ok"}`.
///
/// Admin server (`adminHost:adminPort`, loopback by default): `GET /metrics` (Prometheus text),
/// `GET /health`, `GET /v1/clients` (every client's `ClientRecord`); with an admin token the first
/// and last ask for it (`AdminAuthMiddleware`), and repeated wrong tokens lock the source address
/// out of them (`adminGuard`).
///
/// Every refusal is a JSON `APIError`: 400 malformed JSON / `.npy`, wrong shape, NaN or
/// infinite or out-of-range pixels, no image; 401 missing or unknown API key (or admin token);
/// 404 / 405; 408 body slower than the body timeout (`BodyDeadline`); 413 body or row count over
/// the limit; 415 content type; 429 rate limit, per client or per source address, or a lockout
/// after failed authentications (`AddressGuard`; with `Retry-After`); 503 queue full or shutting down.
///
/// Start-up errors (model, key, clients file, database) are thrown by `init`, before anything
/// listens. `run` serves until SIGTERM or SIGINT, then stops accepting, answers what is in
/// flight, drains the batcher and writes the last counts to the database.
public final class PredictionServer: Sendable {
    public let configuration: ServerConfiguration
    /// The model behind the defense; nil when the server runs without a key.
    public let defended: DefendedModel?
    /// The heavy-client defense and its threshold (from the key), nil without one.
    public let heavyClient: DefendedClient.HeavyClient?
    /// The model answering (defended or not).
    public let trainedModel: TrainedModel
    /// What `/v1/predict` answers.
    public let answerMode: DefenseConfiguration.AnswerMode
    /// nil = no authentication (every request is client `anonymous`).
    public let clients: ClientRegistry?
    public let ledger: QueryLedger
    /// DAWN over the answers, when `configuration.dawnSecretPath` is set.
    public let dawn: DAWNLedger?
    /// The output perturbation on every answer, when `configuration.perturbation` is set.
    let perturbation: ServedPerturbation?
    public let metrics: ServerMetrics
    /// Per-address limits for requests no client answers for, and the failed-authentication lockout.
    public let addressGuard: AddressGuard
    /// The admin port's lockout after wrong or missing admin tokens: the same policy as the API
    /// port's lockout, no bucket, state of its own (a guesser of the admin token is not locked out
    /// of the API, nor the other way round).
    public let adminGuard: AddressGuard
    /// The admin port's token, when `configuration.adminTokenFile` is set.
    let adminToken: AdminToken?
    public let logger: Logger
    let batcher: InferenceBatcher
    let info: ModelInfo

    /// The key fingerprint recorded in the database for a server without a key.
    public static let undefendedFingerprint = "undefended"

    /// Loads the model directory, the key (when `keyPath` is set), the clients file and the
    /// database named by `configuration`.
    ///
    /// - Throws: `ServerError` naming the file and problem: `.model` (model directory, key, or a
    ///   key made for other weights unless `force`), `.invalidClientsFile`, `.database`
    ///   (corrupted, locked, not a database, unwritable), `.invalidConfiguration`.
    public convenience init(configuration: ServerConfiguration, logger: Logger? = nil) throws {
        try configuration.validate()
        let trained: TrainedModel
        do { trained = try ModelDirectory.load(configuration.modelDirectory) } catch {
            throw ServerError(file: configuration.modelDirectory, .model, "cannot load the model: \(error)")
        }
        let clients = try configuration.clientsFile.map { try ClientRegistry.load($0) }
        guard let keyPath = configuration.keyPath else {
            try self.init(served: .plain(trained), configuration: configuration, clients: clients, logger: logger)
            return
        }
        let key: WatermarkKey
        do { key = try WatermarkKey.load(keyPath) } catch {
            throw ServerError(file: keyPath, .model, "cannot load the watermark key: \(error)")
        }
        if key.isSecretDerivedFromSeed && !configuration.allowSeedDerivedSecret {
            throw ServerError(file: keyPath, .model,
                              "the key's HMAC secret is derived from its seed (\(key.creation.seed)), so anyone who knows the seed "
                              + "can recompute it and the watermarks: make the key without --secret-from-seed to serve it, "
                              + "or allow it for an experiment (--allow-seed-derived-secret)")
        }
        var defense = key.defense
        if let mode = configuration.answerMode { defense.answer = mode }
        let defended: DefendedModel
        let heavy: DefendedClient.HeavyClient?
        do {
            defended = try DefendedModel(model: trained, key: key, configuration: defense, force: configuration.force,
                                         name: configuration.modelDirectory)
            heavy = try key.heavyClient.map { policy in
                var strong = policy.defense
                strong.answer = defense.answer
                return .init(afterQueries: policy.afterQueries,
                             defended: try DefendedModel(model: trained, key: key, configuration: strong, force: configuration.force,
                                                         name: configuration.modelDirectory + " (heavy clients)"),
                             union: policy.union)
            }
        } catch {
            throw ServerError(file: keyPath, .model, "\(error)")
        }
        try self.init(served: .defended(defended, heavy: heavy), configuration: configuration, clients: clients, logger: logger)
    }

    /// Serves `model` (already behind its defense; its configuration's answer mode, unless
    /// `configuration.answerMode` says otherwise). `configuration.modelDirectory` and `keyPath`
    /// are not read, except that the default database lives in the model directory.
    public convenience init(model: DefendedModel, configuration: ServerConfiguration, clients: ClientRegistry?,
                            logger: Logger? = nil) throws {
        try self.init(served: .defended(model), configuration: configuration, clients: clients, logger: logger)
    }

    /// Serves the bare `model`, without the defense (softmax of the logits; nothing is mixed or
    /// flipped): a suspect's surrogate for `verify --endpoint`, or a baseline.
    public convenience init(undefended model: TrainedModel, configuration: ServerConfiguration, clients: ClientRegistry?,
                            logger: Logger? = nil) throws {
        try self.init(served: .plain(model), configuration: configuration, clients: clients, logger: logger)
    }

    init(served: ServedModel, configuration: ServerConfiguration, clients: ClientRegistry?, logger: Logger?) throws {
        try configuration.validate()
        if let threads = configuration.computeThreads { Parallel.threadCount = threads }
        // Batches come in every size: keeping freed buffers would only keep memory resident.
        TensorMemory.reusesFreedBuffers = false
        // Between requests the event loop and the ledger need the cores more than a waiting worker.
        Parallel.idleSpinNanoseconds = 0
        var log = logger ?? PredictionServer.makeLogger(level: configuration.logLevel)
        log[metadataKey: "service"] = "honeytrace-server"
        self.configuration = configuration
        let model = served.trained
        self.trainedModel = model
        switch served {
        case .defended(let d, let heavy):
            self.defended = d
            self.heavyClient = heavy
            self.answerMode = configuration.answerMode ?? configuration.perturbation?.fixedAnswerMode ?? d.defense.configuration.answer
            if let heavy {
                let note = clients == nil ? "; with no clients file every request counts as the one client 'anonymous'" : ""
                log.info("clients past \(heavy.afterQueries) queries get the key's heavy-client defense\(note)")
            }
        case .plain:
            self.defended = nil
            self.heavyClient = nil
            self.answerMode = configuration.answerMode ?? configuration.perturbation?.fixedAnswerMode ?? .probabilities
            log.warning("serving the bare model WITHOUT the Honeytrace defense (no key given)")
        }
        self.perturbation = configuration.perturbation.map {
            ServedPerturbation($0, seed: configuration.perturbationSeed ?? UInt64.random(in: .min ... .max))
        }
        if let p = configuration.perturbation { log.info("every answer goes through the output perturbation \(p)") }
        self.clients = clients
        self.adminToken = try configuration.adminTokenFile.map { try AdminToken.load($0) }
        self.addressGuard = AddressGuard(policy: .init(rate: configuration.anonymousRateLimit, lockoutFailures: configuration.lockoutFailures,
                                                       window: configuration.lockoutWindow, lockout: configuration.lockoutDuration))
        self.adminGuard = AddressGuard(policy: .init(rate: nil, lockoutFailures: configuration.lockoutFailures,
                                                     window: configuration.lockoutWindow, lockout: configuration.lockoutDuration))
        if configuration.adminPort != nil, adminToken == nil, !ServerConfiguration.isLoopback(configuration.adminHost) {
            log.warning("SECURITY: the admin server listens on \(configuration.adminHost) without an admin token (--allow-unauthenticated-admin)")
        }
        if let key = defended?.defense.key, key.isSecretDerivedFromSeed {
            log.warning("SECURITY: the key's HMAC secret is derived from its seed \(key.creation.seed); serve it for experiments only")
        }
        if let warning = clients?.plainKeyWarning { log.warning("SECURITY: \(warning)") }
        self.logger = log
        let metrics = ServerMetrics()
        self.metrics = metrics
        let modelHash: String
        do { modelHash = try ModelBinding.weightsSHA256(of: model) } catch {
            throw ServerError(.model, "cannot hash the model's weights: \(error)")
        }
        let dawnMarker = try configuration.dawnSecretPath.map { try DAWNLedger.marker(secretPath: $0, rate: configuration.dawnRate) }
        let ledger = try QueryLedger(path: configuration.resolvedDatabasePath, modelSHA256: modelHash,
                                     keyFingerprint: defended?.defense.key.secretFingerprint ?? Self.undefendedFingerprint,
                                     answerMode: answerMode.description, busyTimeout: configuration.databaseBusyTimeout,
                                     recordBeforeAnswer: configuration.recordBeforeAnswer, logger: log)
        self.ledger = ledger
        self.dawn = dawnMarker.map { DAWNLedger(marker: $0, ledger: ledger, inputShape: model.inputShape, logger: log) }
        self.batcher = InferenceBatcher(model: served, maxBatch: configuration.maxBatch, maxWait: configuration.batchWait,
                                        maxPendingRows: configuration.maxPendingRows) { metrics.batch($0) }
        self.info = ModelInfo(inputShape: model.inputShape, inputSize: model.inputSize, classes: model.classes,
                              classNames: model.manifest.classNames, answerMode: answerMode.description,
                              maxRowsPerRequest: configuration.maxRowsPerRequest, maxBodyBytes: configuration.maxBodyBytes,
                              contentTypes: ["application/json", "application/x-npy", "application/octet-stream"])
    }

    /// A logger writing structured lines (`key=value` metadata) to standard error, without
    /// touching the process-wide `LoggingSystem`.
    public static func makeLogger(label: String = "honeytrace.server", level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }

    // MARK: Running

    /// Loads everything named by `configuration` and serves until SIGTERM / SIGINT.
    public static func run(configuration: ServerConfiguration, logger: Logger? = nil,
                           onRunning: (@Sendable (ServerAddresses) async -> Void)? = nil) async throws {
        let server = try PredictionServer(configuration: configuration, logger: logger)
        try await server.run(onRunning: onRunning)
    }

    /// Serves until one of `gracefulShutdownSignals` arrives (or the task is cancelled), then shuts
    /// down gracefully. `onRunning` is called once both servers listen, with their bound ports.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint],
                    onRunning: (@Sendable (ServerAddresses) async -> Void)? = nil) async throws {
        let group = makeServiceGroup(gracefulShutdownSignals: gracefulShutdownSignals, onRunning: onRunning)
        try await group.run()
    }

    /// The service group `run` runs: hold it to trigger a graceful shutdown yourself
    /// (`triggerGracefulShutdown()`), as the load benchmark does.
    public func makeServiceGroup(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint],
                                 onRunning: (@Sendable (ServerAddresses) async -> Void)? = nil) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: [makeApplication(onRunning: onRunning)],
                                          gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
    }

    /// The prediction API as a Hummingbird application, with the admin server (when configured)
    /// and the batcher / database service attached, so `app.test(.router)` and `.live` run it whole.
    public func makeApplication(onRunning: (@Sendable (ServerAddresses) async -> Void)? = nil) -> some ApplicationProtocol {
        let addresses = RunningAddresses(expectAdmin: configuration.adminPort != nil)
        let (seconds, attoseconds) = configuration.idleTimeout.components
        let bodyTimeout = configuration.bodyTimeout
        let http1 = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [BodyDeadline(timeout: bodyTimeout), ParseErrorBody()],
                                                                 idleTimeout: .milliseconds(seconds * 1000 + attoseconds / 1_000_000_000_000_000)))
        var services: [any Service] = [CoreService(server: self)]
        if let adminPort = configuration.adminPort {
            let host = configuration.adminHost
            services.append(Application(router: makeAdminRouter(),
                                        server: http1,
                                        configuration: .init(address: .hostname(host, port: adminPort), serverName: "honeytrace-admin"),
                                        onServerRunning: { channel in
                                            if let ready = addresses.admin(host: host, port: channel.localAddress?.port ?? adminPort) {
                                                await onRunning?(ready)
                                            }
                                        },
                                        logger: logger))
        }
        let host = configuration.host, port = configuration.port
        let log = logger, mode = answerMode, clientCount = clients?.clients.count, db = ledger.path, isDefended = defended != nil
        return Application(router: makeAPIRouter(),
                           server: http1,
                           configuration: .init(address: .hostname(host, port: port), serverName: "honeytrace"),
                           services: services,
                           onServerRunning: { channel in
                               let bound = channel.localAddress?.port ?? port
                               log.info(isDefended ? "serving defended predictions" : "serving undefended predictions", metadata: [
                                   "url": "\(ServerAddresses(host: host, port: bound).baseURL)", "answers": "\(mode)",
                                   "clients": "\(clientCount.map(String.init) ?? "none (no authentication)")", "database": "\(db)",
                               ])
                               if let ready = addresses.api(host: host, port: bound) { await onRunning?(ready) }
                           },
                           logger: logger)
    }

    // MARK: Routes

    /// The prediction API's routes: `/v1/predict`, `/v1/model`, `/health`, `/openapi.json`.
    public func makeAPIRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: metrics, logger: logger,
                                               routes: ["/v1/predict": [.post], "/v1/model": [.get], "/health": [.get], "/openapi.json": [.get]]))
        router.add(middleware: AddressGuardMiddleware(addressGuard: addressGuard, chargeEveryRequest: clients == nil,
                                                      trustForwardedFor: configuration.trustForwardedFor))
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/openapi.json") { _, _ in Self.openAPI() }
        router.get("/v1/model") { [info] _, _ in try Self.json(encodable: info) }
        router.post("/v1/predict") { [self] request, context in try await self.predict(request, context: context) }
        return router
    }

    /// The admin server's routes: `/metrics`, `/health`, `/v1/clients`, `/openapi.json`.
    public func makeAdminRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: nil, logger: logger,
                                               routes: ["/metrics": [.get], "/health": [.get], "/v1/clients": [.get], "/openapi.json": [.get]]))
        if let adminToken {
            // The TCP peer only, never X-Forwarded-For: the admin port is not meant to sit behind the
            // API's proxy, and a header must not let a guesser pick a fresh address per try.
            router.add(middleware: AddressGuardMiddleware(addressGuard: adminGuard, chargeEveryRequest: false, trustForwardedFor: false,
                                                          exemptPaths: AdminAuthMiddleware.openPaths))
            router.add(middleware: AdminAuthMiddleware(token: adminToken))
        }
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/openapi.json") { _, _ in Self.openAPI() }
        router.get("/metrics") { [metrics, batcher] _, _ in
            metrics.queuedRows.set(Int64(batcher.queuedRows))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/v1/clients") { [ledger] _, _ in
            struct Listing: Encodable { let clients: [ClientRecord] }
            return try Self.json(encodable: Listing(clients: ledger.records()))
        }
        return router
    }

    /// Defended forward passes run and rows they answered, since start.
    public func batchStatistics() -> (batches: Int, rows: Int) { batcher.statistics }

    /// `POST /v1/predict`.
    func predict(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let client = try authenticate(request)
        batcher.enter()
        defer { batcher.leave() }
        do {
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > configuration.maxBodyBytes {
                throw APIError(.contentTooLarge, .bodyTooLarge, "the body is \(length) bytes; at most \(configuration.maxBodyBytes) per request")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: configuration.maxBodyBytes)
            } catch is NIOTooManyBytesError {
                throw APIError(.contentTooLarge, .bodyTooLarge, "the body exceeds \(configuration.maxBodyBytes) bytes")
            } catch let expired as BodyDeadline.Expired {
                throw APIError(.requestTimeout, .bodyTimeout, "\(expired); the connection is closed")
            }
            let images = try PredictionBody.decode(body, contentType: request.headers[.contentType], inputShape: info.inputShape,
                                                   maxRows: configuration.maxRowsPerRequest)
            if let client, let limit = client.rateLimit {
                let decision: RateLimiter.Decision
                do { decision = try await ledger.store.takeTokens(images.rows, client: client.name, limit: limit) } catch {
                    logger.error("cannot check a rate limit in the ledger", metadata: ["client": "\(client.name)", "error": "\(error)"])
                    throw APIError(.serviceUnavailable, .overloaded, "the rate limit cannot be checked right now; try again", retryAfter: 1)
                }
                switch decision {
                case .allowed: break
                case .refused(let wait):
                    throw APIError(.tooManyRequests, .rateLimited,
                                   "client '\(client.name)' is over its rate limit of \(limit.queriesPerSecond) queries/s (burst \(limit.burst)); \(images.rows) images need \(String(format: "%.2f", wait)) s more",
                                   // Checked: a clients file's tiny rate makes the wait too long for `Int`.
                                   retryAfter: max(1, CheckedNumber.int(wait, rounding: .up) ?? Int.max))
                case .neverFits:
                    throw APIError(.contentTooLarge, .tooManyRows,
                                   "the request holds \(images.rows) images, more than client '\(client.name)' may send at once (burst \(limit.burst)); split it")
                }
            }
            let name = client?.name ?? ClientRegistry.anonymous
            // A client is a heavy client from the request at which its answered count has reached the threshold.
            let heavy = heavyClient.map { ledger.answeredQueries(client: name) >= $0.afterQueries } ?? false
            var output = try await batcher.submit(pixels: images.pixels, rows: images.rows, heavy: heavy)
            var dawnRows: [Bool] = []
            if let dawn { (output, dawnRows) = await dawn.mark(output, pixels: images.pixels, client: name) }
            if let perturbation { output = perturbation.apply(output, client: name) }
            let mixed = output.mixedCount, flipped = output.flippedCount
            var sSum = 0.0
            for s in output.similarity { sSum += Double(s) }
            let answered = output, rows = dawnRows
            let record = { [ledger, answerMode] in
                ledger.evidence.record(client: name, pixels: images.pixels, output: answered, mode: answerMode, heavy: heavy, dawnRows: rows)
                ledger.recordAnswered(client: name, queries: answered.rows, mixed: mixed, flipped: flipped, similaritySum: sSum)
            }
            if ledger.recordBeforeAnswer {
                do { try await ledger.commit(after: record) } catch {
                    throw APIError(.serviceUnavailable, .overloaded, "the answer could not be recorded in the ledger, so it is withheld; try again", retryAfter: 1)
                }
            } else {
                record()
            }
            metrics.answered(client: name, queries: output.rows, mixed: mixed, flipped: flipped)
            context.logger.debug("answered", metadata: ["client": "\(name)", "images": "\(output.rows)"])
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: PredictionBody.encode(output, mode: answerMode)))
        } catch let error as APIError {
            ledger.recordRejected(client: client?.name ?? ClientRegistry.anonymous)
            throw error
        }
    }

    /// The client of the request's API key; nil when the server has no clients file.
    func authenticate(_ request: Request) throws -> ClientEntry? {
        guard let clients else { return nil }
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, .missingAPIKey, "send your API key as 'Authorization: Bearer <api key>'")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, .missingAPIKey, "the Authorization header must read 'Bearer <api key>'")
        }
        guard let client = clients.client(forKey: parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw APIError(.unauthorized, .unknownClient, "the API key belongs to no client of this server")
        }
        return client
    }

    static func json(_ object: [String: String]) -> Response {
        let w = JSONWriter()
        w.object {
            for (i, key) in object.keys.sorted().enumerated() {
                if i > 0 { w.comma() }
                w.key(key)
                w.string(object[key]!)
            }
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: w.buffer))
    }

    /// `GET /openapi.json`: the API's OpenAPI document.
    static func openAPI() -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
    }

    static func json(encodable value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Collects the bound ports of the API and admin servers and reports them once both are known.
private final class RunningAddresses: @unchecked Sendable {
    private let lock = NSLock()
    private var current = ServerAddresses(host: "", port: -1)
    private let expectAdmin: Bool
    private var reported = false

    init(expectAdmin: Bool) { self.expectAdmin = expectAdmin }

    func api(host: String, port: Int) -> ServerAddresses? {
        lock.lock(); defer { lock.unlock() }
        current.host = host
        current.port = port
        return ready()
    }

    func admin(host: String, port: Int) -> ServerAddresses? {
        lock.lock(); defer { lock.unlock() }
        current.adminHost = host
        current.adminPort = port
        return ready()
    }

    private func ready() -> ServerAddresses? {
        guard !reported, current.port >= 0, !expectAdmin || current.adminPort != nil else { return nil }
        reported = true
        return current
    }
}

/// Starts the batcher, flushes the database every `flushInterval`, and on shutdown drains the
/// batcher and writes the last counts (after the HTTP servers have stopped).
struct CoreService: Service {
    let server: PredictionServer

    func run() async throws {
        let batcher = server.batcher, ledger = server.ledger, logger = server.logger
        let guards = [server.addressGuard, server.adminGuard]
        let interval = server.configuration.flushInterval
        batcher.start()
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                for addressGuard in guards { addressGuard.sweep() }
                // On a plain thread: a flush chains and inserts every query answered since the last
                // one, and must not hold one of the few threads that answer requests meanwhile.
                await CoreService.onPlainThread {
                    do { try ledger.flush() } catch where !ledger.recordBeforeAnswer {
                        logger.error("cannot write query counts; they are kept for the next flush", metadata: ["error": "\(error)"])
                    } catch {
                        // Recording before answering, flush() has logged what it dropped.
                    }
                }
            }
        }
        // Drain on a plain thread: shutdown() blocks until the queued rows are answered.
        await CoreService.onPlainThread { batcher.shutdown() }
        do {
            try ledger.close()
            logger.info("query counts written", metadata: ["database": "\(ledger.path)", "clients": "\(ledger.records().count)"])
        } catch {
            logger.error("cannot write the last query counts", metadata: ["error": "\(error)"])
        }
    }

    /// Runs blocking `body` on a new thread, off Swift's cooperative pool, and waits for it.
    static func onPlainThread(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                body()
                done.resume()
            }.start()
        }
    }
}

/// Turns every error into a JSON `APIError` answer (404 / 405 for unknown routes too) and
/// records each request's route, status and latency.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let metrics: ServerMetrics?
    let logger: Logger
    /// Known paths and their methods, to tell 405 from 404.
    let routes: [String: [HTTPRequest.Method]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        var route = context.endpointPath ?? request.uri.path
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = error.response()
            metrics?.rejected(code: error.code)
            if error.status.code >= 500 {
                logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            } else {
                logger.debug("request refused", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
        } catch let error as HTTPError {
            let api: APIError
            if error.status == .notFound {
                let path = request.uri.path
                if let methods = routes[path] {
                    api = APIError(.methodNotAllowed, .methodNotAllowed,
                                   "\(request.method) is not allowed on \(path); use \(methods.map(\.rawValue).joined(separator: " or "))")
                } else {
                    api = APIError(.notFound, .notFound, "no route \(path); routes: \(routes.keys.sorted().joined(separator: ", "))")
                    route = "unknown"
                }
            } else {
                api = APIError(error.status, error.status.code >= 500 ? .internalError : .malformedJSON, error.body ?? error.status.reasonPhrase)
            }
            response = api.response()
            metrics?.rejected(code: api.code)
        } catch {
            logger.error("unexpected error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            let api = APIError(.internalServerError, .internalError, "internal error: \(error)")
            response = api.response()
            metrics?.rejected(code: api.code)
        }
        if api405(response) { response.headers[.allow] = (routes[request.uri.path] ?? []).map(\.rawValue).joined(separator: ", ") }
        metrics?.request(route: route, status: Int(response.status.code), duration: ContinuousClock.now - start)
        return response
    }

    private func api405(_ response: Response) -> Bool { response.status == .methodNotAllowed }
}
