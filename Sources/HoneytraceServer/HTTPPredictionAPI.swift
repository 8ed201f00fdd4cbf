import AsyncHTTPClient
import Formats
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Prediction
import TensorEngine
import Training

/// A defended model behind a Honeytrace server (or any server speaking its `/v1/predict`), as
/// a `PredictionAPI`: what attacks query and what `verify --endpoint` asks for labels.
///
/// `init` reads `GET /v1/model` (input shape, classes, answer mode, request limits). `answer`
/// sends the images as a float32 `.npy` body (exact values, compact), split into requests of at
/// most `max_rows_per_request` images, and turns each answer into rows of `classes` floats the
/// way `AnswerMode` defines them (probabilities; one-hot label; top-k in place).
///
/// Synchronous bridge: `PredictionAPI.answer` is synchronous, so
/// each request is started on AsyncHTTPClient's event loops and the calling thread blocks on
/// the resulting `EventLoopFuture` (`wait()`). No Swift-concurrency task is involved, so the
/// wait cannot starve the cooperative pool that would have to run it; calling from an event
/// loop thread (which would deadlock) throws instead. From async code, prefer `answerAsync`.
///
/// 429 answers are retried after their `Retry-After` (at most `maxRetries` times, waiting at
/// most `maxRetryWait` in all); any other error answer throws `ServerError(.endpoint)` with the
/// server's status, code and message.
public final class HTTPPredictionAPI: PredictionAPI, @unchecked Sendable {
    /// The base URL, for reports.
    public let name: String
    public let baseURL: String
    public let inputShape: [Int]
    public let classes: Int
    /// What the endpoint answers, in the attacks' terms.
    public let answerMode: AnswerMode
    /// The server's answer mode as it names it (`probabilities`, `label`, `top-3`).
    public let serverAnswerMode: String
    /// Images per request sent (the server's limit, or less).
    public let rowsPerRequest: Int
    public let info: ModelInfo

    private let apiKey: String?
    private let client: HTTPClient
    private let ownsClient: Bool
    private let timeout: TimeAmount
    public let maxRetries: Int
    public let maxRetryWait: Double
    private let lock = NSLock()
    private var sent = 0
    private var requestsSent = 0

