import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import Prediction
import TensorEngine
import Training
import XCTest

/// Output perturbations served: the server answers what the grid's perturbation column answers,
/// with per-client noise.
final class PerturbationServerTests: XCTestCase {
    /// The answers `perturbation` gives alice and bob over HTTP for `x`.
    private func served(_ perturbation: OutputPerturbation, seed: UInt64, x: Tensor) async throws
        -> (server: PredictionServer, alice: [[Float]], aliceAgain: [[Float]], bob: [[Float]]) {
        let dir = try scratchDirectory(self)
        var c = testConfiguration(dir, maxRows: 32)
        c.perturbation = perturbation
        c.perturbationSeed = seed
        let clients = try ClientRegistry(clients: [ClientEntry(name: "alice", key: aliceKey, rateLimit: nil),
                                                   ClientEntry(name: "bob", key: bobKey, rateLimit: nil)])
        let server = try PredictionServer(undefended: fx.model, configuration: c, clients: clients)
        let answers = try await server.makeApplication().test(.live) { client -> [[[Float]]] in
            let url = "http://localhost:\(try XCTUnwrap(client.port))"
            let alice = try await onThread { try HTTPPredictionAPI(url: url, apiKey: aliceKey) }
            let bob = try await onThread { try HTTPPredictionAPI(url: url, apiKey: bobKey) }
            let first = try await onThread { try alice.answer(x) }
            let second = try await onThread { try alice.answer(x) }
            return [first, second, try await onThread { try bob.answer(x) }]
        }
        return (server, answers[0], answers[1], answers[2])
    }

    private func assertRows(_ a: [[Float]], _ b: [[Float]], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (r, (x, y)) in zip(a, b).enumerated() {
            for j in x.indices { XCTAssertEqual(x[j], y[j], accuracy: 1e-6, "\(what): row \(r) class \(j)", file: file, line: line) }
        }
    }

    func testRoundingAndTop1AnswerLikeTheGridsColumns() async throws {
        let x = fx.tensor(fx.images(12))
        let model = ModelAPI(model: fx.model)
        for name in ["rounding-1", "top-1-only", "reverse-sigmoid"] {
            let p = try XCTUnwrap(OutputPerturbation(named: name))
            let column = try PerturbationDefense(model: model, perturbation: p, name: name, seed: 0).api(client: "alice", answerMode: .probabilities)
            let (server, alice, again, bob) = try await served(p, seed: 0, x: x)
            let expected = try column.answer(x)
            assertRows(alice, expected, name)
            assertRows(again, expected, name + ", asked again")
            assertRows(bob, expected, name + ", another client")
            XCTAssertEqual(server.answerMode, name == "top-1-only" ? .label : .probabilities, name)
        }
        // Rounding to one decimal really rounds: every probability is a multiple of 0.1.
        let (_, rounded, _, _) = try await served(.rounding(decimals: 1), seed: 0, x: x)
        for v in rounded.joined() { XCTAssertEqual(v * 10, (v * 10).rounded(), accuracy: 1e-4) }
    }

    func testNoiseIsSeededPerClient() async throws {
        let x = fx.tensor(fx.images(8))
        let model = ModelAPI(model: fx.model)
        let noise = OutputPerturbation.gaussianNoise(std: 0.1)
        let (_, alice, again, bob) = try await served(noise, seed: 42, x: x)
        // The grid's column with the same seed answers alice's first and second request alike.
        let column = try PerturbationDefense(model: model, perturbation: noise, name: "noise", seed: 42).api(client: "alice", answerMode: .probabilities)
        assertRows(alice, try column.answer(x), "alice, first request")
        assertRows(again, try column.answer(x), "alice, second request")
        XCTAssertNotEqual(alice, again, "a repeated query gets fresh noise")
        XCTAssertNotEqual(alice, bob, "bob's noise is not alice's")
        let bare = try model.answer(x)
        XCTAssertNotEqual(alice, bare)
        for row in alice + bob { XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-4) }
    }
}
