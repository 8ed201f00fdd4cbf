import AsyncHTTPClient
import Extraction
import Foundation
import Honeytrace
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import Prediction
import TensorEngine
import XCTest

/// The server on loopback, reached through the HTTP client the attacks and the verifier use.
final class LiveTests: XCTestCase {

    func testHTTPClientGetsTheInProcessAnswers() async throws {
        let dir = try scratchDirectory(self)
        let defended = try fx.defended()
        let server = try PredictionServer(model: defended, configuration: testConfiguration(dir, maxRows: 8), clients: try testClients())
        let pixels = fx.images(20)
        let x = fx.tensor(pixels)
        let expected = try defended.query(x)
        try await server.makeApplication().test(.live) { client in
            let port = try XCTUnwrap(client.port)
            let url = "http://localhost:\(port)"
            // Blocking client on a plain thread, as an attack or the verifier would call it.
            let api = try await onThread { try HTTPPredictionAPI(url: url + "/v1/predict", apiKey: aliceKey) }
            XCTAssertEqual(api.inputShape, [1, 16, 16])
            XCTAssertEqual(api.classes, 10)
            XCTAssertEqual(api.answerMode, .probabilities)
            XCTAssertEqual(api.rowsPerRequest, 8)
            let rows = try await onThread { try api.answer(x) }  // 20 images → 3 requests of ≤ 8
            XCTAssertEqual(rows.count, 20)
            for r in 0..<20 {
                let want = expected.probabilities(row: r)
                for j in 0..<10 { XCTAssertEqual(rows[r][j], want[j], accuracy: 1e-6, "row \(r) class \(j)") }
            }
            XCTAssertEqual(api.queriesSent, 20)
            XCTAssertEqual(api.requestsAnswered, 3)

            // The same client as a suspect model and behind the attacks' query boundary.
            let labels = try await onThread { try api.labels(for: x) }
            XCTAssertEqual(labels, expected.labels)
            try api.checkCompatible(inputShape: [1, 16, 16], classes: 10)
            let (bounded, refused) = try await onThread { () -> (Int, Bool) in
                let boundary = try QueryBoundary(api: api, budget: 25)
                let rows = try boundary.query(fx.tensor(fx.images(5)))
                // 20 left of the budget: 21 images are refused before anything is sent.
                do { _ = try boundary.query(fx.tensor(fx.images(21))) } catch let e as ExtractionError {
                    return (rows.count, e.kind == .budgetExceeded)
                }
                return (rows.count, false)
            }
            XCTAssertEqual(bounded, 5)
            XCTAssertTrue(refused)
            let async = try await api.answerAsync(fx.tensor(fx.images(2)))
            XCTAssertEqual(async[1][3], expected.probabilities(row: 1)[3], accuracy: 1e-6)

            // Errors reach the caller with the server's code and message.
            let stranger = try await onThread { try HTTPPredictionAPI(url: url, apiKey: "nobody-knows-this-key-42") }
            do {
                _ = try await onThread { try stranger.answer(x) }
                XCTFail("an unknown key was answered")
            } catch {
                XCTAssertTrue("\(error)".contains("401 unknown_client"), "\(error)")
            }
        }
        XCTAssertEqual(server.ledger.record(client: "alice")?.queries, 20 + 20 + 5 + 2)
    }

    func testLabelEndpointAsSuspectAndTopKRows() async throws {
        let dir = try scratchDirectory(self)
        let defended = try fx.defended()
        let x = fx.tensor(fx.images(6))
        let expected = try defended.query(x)
        for mode in [DefenseConfiguration.AnswerMode.label, .topK(3)] {
            try FileManager.default.createDirectory(atPath: dir + "/\(mode)", withIntermediateDirectories: true)
            let server = try PredictionServer(model: defended, configuration: testConfiguration(dir + "/\(mode)", answer: mode),
                                              clients: nil)
            try await server.makeApplication().test(.live) { client in
                let api = try await onThread { try HTTPPredictionAPI(url: "http://localhost:\(client.port!)") }
                let rows = try await onThread { try api.answer(x) }
                for r in 0..<6 {
                    let row = mode.shape(expected.probabilities(row: r))
                    for j in 0..<10 { XCTAssertEqual(rows[r][j], row[j], accuracy: 1e-6, "\(mode) row \(r)") }
                }
                let labels = try await onThread { try api.labels(for: x) }
                XCTAssertEqual(labels, expected.labels)
            }
        }
    }

