import Formats
import Foundation
import Honeytrace
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import TensorEngine
import XCTest

/// Every route and every error code, through Hummingbird's in-memory router test client.
final class RouterTests: XCTestCase {

    func makeServer(answer: DefenseConfiguration.AnswerMode? = nil, clients: ClientRegistry? = nil, offset: Float? = nil,
                    batchWait: Duration = .milliseconds(2), maxRows: Int = 8, maxBody: Int = 64 << 10) throws -> PredictionServer {
        let dir = try scratchDirectory(self)
        return try PredictionServer(model: try fx.defended(offset: offset), configuration: testConfiguration(
            dir, answer: answer, batchWait: batchWait, maxRows: maxRows, maxBody: maxBody), clients: clients)
    }

    func testHealthAndModelInfo() async throws {
        let server = try makeServer(answer: .topK(3), clients: try testClients())
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.json as? [String: String], ["status": "ok"])
            }
            try await client.execute(uri: "/v1/model", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let info = try JSONDecoder().decode(ModelInfo.self, from: Data(response.body.readableBytesView))
                XCTAssertEqual(info.inputShape, [1, 16, 16])
                XCTAssertEqual(info.inputSize, 256)
                XCTAssertEqual(info.classes, 10)
                XCTAssertEqual(info.answerMode, "top-3")
                XCTAssertEqual(info.maxRowsPerRequest, 8)
                // Public metadata only: nothing of the key.
                let text = String(buffer: response.body).lowercased()
                for secret in ["secret", "offset", "target", "watermark", "fingerprint", "sha256", fx.key.secretFingerprint] {
                    XCTAssertFalse(text.contains(secret.lowercased()), "model info mentions '\(secret)': \(text)")
                }
                let object = response.json as? [String: Any]
                XCTAssertEqual(Set(object?.keys.map { $0 } ?? []),
                               ["input_shape", "input_size", "classes", "answer_mode", "max_rows_per_request", "max_body_bytes", "content_types"])
            }
        }
    }

    func testPredictJSONMatchesDefendedModel() async throws {
        let server = try makeServer(clients: try testClients())
        let pixels = fx.images(3)
        let expected = try fx.defended().query(fx.tensor(pixels))
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/v1/predict", method: .post,
                                     headers: [.authorization: "Bearer \(aliceKey)", .contentType: "application/json"],
                                     body: jsonBody(pixels, size: imageSize)) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let rows = try XCTUnwrap((response.json as? [String: Any])?["probabilities"] as? [[Double]])
                XCTAssertEqual(rows.count, 3)
                for r in 0..<3 {
                    XCTAssertEqual(rows[r].count, 10)
                    XCTAssertEqual(rows[r].reduce(0, +), 1, accuracy: 1e-5)
                    let want = expected.probabilities(row: r)
                    for j in 0..<10 { XCTAssertEqual(Float(rows[r][j]), want[j], accuracy: 1e-6) }
                }
            }
        }
        let record = try XCTUnwrap(server.ledger.record(client: "alice"))
        XCTAssertEqual(record.requests, 1)
        XCTAssertEqual(record.queries, 3)
    }

    /// A key with a heavy-client policy: each client is answered by the key's defense until its
    /// answered count in the ledger reaches the threshold, then by the heavy-client defense.
    func testClientsPastTheThresholdGetTheHeavyClientDefense() async throws {
        let dir = try scratchDirectory(self)
        var key = fx.key
        var strong = HeavyClientPolicy.recommendedDefense(from: key.defense)
        strong.offset = -1e4  // s = 0 on every image (the fixture key mixes all of them): nothing mixed
        key.heavyClient = HeavyClientPolicy(afterQueries: 3, defense: strong)
        try key.save(to: dir + "/heavy.htkey")
        var configuration = testConfiguration(dir)
        configuration.modelDirectory = fx.directory
        configuration.keyPath = dir + "/heavy.htkey"
        configuration.clientsFile = nil
        let server = try PredictionServer(configuration: configuration)
        let pixels = fx.images(3, from: 20)
        let honest = try fx.defended().query(fx.tensor(pixels))
        let heavy = try DefendedModel(model: fx.model, key: key, configuration: strong).query(fx.tensor(pixels))
        XCTAssertNotEqual(honest.probabilities, heavy.probabilities, "the two defenses must answer these images differently")
        @Sendable func rows(_ response: TestResponse) throws -> [[Double]] {
            XCTAssertEqual(response.status, .ok, String(buffer: response.body))
            return try XCTUnwrap((response.json as? [String: Any])?["probabilities"] as? [[Double]])
        }
        @Sendable func assertRows(_ got: [[Double]], _ want: DefenseOutput, _ note: String) {
            for r in 0..<3 { for j in 0..<10 { XCTAssertEqual(Float(got[r][j]), want.probabilities(row: r)[j], accuracy: 1e-6, "\(note) row \(r)") } }
        }
        try await server.makeApplication().test(.router) { client in
            let body = jsonBody(pixels, size: imageSize)
            // Queries 1–3: below the threshold; 4–6: past it.
            try await client.execute(uri: "/v1/predict", method: .post, headers: [.contentType: "application/json"], body: body) {
                assertRows(try rows($0), honest, "first request")
            }
            try await client.execute(uri: "/v1/predict", method: .post, headers: [.contentType: "application/json"], body: body) {
                assertRows(try rows($0), heavy, "second request")
            }
        }
        XCTAssertEqual(server.ledger.record(client: ClientRegistry.anonymous)?.queries, 6)
    }

    func testPredictNPYFloatAndUInt8() async throws {
        let server = try makeServer()  // no clients file: anonymous
        let pixels = fx.images(2, from: 5)
        let expected = try fx.defended().query(fx.tensor(pixels))
        let bytes = (0..<imageSize).map { UInt8($0 % 256) }
        let expectedBytes = try fx.defended().query(fx.tensor(bytes.map { Float($0) / 255 }))
        try await server.makeApplication().test(.router) { client in
            for shape in [[2, 1, 16, 16], [2, 256], [2, 16, 16]] {
                let body = try NPY.encode(floats: pixels, shape: shape)
                try await client.execute(uri: "/v1/predict", method: .post, headers: [.contentType: "application/x-npy"],
                                         body: ByteBuffer(bytes: body)) { response in
                    XCTAssertEqual(response.status, .ok, "\(shape): \(String(buffer: response.body))")
                    let rows = try XCTUnwrap((response.json as? [String: Any])?["probabilities"] as? [[Double]])
                    XCTAssertEqual(rows.count, 2)
                    XCTAssertEqual(Float(rows[1][4]), expected.probabilities(row: 1)[4], accuracy: 1e-6)
                }
            }
            let body = try NPY.encode(uint8: bytes, shape: [1, 1, 16, 16])
            try await client.execute(uri: "/v1/predict", method: .post, headers: [.contentType: "application/octet-stream"],
                                     body: ByteBuffer(bytes: body)) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let rows = try XCTUnwrap((response.json as? [String: Any])?["probabilities"] as? [[Double]])
                XCTAssertEqual(Float(rows[0][0]), expectedBytes.probabilities(row: 0)[0], accuracy: 1e-6)
            }
        }
        XCTAssertEqual(server.ledger.record(client: ClientRegistry.anonymous)?.queries, 7)
    }

    func testLabelAndTopKAnswers() async throws {
        let pixels = fx.images(4)
        let expected = try fx.defended().query(fx.tensor(pixels))
        let labels = try makeServer(answer: .label)
        try await labels.makeApplication().test(.router) { client in
            try await client.execute(uri: "/v1/predict", method: .post, body: jsonBody(pixels, size: imageSize)) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual((response.json as? [String: Any])?["labels"] as? [Int], expected.labels)
                XCTAssertNil((response.json as? [String: Any])?["probabilities"])
            }
        }
        let topk = try makeServer(answer: .topK(2))
        try await topk.makeApplication().test(.router) { client in
            try await client.execute(uri: "/v1/predict", method: .post, body: jsonBody(pixels, size: imageSize)) { response in
                XCTAssertEqual(response.status, .ok)
                let rows = try XCTUnwrap((response.json as? [String: Any])?["topk"] as? [[[String: Any]]])
                XCTAssertEqual(rows.count, 4)
                for (r, row) in rows.enumerated() {
                    XCTAssertEqual(row.count, 2)
                    guard case .topK(let want) = expected.answer(row: r, mode: .topK(2)) else { return XCTFail() }
                    XCTAssertEqual(row.map { $0["label"] as? Int }, want.map { $0.label })
                    XCTAssertEqual(Float((row[0]["probability"] as? Double) ?? -1), want[0].probability, accuracy: 1e-6)
                }
            }
        }
    }

    /// Each bad request: status, stable code, and a message naming the problem.
    func testEveryBadRequestGetsANamedJSONError() async throws {
        let server = try makeServer(clients: try testClients(), maxRows: 4, maxBody: 16 << 10)
        let auth: HTTPFields = [.authorization: "Bearer \(aliceKey)", .contentType: "application/json"]
        let good = fx.images(1)
        let nanBody = "{\"images\": [[" + good.dropLast().map { "\($0)" }.joined(separator: ",") + ",\"NaN\"]]}"
        let cases: [(String, HTTPFields, ByteBuffer, HTTPResponse.Status, APIError.Code, [String])] = [
            ("malformed JSON", auth, ByteBuffer(string: "{\"images\": [[0.1, 0.2"), .badRequest, .malformedJSON, ["not valid JSON"]),
            ("no images field", auth, ByteBuffer(string: "{\"pictures\": []}"), .badRequest, .malformedJSON, ["images"]),
            ("images not an array", auth, ByteBuffer(string: "{\"images\": 3}"), .badRequest, .malformedJSON, ["wrong type"]),
            ("wrong image size", auth, jsonBody(Array(good.prefix(200)), size: 200), .badRequest, .wrongShape, ["image 0", "200 values", "256"]),
            ("nested image", auth, ByteBuffer(string: "{\"images\": [[[0.1]]]}"), .badRequest, .wrongShape, ["images[0][0]"]),
            ("NaN", auth, ByteBuffer(string: nanBody), .badRequest, .nonFinite, ["NaN", "image 0", "pixel 255"]),
            ("infinity", auth, ByteBuffer(string: nanBody.replacingOccurrences(of: "\"NaN\"", with: "\"-Infinity\"")), .badRequest,
             .nonFinite, ["infinity"]),
            ("out of range", auth, jsonBody([Float](repeating: 1.5, count: 256), size: 256), .badRequest, .outOfRange, ["1.5", "[0, 1]"]),
            ("no image", auth, ByteBuffer(string: "{\"images\": []}"), .badRequest, .emptyRequest, ["no image"]),
            ("too many rows", auth, jsonBody(fx.images(5), size: imageSize), .contentTooLarge, .tooManyRows, ["5 images", "at most 4"]),
            ("body too large", auth, ByteBuffer(string: "{\"images\": [[" + String(repeating: "0.5,", count: 8000) + "0.5]]}"),
             .contentTooLarge, .bodyTooLarge, ["16384"]),
            ("media type", [.authorization: "Bearer \(aliceKey)", .contentType: "text/plain"], ByteBuffer(string: "hi"),
             .unsupportedMediaType, .unsupportedMediaType, ["text/plain"]),
            // Once a crash (an index into the empty split of ";"): every degenerate header is a 415.
            ("bare semicolon", [.authorization: "Bearer \(aliceKey)", .contentType: ";"], jsonBody(good, size: imageSize),
             .unsupportedMediaType, .unsupportedMediaType, ["without a media type"]),
            ("empty content type", [.authorization: "Bearer \(aliceKey)", .contentType: ""], jsonBody(good, size: imageSize),
             .unsupportedMediaType, .unsupportedMediaType, ["without a media type"]),
            ("parameters only", [.authorization: "Bearer \(aliceKey)", .contentType: " ;charset=utf-8;;"], jsonBody(good, size: imageSize),
             .unsupportedMediaType, .unsupportedMediaType, ["without a media type"]),
            ("no API key", [.contentType: "application/json"], jsonBody(good, size: imageSize), .unauthorized, .missingAPIKey, ["Bearer"]),
            ("not bearer", [.authorization: "Basic abc"], jsonBody(good, size: imageSize), .unauthorized, .missingAPIKey, ["Bearer"]),
            ("unknown key", [.authorization: "Bearer not-a-client-key-123456"], jsonBody(good, size: imageSize), .unauthorized,
             .unknownClient, ["no client"]),
            ("malformed npy", [.authorization: "Bearer \(aliceKey)", .contentType: "application/x-npy"], ByteBuffer(string: "NUMPY?"),
             .badRequest, .malformedNPY, [".npy"]),
            ("npy shape", [.authorization: "Bearer \(aliceKey)", .contentType: "application/x-npy"],
             ByteBuffer(bytes: try NPY.encode(floats: [Float](repeating: 0.5, count: 300), shape: [1, 300])), .badRequest, .wrongShape,
             ["(1, 300)", "[N, 1, 16, 16]"]),
            ("npy NaN", [.authorization: "Bearer \(aliceKey)", .contentType: "application/x-npy"],
             ByteBuffer(bytes: try NPY.encode(floats: [Float](repeating: .nan, count: 256), shape: [1, 256])), .badRequest, .nonFinite,
             ["NaN"]),
        ]
        try await server.makeApplication().test(.router) { client in
            for (name, headers, body, status, code, words) in cases {
                try await client.execute(uri: "/v1/predict", method: .post, headers: headers, body: body) { response in
                    XCTAssertEqual(response.status, status, "\(name): \(String(buffer: response.body))")
                    XCTAssertEqual(response.headers[.contentType], "application/json; charset=utf-8", name)
                    let error = try errorBody(response)
                    XCTAssertEqual(error.error.code, code.rawValue, name)
                    XCTAssertEqual(error.error.status, Int(status.code), name)
                    for w in words { XCTAssertTrue(error.error.message.contains(w), "\(name): '\(error.error.message)' lacks '\(w)'") }
                    if status == .unauthorized { XCTAssertNotNil(response.headers[.wwwAuthenticate], name) }
                }
            }
            try await client.execute(uri: "/v1/nothing", method: .get) { response in
                XCTAssertEqual(response.status, .notFound)
                XCTAssertEqual(try errorBody(response).error.code, "not_found")
                XCTAssertTrue(try errorBody(response).error.message.contains("/v1/predict"))
            }
            try await client.execute(uri: "/v1/predict", method: .get) { response in
                XCTAssertEqual(response.status, .methodNotAllowed)
                XCTAssertEqual(try errorBody(response).error.code, "method_not_allowed")
                XCTAssertEqual(response.headers[.allow], "POST")
            }
        }
        // Refusals of a known client are counted; nothing was answered.
        let alice = try XCTUnwrap(server.ledger.record(client: "alice"))
        XCTAssertEqual(alice.queries, 0)
        XCTAssertGreaterThanOrEqual(alice.rejectedRequests, 10)
        XCTAssertNil(server.ledger.record(client: "bob"))
    }

    /// Garbage and mutated bodies of both formats: always a 4xx JSON error, never a 5xx or a crash.
    func testMutatedBodiesNeverCrash() async throws {
        let server = try makeServer(maxRows: 4)
        var g = SeededGenerator(seed: 99)
        let json = Array(String(buffer: jsonBody(fx.images(2), size: imageSize)).utf8)
        let npy = [UInt8](try NPY.encode(floats: fx.images(2), shape: [2, 1, 16, 16]))
        var bodies: [(ByteBuffer, String)] = []
        for i in 0..<60 {
            var bytes = i % 2 == 0 ? json : npy
            switch i % 3 {
            case 0: for _ in 0..<4 { bytes[g.nextInt(below: bytes.count)] = UInt8(truncatingIfNeeded: g.next()) }
            case 1: bytes = Array(bytes.prefix(g.nextInt(below: bytes.count)))
            default: bytes = (0..<g.nextInt(below: 300)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            }
            if i % 2 == 1 && i % 3 == 0 {
                // A header that claims a huge shape.
                let dict = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 256), }".utf8)
                bytes = [0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0] + dict + [UInt8](repeating: 0x20, count: 117 - dict.count) + [0x0A]
                    + [0, 0, 0, 0]
            }
            bodies.append((ByteBuffer(bytes: bytes), i % 2 == 0 ? "application/json" : "application/x-npy"))
        }
        let cases = bodies
        try await server.makeApplication().test(.router) { client in
            for (i, (body, type)) in cases.enumerated() {
                try await client.execute(uri: "/v1/predict", method: .post, headers: [.contentType: type], body: body) { response in
                    if response.status == .ok { return }  // a mutation may leave a valid request
                    XCTAssertTrue((400..<500).contains(Int(response.status.code)), "body \(i): \(response.status) \(String(buffer: response.body))")
                    XCTAssertNoThrow(try errorBody(response), "body \(i)")
                }
            }
        }
    }

    func testRateLimitAnswers429WithRetryAfter() async throws {
        let server = try makeServer(clients: try testClients())
        let bob: HTTPFields = [.authorization: "Bearer \(bobKey)", .contentType: "application/json"]
        try await server.makeApplication().test(.router) { client in
            // Burst 3: two images, then one, then the bucket is empty.
            for n in [2, 1] {
                try await client.execute(uri: "/v1/predict", method: .post, headers: bob, body: jsonBody(fx.images(n), size: imageSize)) {
                    XCTAssertEqual($0.status, .ok)
                }
            }
            try await client.execute(uri: "/v1/predict", method: .post, headers: bob, body: jsonBody(fx.images(1), size: imageSize)) { response in
                XCTAssertEqual(response.status, .tooManyRequests)
                XCTAssertEqual(try errorBody(response).error.code, "rate_limited")
                XCTAssertTrue(try errorBody(response).error.message.contains("bob"))
                XCTAssertEqual(response.headers[.retryAfter], "1")
            }
            // More images than the burst can ever hold: 413, not an endless 429.
            try await client.execute(uri: "/v1/predict", method: .post, headers: bob, body: jsonBody(fx.images(4), size: imageSize)) { response in
                XCTAssertEqual(response.status, .contentTooLarge)
                XCTAssertTrue(try errorBody(response).error.message.contains("burst 3"))
            }
            // Alice has no limit.
            for _ in 0..<4 {
                try await client.execute(uri: "/v1/predict", method: .post, headers: [.authorization: "Bearer \(aliceKey)"],
                                         body: jsonBody(fx.images(2), size: imageSize)) { XCTAssertEqual($0.status, .ok) }
            }
        }
        XCTAssertEqual(server.ledger.record(client: "bob")?.queries, 3)
        XCTAssertEqual(server.ledger.record(client: "bob")?.rejectedRequests, 2)
        XCTAssertEqual(server.ledger.record(client: "alice")?.queries, 8)
    }

    /// A rate so small that the wait overflows `Int` (a clients file may give 1e-300 queries/s)
    /// answers 429 with the longest Retry-After rather than stopping the server.
    func testTinyRateGivesALongRetryAfter() async throws {
        let carolKey = "carol-key-0123456789abcdef"
        let server = try makeServer(clients: try ClientRegistry(clients: [
            ClientEntry(name: "carol", key: carolKey, rateLimit: RateLimit(queriesPerSecond: 1e-300, burst: 1)),
        ]))
        let carol: HTTPFields = [.authorization: "Bearer \(carolKey)", .contentType: "application/json"]
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/v1/predict", method: .post, headers: carol, body: jsonBody(fx.images(1), size: imageSize)) {
                XCTAssertEqual($0.status, .ok)
            }
            try await client.execute(uri: "/v1/predict", method: .post, headers: carol, body: jsonBody(fx.images(1), size: imageSize)) { response in
                XCTAssertEqual(response.status, .tooManyRequests)
                XCTAssertEqual(response.headers[.retryAfter], "\(Int.max)")
            }
        }
    }

    /// Concurrent single-image requests share forward passes, and each still gets its own answer.
    func testConcurrentRequestsAreBatched() async throws {
        let server = try makeServer(batchWait: .milliseconds(50))
        let n = 24
        let pixels = fx.images(n)
        let expected = try fx.defended().query(fx.tensor(pixels))
        try await server.makeApplication().test(.router) { client in
            try await withThrowingTaskGroup(of: (Int, [Double]).self) { group in
                for i in 0..<n {
                    group.addTask {
                        try await client.execute(uri: "/v1/predict", method: .post,
                                                 body: jsonBody(Array(pixels[(i * imageSize)..<((i + 1) * imageSize)]), size: imageSize)) { response in
                            XCTAssertEqual(response.status, .ok)
                            return (i, ((response.json as? [String: Any])?["probabilities"] as? [[Double]])?.first ?? [])
                        }
                    }
                }
                for try await (i, row) in group {
                    let want = expected.probabilities(row: i)
                    XCTAssertEqual(row.count, 10)
                    for j in 0..<min(row.count, 10) { XCTAssertEqual(Float(row[j]), want[j], accuracy: 1e-5) }
                }
            }
        }
        let stats = server.batchStatistics()
        XCTAssertEqual(stats.rows, n)
        XCTAssertLessThan(stats.batches, n / 2, "24 concurrent requests ran in \(stats.batches) forward passes")
    }

    /// Metrics, health and per-client statistics on the admin router.
    func testAdminRoutes() async throws {
        let server = try makeServer(clients: try testClients(), offset: 1e9)
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/v1/predict", method: .post, headers: [.authorization: "Bearer \(aliceKey)"],
                                     body: jsonBody(fx.images(3), size: imageSize)) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/v1/predict", method: .post, headers: [.authorization: "Bearer \(aliceKey)"],
                                     body: ByteBuffer(string: "{")) { XCTAssertEqual($0.status, .badRequest) }
        }
        let admin = Application(router: server.makeAdminRouter())
        try await admin.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            try await client.execute(uri: "/metrics", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let text = String(buffer: response.body)
                XCTAssertTrue(text.contains("honeytrace_queries_total{client=\"alice\"} 3"), text)
                XCTAssertTrue(text.contains("honeytrace_rows_mixed_total{client=\"alice\"} 3"), text)
                XCTAssertTrue(text.contains("honeytrace_rejected_requests_total{code=\"malformed_json\"} 1"), text)
                XCTAssertTrue(text.contains("honeytrace_http_requests_total{route=\"/v1/predict\",status=\"200\"} 1"), text)
                XCTAssertTrue(text.contains("honeytrace_batch_rows_count"), text)
            }
            try await client.execute(uri: "/v1/clients", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let clients = try XCTUnwrap((response.json as? [String: Any])?["clients"] as? [[String: Any]])
                XCTAssertEqual(clients.count, 1)
                XCTAssertEqual(clients[0]["client"] as? String, "alice")
                XCTAssertEqual(clients[0]["queries"] as? Int, 3)
                XCTAssertEqual(clients[0]["rows_mixed"] as? Int, 3)
                XCTAssertEqual(clients[0]["rejected_requests"] as? Int, 1)
                XCTAssertGreaterThan(clients[0]["mean_similarity"] as? Double ?? 0, 0.99)
            }
            try await client.execute(uri: "/metrics", method: .post) { XCTAssertEqual($0.status, .methodNotAllowed) }
        }
    }
}