    /// Connects to the server at `url` (`http://host:port`, with or without a trailing
    /// `/v1/predict`) and reads its model description.
    ///
    /// - Parameters:
    ///   - apiKey: sent as `Authorization: Bearer <apiKey>`; nil = the `HONEYTRACE_API_KEY`
    ///     environment variable, or none.
    ///   - timeout: per request.
    ///   - rowsPerRequest: cap on images per request (the server's limit applies anyway).
    ///   - httpClient: a client to share; nil = a private one, shut down with this object.
    /// - Throws: `ServerError(.endpoint)` when the URL is invalid, the server cannot be reached,
    ///   refuses the key, or describes its model in a way that cannot be used.
    public init(url: String, apiKey: String? = nil, timeout: Duration = .seconds(30), rowsPerRequest: Int? = nil,
                maxRetries: Int = 20, maxRetryWait: Duration = .seconds(120), httpClient: HTTPClient? = nil) throws {
        var base = url.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1/predict") { base.removeLast("/v1/predict".count) }
        if base.hasSuffix("/v1/model") { base.removeLast("/v1/model".count) }
        guard let parsed = URL(string: base), let scheme = parsed.scheme, ["http", "https"].contains(scheme.lowercased()),
              parsed.host != nil else {
            throw ServerError(file: url, .endpoint, "not an http(s) URL; expected e.g. http://127.0.0.1:8080")
        }
        self.baseURL = base
        self.name = base
        self.apiKey = apiKey ?? ProcessInfo.processInfo.environment["HONEYTRACE_API_KEY"]
        self.timeout = .nanoseconds(Int64(timeout.seconds * 1e9))
        self.maxRetries = max(0, maxRetries)
        self.maxRetryWait = maxRetryWait.seconds
        if let httpClient {
            client = httpClient
            ownsClient = false
        } else {
            client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                                configuration: .init(timeout: .init(connect: .seconds(10), read: self.timeout)))
            ownsClient = true
        }
        do {
            let response = try HTTPPredictionAPI.send(client: client, url: base + "/v1/model", method: .GET, headers: [:], body: nil,
                                                      timeout: self.timeout, maxReplyBytes: HTTPPredictionAPI.maxModelReplyBytes)
            guard response.status == .ok else { throw HTTPPredictionAPI.failure(response, url: base + "/v1/model") }
            let info: ModelInfo
            do { info = try JSONDecoder().decode(ModelInfo.self, from: response.bodyData) } catch {
                throw ServerError(file: base + "/v1/model", .endpoint, "the model description is not what a Honeytrace server sends: \(error)")
            }
            if let problem = HTTPPredictionAPI.problem(info) {
                throw ServerError(file: base + "/v1/model", .endpoint, "describes an unusable model: \(problem)")
            }
            guard let mode = AnswerMode(argument: info.answerMode) else {
                throw ServerError(file: base + "/v1/model", .endpoint, "answers in unknown mode '\(info.answerMode)'")
            }
            self.info = info
            self.inputShape = info.inputShape
            self.classes = info.classes
            self.answerMode = mode
            self.serverAnswerMode = info.answerMode
            self.rowsPerRequest = max(1, min(rowsPerRequest ?? Int.max, info.maxRowsPerRequest,
                                             max(1, (info.maxBodyBytes - 256) / max(4 * info.inputSize, 1))))
        } catch {
            if ownsClient { try? client.syncShutdown() }
            throw error
        }
    }

    /// Largest `/v1/model` reply read: a description with class names is far smaller.
    static let maxModelReplyBytes = 16 << 20

    /// What is unusable in a suspect's model description (the field, what it must be, what it is),
    /// or nil. The suspect is outside data: its sizes are bounded like a `model.json`'s before
    /// anything is computed or allocated from them.
    static func problem(_ info: ModelInfo) -> String? {
        let shape = info.inputShape
        guard shape.count == 3, (1...ModelManifest.maxChannels).contains(shape[0]),
              shape.dropFirst().allSatisfy({ (1...ModelManifest.maxImageSide).contains($0) }) else {
            return "input_shape: expected [channels, height, width] with 1…\(ModelManifest.maxChannels) channels and sides of 1…\(ModelManifest.maxImageSide), found \(shape)"
        }
        let size = shape[0] * shape[1] * shape[2]
        guard size <= ModelManifest.maxImageValues else {
            return "input_shape: at most \(ModelManifest.maxImageValues) values per image expected, found \(size) in \(shape)"
        }
        guard info.inputSize == size else { return "input_size: expected \(size) (C·H·W of \(shape)), found \(info.inputSize)" }
        guard (2...ModelManifest.maxClasses).contains(info.classes) else {
            return "classes: expected 2…\(ModelManifest.maxClasses), found \(info.classes)"
        }
        guard info.maxRowsPerRequest >= 1 else { return "max_rows_per_request: expected at least 1, found \(info.maxRowsPerRequest)" }
        guard info.maxBodyBytes >= 1 else { return "max_body_bytes: expected at least 1, found \(info.maxBodyBytes)" }
        return nil
    }

    /// Largest reply read for `rows` answers: room for every class of every row as a JSON
    /// number with its label, plus a fixed allowance. A reply beyond it is an error, so a
    /// hostile suspect cannot make the verifier buffer without bound.
    func maxReplyBytes(rows: Int) -> Int {
        let perRow = 256 + 64 * classes
        let (product, overflow) = rows.multipliedReportingOverflow(by: perRow)
        return overflow ? Int.max : (64 << 10) + product
    }

    deinit {
        // Non-blocking: deinit may run on any thread, an event loop's included.
        if ownsClient { _ = client.shutdown() }
    }

    /// Images sent so far (every image of every request, retries not counted twice).
    public var queriesSent: Int { lock.lock(); defer { lock.unlock() }; return sent }
    /// HTTP requests that were answered with 200.
    public var requestsAnswered: Int { lock.lock(); defer { lock.unlock() }; return requestsSent }

    // MARK: PredictionAPI

    /// One answer row per image (blocking; see the type's note on the bridge).
    public func answer(_ pixels: Tensor) throws -> [[Float]] {
        var rows: [[Float]] = []
        for chunk in try requestChunks(pixels) { rows += try predictBlocking(chunk.values, rows: chunk.rows) }
        return rows
    }

    // MARK: Async

    /// `answer(_:)` for async callers: does not block a thread.
    public func answerAsync(_ pixels: Tensor) async throws -> [[Float]] {
        var rows: [[Float]] = []
        for (chunk, count) in try requestChunks(pixels) {
            let request = try makeRequest(chunk, rows: count)
            var attempt = 0, waited = 0.0
            while true {
                let response: HTTPClient.Response
                do {
                    response = try await HTTPPredictionAPI.execute(client, request, timeout: timeout, maxReplyBytes: maxReplyBytes(rows: count)).get()
                } catch let e as ResponseAccumulator.ResponseTooBigError {
                    throw tooBig(e, rows: count)
                }
                if let wait = retryDelay(response, attempt: attempt, waited: waited) {
                    try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                    attempt += 1
                    waited += wait
                    continue
                }
                rows += try parseAnswer(response, rows: count)
                break
            }
        }
        return rows
    }

    // MARK: Requests

    /// The checked query split into request-sized runs of flattened images.
    private func requestChunks(_ pixels: Tensor) throws -> [(values: [Float], rows: Int)] {
        try checkQuery(pixels)
        let n = pixels.shape[0], size = inputShape.reduce(1, *)
        if n == 0 { return [] }
        let flat = pixels.layout == .plain ? pixels.scalars : Autograd.inference { pixels.plain() }.scalars
        return stride(from: 0, to: n, by: rowsPerRequest).map { start in
            let count = min(rowsPerRequest, n - start)
            return (Array(flat[(start * size)..<((start + count) * size)]), count)
        }
    }

    private func predictBlocking(_ pixels: [Float], rows: Int) throws -> [[Float]] {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else {
            throw ServerError(file: baseURL, .endpoint,
                              "HTTPPredictionAPI.answer blocks and cannot be called on an event loop thread; use answerAsync")
        }
        let request = try makeRequest(pixels, rows: rows)
        var attempt = 0, waited = 0.0
        while true {
            let response: HTTPClient.Response
            do {
                response = try HTTPPredictionAPI.execute(client, request, timeout: timeout, maxReplyBytes: maxReplyBytes(rows: rows)).wait()
            } catch let e as ResponseAccumulator.ResponseTooBigError {
                throw tooBig(e, rows: rows)
            } catch {
                throw ServerError(file: baseURL + "/v1/predict", .endpoint, "request failed: \(error)")
            }
            if let wait = retryDelay(response, attempt: attempt, waited: waited) {
                Thread.sleep(forTimeInterval: wait)
                attempt += 1
                waited += wait
                continue
            }
            return try parseAnswer(response, rows: rows)
        }
    }

    private func makeRequest(_ pixels: [Float], rows: Int) throws -> HTTPClient.Request {
        let body = try NPY.encode(floats: pixels, shape: [rows] + inputShape)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-npy")
        headers.add(name: "Accept", value: "application/json")
        if let apiKey { headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        do {
            return try HTTPClient.Request(url: baseURL + "/v1/predict", method: .POST, headers: headers, body: .data(body))
        } catch {
            throw ServerError(file: baseURL, .endpoint, "cannot build a request: \(error)")
        }
    }

    private func tooBig(_ error: ResponseAccumulator.ResponseTooBigError, rows: Int) -> ServerError {
        ServerError(file: baseURL + "/v1/predict", .endpoint,
                    "the reply is larger than \(error.maxBodySize) bytes, the most \(rows) answers of \(classes) classes can take; not read further")
    }

    /// Runs `request`, reading at most `maxReplyBytes` of the reply's body (`ResponseTooBigError` beyond).
    static func execute(_ client: HTTPClient, _ request: HTTPClient.Request, timeout: TimeAmount,
                        maxReplyBytes: Int) -> EventLoopFuture<HTTPClient.Response> {
        // The accumulator refuses limits above 2³² - 1 (a ByteBuffer's capacity).
        let limit = min(max(maxReplyBytes, 0), Int(UInt32.max))
        let accumulator = ResponseAccumulator(request: request, maxBodySize: limit)
        return client.execute(request: request, delegate: accumulator, deadline: .now() + timeout).futureResult
    }

    /// Seconds to wait before retrying a 429 / 503, or nil to not retry.
    private func retryDelay(_ response: HTTPClient.Response, attempt: Int, waited: Double) -> Double? {
        guard response.status == .tooManyRequests || response.status == .serviceUnavailable, attempt < maxRetries else { return nil }
        let hinted = response.headers.first(name: "Retry-After").flatMap(Double.init) ?? 1
        let wait = min(max(hinted, 0.05), 30)
        guard waited + wait <= maxRetryWait else { return nil }
        return wait
    }

    private func parseAnswer(_ response: HTTPClient.Response, rows: Int) throws -> [[Float]] {
        let url = baseURL + "/v1/predict"
        guard response.status == .ok else { throw HTTPPredictionAPI.failure(response, url: url) }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: response.bodyData) } catch {
            throw ServerError(file: url, .endpoint, "the answer is not JSON: \(error.localizedDescription)")
        }
        guard let dict = object as? [String: Any] else { throw ServerError(file: url, .endpoint, "the answer is not a JSON object") }
        func malformed(_ what: String) -> ServerError { ServerError(file: url, .endpoint, "malformed answer: \(what)") }
        var out: [[Float]] = []
        out.reserveCapacity(rows)
        if let list = dict["probabilities"] as? [Any] {
            for (i, item) in list.enumerated() {
                guard let values = item as? [Any], values.count == classes else { throw malformed("row \(i) is not \(classes) probabilities") }
                out.append(try values.map { v -> Float in
                    guard let x = HTTPPredictionAPI.float(v) else { throw malformed("row \(i) holds a non-number") }
                    return x
                })
            }
        } else if let list = dict["labels"] as? [Any] {
            for (i, item) in list.enumerated() {
                guard let n = item as? NSNumber, let l = Int(exactly: n.doubleValue), (0..<classes).contains(l) else {
                    throw malformed("label \(i) is not a class in 0..<\(classes)")
                }
                var row = [Float](repeating: 0, count: classes)
                row[l] = 1
                out.append(row)
            }
        } else if let list = dict["topk"] as? [Any] {
            for (i, item) in list.enumerated() {
                guard let entries = item as? [Any] else { throw malformed("top-k entry \(i) is not a list") }
                var row = [Float](repeating: 0, count: classes)
                for e in entries {
                    guard let o = e as? [String: Any], let n = o["label"] as? NSNumber, let l = Int(exactly: n.doubleValue),
                          (0..<classes).contains(l), let p = o["probability"].flatMap(HTTPPredictionAPI.float) else {
                        throw malformed("top-k entry \(i) is not a list of {label, probability}")
                    }
                    row[l] = p
                }
                out.append(row)
            }
        } else {
            throw malformed("no \"probabilities\", \"labels\" or \"topk\" field")
        }
        guard out.count == rows else { throw malformed("\(out.count) answers for \(rows) images") }
        lock.lock()
        sent += rows
        requestsSent += 1
        lock.unlock()
        return out
    }

    /// A JSON number as the exact `Float` it was written from (parsed from its text when possible).
    private static func float(_ value: Any) -> Float? {
        guard let n = value as? NSNumber else { return nil }
        if let f = Float(n.description), f.isFinite { return f }
        return Float(n.doubleValue)
    }

    static func failure(_ response: HTTPClient.Response, url: String) -> ServerError {
        let data = response.bodyData
        if let body = try? JSONDecoder().decode(ErrorBody.self, from: data) {
            return ServerError(file: url, .endpoint, "HTTP \(body.error.status) \(body.error.code): \(body.error.message)")
        }
        let text = String(decoding: data.prefix(200), as: UTF8.self)
        return ServerError(file: url, .endpoint, "HTTP \(response.status.code) \(response.status.reasonPhrase)" + (text.isEmpty ? "" : ": \(text)"))
    }

    static func send(client: HTTPClient, url: String, method: HTTPMethod, headers: HTTPHeaders, body: Data?,
                     timeout: TimeAmount, maxReplyBytes: Int) throws -> HTTPClient.Response {
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: method, headers: headers, body: body.map { .data($0) })
        } catch {
            throw ServerError(file: url, .endpoint, "not a valid URL: \(error)")
        }
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else {
            throw ServerError(file: url, .endpoint, "cannot block on an event loop thread")
        }
        do {
            return try execute(client, request, timeout: timeout, maxReplyBytes: maxReplyBytes).wait()
        } catch let e as ResponseAccumulator.ResponseTooBigError {
            throw ServerError(file: url, .endpoint, "the reply is larger than \(e.maxBodySize) bytes; not read further")
        } catch {
            throw ServerError(file: url, .endpoint, "cannot reach the server: \(error)")
        }
    }
}

extension HTTPClient.Response {
    /// The body's bytes (empty when there is none).
    var bodyData: Data {
        guard let body else { return Data() }
        return Data(body.readableBytesView)
    }
}
