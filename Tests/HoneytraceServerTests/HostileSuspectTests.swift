import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Prediction
import TensorEngine
import XCTest

/// `verify --endpoint` against a suspect that lies: sizes that overflow or exhaust memory in its
/// model description, replies larger than its answers can be. Each is an error naming the field
/// or the limit, never a crash or an unbounded read.
final class HostileSuspectTests: XCTestCase {
    /// A well-formed description of a 1×16×16, 10-class model, with `change` applied.
    func info(_ change: (inout ModelInfo) -> Void = { _ in }) -> ModelInfo {
        var i = ModelInfo(inputShape: [1, 16, 16], inputSize: 256, classes: 10, classNames: nil, answerMode: "probabilities",
                          maxRowsPerRequest: 256, maxBodyBytes: 8 << 20, contentTypes: ["application/json", "application/x-npy"])
        change(&i)
        return i
    }

    func testModelDescriptionsOutOfRangeAreNamed() {
        XCTAssertNil(HTTPPredictionAPI.problem(info()))
        let cases: [(ModelInfo, [String])] = [
            (info { $0.inputShape = [1, 1 << 62, 4]; $0.inputSize = 4 }, ["input_shape", "1…1024", "4611686018427387904"]),
            (info { $0.inputShape = [1 << 40, 1 << 40, 1 << 40] }, ["input_shape"]),
            (info { $0.inputShape = [64, 1024, 1024]; $0.inputSize = 64 << 20 }, ["input_shape", "at most 4194304", "67108864"]),
            (info { $0.inputShape = [1, 16] }, ["input_shape", "[1, 16]"]),
            (info { $0.inputSize = 255 }, ["input_size", "expected 256", "found 255"]),
            (info { $0.classes = Int.max }, ["classes", "2…100000", "\(Int.max)"]),
            (info { $0.maxBodyBytes = Int.min }, ["max_body_bytes", "at least 1", "\(Int.min)"]),
            (info { $0.maxRowsPerRequest = 0 }, ["max_rows_per_request", "at least 1"]),
        ]
        for (bad, words) in cases {
            let problem = HTTPPredictionAPI.problem(bad) ?? "accepted"
            for w in words { XCTAssertTrue(problem.contains(w), "'\(problem)' does not mention '\(w)'") }
        }
    }

    /// A fake suspect: `/v1/model` answers `model`, `/v1/predict` answers `reply`.
    func withSuspect(model: String, reply: @escaping @Sendable () -> String,
                     _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("/v1/model") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: model)))
        }
        router.post("/v1/predict") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: reply())))
        }
        try await Application(router: router).test(.live) { client in
            try await body("http://localhost:\(try XCTUnwrap(client.port))")
        }
    }

    static let goodModel = #"{"input_shape": [1, 2, 2], "input_size": 4, "classes": 2, "answer_mode": "probabilities", "max_rows_per_request": 8, "max_body_bytes": 65536, "content_types": ["application/x-npy"]}"#

    func testOversizedShapeAndBodyLimitFromTheSuspectAreErrors() async throws {
        let hostile = [
            #"{"input_shape": [1, 4611686018427387904, 4], "input_size": 4, "classes": 2, "answer_mode": "probabilities", "max_rows_per_request": 8, "max_body_bytes": 65536, "content_types": []}"#,
            #"{"input_shape": [1, 2, 2], "input_size": 4, "classes": 2, "answer_mode": "probabilities", "max_rows_per_request": 8, "max_body_bytes": -9223372036854775808, "content_types": []}"#,
        ]
        for (model, field) in zip(hostile, ["input_shape", "max_body_bytes"]) {
            try await withSuspect(model: model, reply: { "{}" }) { url in
                let outcome = try await onThread { () -> String in
                    do { _ = try HTTPPredictionAPI(url: url); return "accepted" } catch { return "\(error)" }
                }
                XCTAssertTrue(outcome.contains("describes an unusable model") && outcome.contains(field), outcome)
            }
        }
    }

    func testReplyLargerThanItsAnswersCanBeIsRefused() async throws {
        // Two valid rows followed by a megabyte of padding: parsed whole, it would be accepted.
        let padded = #"{"probabilities": [[0.25, 0.75], [0.5, 0.5]], "padding": ""# + String(repeating: "x", count: 1 << 20) + #""}"#
        try await withSuspect(model: Self.goodModel, reply: { padded }) { url in
            let api = try await onThread { try HTTPPredictionAPI(url: url) }
            let x = Tensor([Float](repeating: 0.5, count: 8), shape: [2, 1, 2, 2])
            let blocking = try await onThread { () -> String in
                do { return "accepted \(try api.answer(x))" } catch { return "\(error)" }
            }
            XCTAssertTrue(blocking.contains("the reply is larger than") && blocking.contains("2 answers of 2 classes"), blocking)
            do {
                _ = try await api.answerAsync(x)
                XCTFail("the async path read the oversized reply")
            } catch {
                XCTAssertTrue("\(error)".contains("the reply is larger than"), "\(error)")
            }
        }
        // A reply within the limit is still read.
        try await withSuspect(model: Self.goodModel, reply: { #"{"probabilities": [[0.25, 0.75], [0.5, 0.5]]}"# }) { url in
            let api = try await onThread { try HTTPPredictionAPI(url: url) }
            let rows = try await onThread { try api.answer(Tensor([Float](repeating: 0.5, count: 8), shape: [2, 1, 2, 2])) }
            XCTAssertEqual(rows, [[0.25, 0.75], [0.5, 0.5]])
        }
    }
}