    /// `run` with an admin server: both listen, /metrics answers on the admin port, and a
    /// graceful shutdown writes the counts.
    func testRunServesAPIAndAdminThenShutsDownGracefully() async throws {
        let dir = try scratchDirectory(self)
        let config = testConfiguration(dir, adminPort: 0)
        let server = try PredictionServer(model: try fx.defended(), configuration: config, clients: nil)
        try await withRunningServer(server) { addresses, http in
            XCTAssertNotNil(addresses.adminPort)
            var request = HTTPClientRequest(url: addresses.baseURL + "/v1/predict")
            request.method = .POST
            request.body = .bytes(jsonBody(fx.images(2), size: 256))
            let response = try await http.execute(request, timeout: .seconds(10))
            XCTAssertEqual(response.status, .ok)
            let metrics = try await http.execute(HTTPClientRequest(url: addresses.adminURL! + "/metrics"), timeout: .seconds(10))
            XCTAssertEqual(metrics.status, .ok)
            let text = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
            XCTAssertTrue(text.contains("honeytrace_queries_total{client=\"anonymous\"} 2"), text)
            // The admin port is not the API: no predictions there.
            let wrong = try await http.execute(HTTPClientRequest(url: addresses.adminURL! + "/v1/predict"), timeout: .seconds(10))
            XCTAssertEqual(wrong.status, .notFound)
        }
        // Closed by the shutdown: the counts are on disk.
        let reopened = try QueryLedger(path: config.resolvedDatabasePath, modelSHA256: server.ledger.modelSHA256,
                                       keyFingerprint: server.ledger.keyFingerprint)
        XCTAssertEqual(reopened.record(client: ClientRegistry.anonymous)?.queries, 2)
        try reopened.close()
    }

    /// SIGTERM: the request in flight (waiting 300 ms in the batcher) is still answered, then the
    /// server stops and its counts are on disk with the run's stop time.
    func testSIGTERMShutsDownGracefully() async throws {
        let dir = try scratchDirectory(self)
        let config = testConfiguration(dir, batchWait: .milliseconds(300))
        let server = try PredictionServer(model: try fx.defended(), configuration: config, clients: nil)
        let (stream, continuation) = AsyncStream.makeStream(of: ServerAddresses.self)
        let group = server.makeServiceGroup(gracefulShutdownSignals: [.sigterm]) { continuation.yield($0) }
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        let status = try await withThrowingTaskGroup(of: Int?.self) { tasks in
            tasks.addTask { try await group.run(); return nil }
            var it = stream.makeAsyncIterator()
            let next = await it.next()
            let addresses = try XCTUnwrap(next)
            tasks.addTask {
                var request = HTTPClientRequest(url: addresses.baseURL + "/v1/predict")
                request.method = .POST
                request.body = .bytes(jsonBody(fx.images(1), size: imageSize))
                let response = try await http.execute(request, timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 20)
                return Int(response.status.code)
            }
            try await Task.sleep(for: .milliseconds(100))
            kill(getpid(), SIGTERM)
            var status: Int?
            for try await result in tasks { if let result { status = result } }
            return status
        }
        try await http.shutdown()
        XCTAssertEqual(status, 200)
        let reopened = try QueryLedger(path: config.resolvedDatabasePath, modelSHA256: server.ledger.modelSHA256,
                                       keyFingerprint: server.ledger.keyFingerprint)
        XCTAssertEqual(reopened.record(client: ClientRegistry.anonymous)?.queries, 1)
        try reopened.close()
    }

    /// `verify --endpoint`: the verifier against a served model reaches the same report as
    /// against the same model in process, bare (a surrogate served without a key) and defended.
    func testOwnershipVerificationAgainstAnEndpointMatchesLocal() async throws {
        let dir = try scratchDirectory(self)
        let triggers = try TriggerSet.make(key: fx.key, heldOut: fx.data, count: 40, seed: 11)
        let verifier = try OwnershipVerifier(key: fx.key, triggers: triggers, batchSize: 32)
        let local = try verifier.verify(suspect: ModelAPI(model: fx.model, answerMode: .label, name: "local"))
        let defendedLocal = try verifier.verify(suspect: try fx.defended())
        for defended in [false, true] {
            try FileManager.default.createDirectory(atPath: dir + "/\(defended)", withIntermediateDirectories: true)
            let config = testConfiguration(dir + "/\(defended)", answer: .label, maxRows: 16)
            let server = defended ? try PredictionServer(model: try fx.defended(), configuration: config, clients: nil)
                                  : try PredictionServer(undefended: fx.model, configuration: config, clients: nil)
            XCTAssertEqual(server.ledger.keyFingerprint, defended ? fx.key.secretFingerprint : PredictionServer.undefendedFingerprint)
            try await server.makeApplication().test(.live) { client in
                let url = "http://localhost:\(client.port!)"
                let remote = try await onThread { try verifier.verify(suspect: try HTTPPredictionAPI(url: url)) }
                let want = defended ? defendedLocal : local
                XCTAssertEqual(remote.suspect, url)
                XCTAssertEqual(remote.verdict, want.verdict)
                XCTAssertEqual(remote.triggerHits, want.triggerHits)
                XCTAssertEqual(remote.controlHits, want.controlHits)
                XCTAssertEqual(remote.pValue, want.pValue)
                XCTAssertEqual(remote.queriesSpent, 80)
            }
            XCTAssertEqual(server.ledger.record(client: ClientRegistry.anonymous)?.queries, 80)
        }
    }

    func testHTTPClientReportsUnreachableAndBadURLs() throws {
        assertThrows(try HTTPPredictionAPI(url: "ftp://example"), mentioning: ["not an http(s) URL"])
        assertThrows(try HTTPPredictionAPI(url: "http://127.0.0.1:1", timeout: .seconds(1)), mentioning: ["http://127.0.0.1:1", "cannot reach"])
    }
}
