import Formats
import Foundation
import Honeytrace
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import XCTest

/// The OpenAPI document against the server: the committed copy is the served one, every reference
/// resolves, every error code is documented, and the answers of every route, answer mode and
/// refusal the tests can provoke conform to the documented status, content type, headers and
/// schema.
final class OpenAPIContractTests: XCTestCase {
    static let committedPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/openapi.json").path

    func document() throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    /// docs/openapi.json is the served document (HONEYTRACE_WRITE_OPENAPI=1 rewrites it).
    func testCommittedDocumentIsTheServedOne() throws {
        if ProcessInfo.processInfo.environment["HONEYTRACE_WRITE_OPENAPI"] == "1" {
            try AtomicFile.write(Data(OpenAPIDocument.json.utf8), to: Self.committedPath)
        }
        let committed = try String(contentsOfFile: Self.committedPath, encoding: .utf8)
        XCTAssertEqual(committed, OpenAPIDocument.json,
                       "docs/openapi.json differs from OpenAPIDocument.json; rewrite it with HONEYTRACE_WRITE_OPENAPI=1 swift test --filter OpenAPIContractTests")
    }

    func testDocumentIsCompleteAndItsReferencesResolve() throws {
        let doc = try document()
        XCTAssertTrue((doc["openapi"] as? String)?.hasPrefix("3.0.") == true)
        let validator = SchemaValidator(document: doc)
        // Every $ref resolves.
        func walk(_ node: Any) throws {
            if let object = node as? [String: Any] {
                if let reference = object["$ref"] as? String { _ = try validator.resolve(reference) }
                for value in object.values { try walk(value) }
            } else if let array = node as? [Any] {
                for value in array { try walk(value) }
            }
        }
        try walk(doc)
        // Every route of both routers, and nothing else.
        let paths = try XCTUnwrap(doc["paths"] as? [String: Any])
        XCTAssertEqual(Set(paths.keys), ["/v1/predict", "/v1/model", "/health", "/openapi.json", "/metrics", "/v1/clients"])
        // The error codes are exactly the server's.
        let codes = try validator.resolve("#/components/schemas/Error/properties/error/properties/code")["enum"] as? [String]
        XCTAssertEqual(Set(codes ?? []), Set(APIError.Code.allCases.map(\.rawValue)))
    }

    /// The validator finds what it must: so the contract test above can fail.
    func testValidatorReportsViolations() throws {
        let validator = SchemaValidator(document: try document())
        let error = try validator.resolve("#/components/schemas/Error")
        let good: [String: Any] = ["error": ["status": 400, "code": "wrong_shape", "message": "m"]]
        XCTAssertEqual(try validator.problems(good, error), [])
        XCTAssertEqual(try validator.problems(["error": ["status": 400, "code": "no_such_code", "message": "m"]], error).count, 1)
        XCTAssertEqual(try validator.problems(["error": ["status": 200.5, "code": "wrong_shape", "message": "m", "extra": 1]], error).count, 3)
        XCTAssertEqual(try validator.problems(["error": ["code": "wrong_shape"]], error).count, 2)
        let info = try validator.resolve("#/components/schemas/ModelInfo")
        XCTAssertFalse(try validator.problems(["input_shape": [1, 16]], info).isEmpty)
        let answer: [String: Any] = ["oneOf": [["$ref": "#/components/schemas/LabelsAnswer"], ["$ref": "#/components/schemas/ProbabilitiesAnswer"]]]
        XCTAssertEqual(try validator.problems(["labels": [1, 2]], answer), [])
        XCTAssertEqual(try validator.problems(["labels": [-1]], answer).count, 1)
        XCTAssertEqual(try validator.problems(["probabilities": [[0.2, 1.5]]], answer).count, 1)
        XCTAssertThrowsError(try validator.problems(1, ["pattern": "x"]), "an unknown keyword is an error, not skipped")
        XCTAssertThrowsError(try validator.resolve("#/components/schemas/Nothing"))
    }

    /// One exchange: a request, and the router it goes to.
    struct Exchange: Sendable {
        let name: String
        let method: HTTPRequest.Method
        let path: String
        var headers: HTTPFields = [:]
        var body: ByteBuffer? = nil
        var expected: HTTPResponse.Status
    }

    /// What the test keeps of a response.
    struct Recorded: Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: Data
    }

    func testServerAnswersConformToTheDocument() async throws {
        let doc = try document()
        let validator = SchemaValidator(document: doc)
        let paths = try XCTUnwrap(doc["paths"] as? [String: [String: Any]])
        var covered = Set<String>()

        func check(_ exchange: Exchange, _ response: Recorded) throws {
            let label = "\(exchange.name) (\(exchange.method) \(exchange.path) → \(response.status.code))"
            XCTAssertEqual(response.status, exchange.expected, "\(label): \(String(decoding: response.body, as: UTF8.self))")
            let status = Int(response.status.code)
            let operation = paths[exchange.path]?[exchange.method.rawValue.lowercased()] as? [String: Any]
            let documented: [String: Any]
            if let operation {
                let responses = try XCTUnwrap(operation["responses"] as? [String: [String: Any]], label)
                guard var entry = responses[String(status)] else { return XCTFail("\(label): status \(status) is not documented") }
                if let reference = entry["$ref"] as? String { entry = try validator.resolve(reference) }
                documented = entry
                covered.insert("\(exchange.method.rawValue.lowercased()) \(exchange.path) \(status)")
            } else {
                // No such route or method: 404 / 405 with the Error schema.
                XCTAssertTrue([404, 405].contains(status), label)
                documented = ["content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
            }
            let contentType = (response.headers[.contentType] ?? "").split(separator: ";").first.map(String.init) ?? ""
            let content = try XCTUnwrap(documented["content"] as? [String: [String: Any]], label)
            let media = try XCTUnwrap(content[contentType], "\(label): content type '\(contentType)' is not documented (\(content.keys.sorted()))")
            let schema = try XCTUnwrap(media["schema"] as? [String: Any], label)
            if contentType == "application/json" {
                let body = try XCTUnwrap(try? JSONSerialization.jsonObject(with: response.body), "\(label): the body is not JSON")
                let problems = try validator.problems(body, schema)
                XCTAssertEqual(problems, [], label)
                if status >= 400 { XCTAssertEqual(((body as? [String: Any])?["error"] as? [String: Any])?["status"] as? Int, status, label) }
            } else {
                XCTAssertEqual(schema["type"] as? String, "string", label)
            }
            for name in (documented["headers"] as? [String: Any] ?? [:]).keys {
                let value = response.headers.first { $0.name.rawName.lowercased() == name.lowercased() }?.value
                XCTAssertNotNil(value.flatMap { Int($0) }.map { $0 >= 1 }, "\(label): header \(name) missing or not a positive integer")
            }
        }

        func run(_ application: some ApplicationProtocol, _ exchanges: [Exchange], over testing: TestingSetup = .router) async throws {
            let answers = try await application.test(testing) { client in
                var answers: [Recorded] = []
                for e in exchanges {
                    answers.append(try await client.execute(uri: e.path, method: e.method, headers: e.headers, body: e.body) {
                        Recorded(status: $0.status, headers: $0.headers, body: Data($0.body.readableBytesView))
                    })
                }
                return answers
            }
            for (e, answer) in zip(exchanges, answers) { try check(e, answer) }
        }

        let alice: HTTPFields = [.authorization: "Bearer \(aliceKey)", .contentType: "application/json"]
        let bob: HTTPFields = [.authorization: "Bearer \(bobKey)", .contentType: "application/json"]
        let good = jsonBody(fx.images(2), size: imageSize)
        func predict(_ name: String, _ headers: HTTPFields, _ body: ByteBuffer, _ status: HTTPResponse.Status) -> Exchange {
            Exchange(name: name, method: .post, path: "/v1/predict", headers: headers, body: body, expected: status)
        }
        let dir = try scratchDirectory(self)
        func server(_ answer: DefenseConfiguration.AnswerMode, maxBody: Int = 64 << 10) throws -> PredictionServer {
            let sub = dir + "/\(answer)-\(maxBody)"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            return try PredictionServer(model: try fx.defended(), configuration: testConfiguration(sub, answer: answer, maxRows: 8, maxBody: maxBody),
                                        clients: try testClients())
        }
        let main = try server(.probabilities)
        try await run(main.makeApplication(), [
            Exchange(name: "health", method: .get, path: "/health", expected: .ok),
            Exchange(name: "model", method: .get, path: "/v1/model", expected: .ok),
            Exchange(name: "document", method: .get, path: "/openapi.json", expected: .ok),
            predict("probabilities", alice, good, .ok),
            predict("npy", [.authorization: "Bearer \(aliceKey)", .contentType: "application/x-npy"],
                    ByteBuffer(bytes: try NPY.encode(floats: fx.images(1), shape: [1, 1, 16, 16])), .ok),
            predict("malformed json", alice, ByteBuffer(string: "{"), .badRequest),
            predict("malformed npy", [.authorization: "Bearer \(aliceKey)", .contentType: "application/x-npy"], ByteBuffer(string: "NUMPY?"), .badRequest),
            predict("wrong shape", alice, ByteBuffer(string: #"{"images": [[0.5, 0.5]]}"#), .badRequest),
            predict("empty", alice, ByteBuffer(string: #"{"images": []}"#), .badRequest),
            predict("out of range", alice, jsonBody([Float](repeating: 2, count: imageSize), size: imageSize), .badRequest),
            predict("non-finite", [.authorization: "Bearer \(aliceKey)", .contentType: "application/x-npy"],
                    ByteBuffer(bytes: try NPY.encode(floats: [Float](repeating: .nan, count: imageSize), shape: [1, imageSize])), .badRequest),
            predict("no key", [.contentType: "application/json"], good, .unauthorized),
            predict("unknown key", [.authorization: "Bearer not-a-client-key-123456", .contentType: "application/json"], good, .unauthorized),
            predict("too many rows", alice, jsonBody(fx.images(9), size: imageSize), .contentTooLarge),
            predict("media type", [.authorization: "Bearer \(aliceKey)", .contentType: "text/plain"], good, .unsupportedMediaType),
            predict("bob's burst", bob, jsonBody(fx.images(3), size: imageSize), .ok),
            predict("bob over his limit", bob, jsonBody(fx.images(3), size: imageSize), .tooManyRequests),
            Exchange(name: "no route", method: .get, path: "/v2/nothing", expected: .notFound),
            Exchange(name: "wrong method", method: .get, path: "/v1/predict", expected: .methodNotAllowed),
        ])
        try await run(try server(.label).makeApplication(), [predict("labels", alice, good, .ok)])
        try await run(try server(.topK(3)).makeApplication(), [predict("top-3", alice, good, .ok)])
        try await run(try server(.probabilities, maxBody: 1024).makeApplication(), [predict("body too large", alice, good, .contentTooLarge)])
        try await run(Application(router: main.makeAdminRouter()), [
            Exchange(name: "admin health", method: .get, path: "/health", expected: .ok),
            Exchange(name: "metrics", method: .get, path: "/metrics", expected: .ok),
            Exchange(name: "clients", method: .get, path: "/v1/clients", expected: .ok),
            Exchange(name: "admin document", method: .get, path: "/openapi.json", expected: .ok),
        ])
        var guarded = testConfiguration(dir + "/probabilities-65536")
        guarded.adminTokenFile = try writeAdminToken(dir)
        let tokenServer = try PredictionServer(model: try fx.defended(), configuration: guarded, clients: try testClients())
        try await run(Application(router: tokenServer.makeAdminRouter()), [
            Exchange(name: "metrics without the admin token", method: .get, path: "/metrics", expected: .unauthorized),
            Exchange(name: "clients with a wrong admin token", method: .get, path: "/v1/clients",
                     headers: [.authorization: "Bearer not-the-admin-token-0000"], expected: .unauthorized),
            Exchange(name: "metrics with the admin token", method: .get, path: "/metrics",
                     headers: [.authorization: "Bearer \(adminToken)"], expected: .ok),
            Exchange(name: "open health", method: .get, path: "/health", expected: .ok),
        ])
        // The admin lockout keys on the peer's address, which only a live connection has.
        try FileManager.default.createDirectory(atPath: dir + "/locking", withIntermediateDirectories: true)
        var lockedOut = testConfiguration(dir + "/locking")
        lockedOut.adminTokenFile = guarded.adminTokenFile
        lockedOut.lockoutFailures = 1
        let lockingServer = try PredictionServer(model: try fx.defended(), configuration: lockedOut, clients: try testClients())
        try await run(Application(router: lockingServer.makeAdminRouter()), [
            Exchange(name: "metrics with a wrong admin token", method: .get, path: "/metrics",
                     headers: [.authorization: "Bearer not-the-admin-token-0000"], expected: .unauthorized),
            Exchange(name: "metrics when locked out", method: .get, path: "/metrics",
                     headers: [.authorization: "Bearer \(adminToken)"], expected: .tooManyRequests),
            Exchange(name: "clients when locked out", method: .get, path: "/v1/clients",
                     headers: [.authorization: "Bearer \(adminToken)"], expected: .tooManyRequests),
            Exchange(name: "health when locked out", method: .get, path: "/health", expected: .ok),
        ], over: .live)

        // Every documented operation and status was seen, but those no test request can provoke
        // (a failing model, a full queue) and 408, which needs a live connection (BodyTimeoutTests).
        var documented = Set<String>()
        for (path, methods) in paths {
            for (method, operation) in methods {
                guard let responses = (operation as? [String: Any])?["responses"] as? [String: Any] else { continue }
                for status in responses.keys where !["500", "503", "408"].contains(status) { documented.insert("\(method) \(path) \(status)") }
            }
        }
        XCTAssertEqual(documented.subtracting(covered), [], "documented but never exercised")
    }
}
