import Datasets
import Foundation
import GRDB
import Honeytrace
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import NeuralNet
import TensorEngine
import Training
import XCTest

/// A tiny defended model shared by the tests: an untrained fmnist-cnn on 1×16×16 images
/// (10 classes) behind a key made from synthetic data. Built once per test process.
final class ServerFixture: @unchecked Sendable {
    let model: TrainedModel
    let key: WatermarkKey
    let data: ImageDataset
    /// Saved model directory and key file (for the load-from-disk path).
    let directory: String
    let keyPath: String

    static let shared = ServerFixture()

    private init() {
        data = SyntheticData.make(count: 200, height: 16, width: 16, seed: 2, name: "synthetic")
        let classifier = Architecture.fmnistCNN.build(inChannels: 1, classes: 10, imageSize: 16, seed: 7)
        let fresh = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 10, inputShape: [1, 16, 16], normalization: .identity, source: "server tests"))
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-server-fixture-\(UUID().uuidString)").path
        try! ModelDirectory.save(fresh, to: directory)
        model = try! ModelDirectory.load(directory)
        key = try! WatermarkKey.create(model: model, heldOut: data,
                                       options: .init(count: 10, referencePoolSize: 16, dataBankSize: 32, featureStdSampleSize: 100,
                                                      secret: .derivedFromSeed),
                                       seed: 3)
        keyPath = directory + "/key.safetensors"
        try! key.save(to: keyPath)
    }

    /// The model behind the key's defense, optionally with another offset or answer mode.
    func defended(offset: Float? = nil, answer: DefenseConfiguration.AnswerMode? = nil) throws -> DefendedModel {
        var c = key.defense
        if let offset { c.offset = offset }
        if let answer { c.answer = answer }
        return try DefendedModel(model: model, key: key, configuration: c)
    }

    /// `count` images of the synthetic data, back to back, starting at `start`.
    func images(_ count: Int, from start: Int = 0) -> [Float] {
        let size = data.imageSize
        return Array(data.pixels[(start * size)..<((start + count) * size)])
    }

    func tensor(_ pixels: [Float]) -> Tensor {
        Tensor(pixels, shape: [pixels.count / data.imageSize, 1, 16, 16])
    }
}

/// A fresh temporary directory removed after the test.
func scratchDirectory(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-server-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}

let aliceKey = "alice-key-0123456789abcdef"
let bobKey = "bob-key-fedcba9876543210"

/// Alice unlimited, Bob at 1 query/s with a burst of 3.
func testClients() throws -> ClientRegistry {
    try ClientRegistry(clients: [
        ClientEntry(name: "alice", key: aliceKey, rateLimit: nil),
        ClientEntry(name: "bob", key: bobKey, rateLimit: RateLimit(queriesPerSecond: 1, burst: 3)),
    ])
}

/// A server configuration for tests: any port, no admin server, database in `directory`; the
/// fixture's seed-derived key is allowed.
func testConfiguration(_ directory: String, answer: DefenseConfiguration.AnswerMode? = nil, batchWait: Duration = .milliseconds(2),
                       maxRows: Int = 8, maxBody: Int = 64 << 10, adminPort: Int? = nil) -> ServerConfiguration {
    var configuration = ServerConfiguration(modelDirectory: directory, keyPath: "", answerMode: answer, port: 0, adminPort: adminPort,
                        databasePath: directory + "/queries.sqlite", flushInterval: .milliseconds(100),
                        databaseBusyTimeout: .milliseconds(200), batchWait: batchWait, maxBatch: 16, maxRowsPerRequest: maxRows,
                        maxBodyBytes: maxBody, maxPendingRows: 1024, logLevel: .critical)
    configuration.allowSeedDerivedSecret = true
    return configuration
}

/// `{"images": [[…], …]}` for `rows` images of `size` values.
func jsonBody(_ pixels: [Float], size: Int) -> ByteBuffer {
    let rows = stride(from: 0, to: pixels.count, by: size).map { "[" + pixels[$0..<($0 + size)].map { "\($0)" }.joined(separator: ",") + "]" }
    return ByteBuffer(string: "{\"images\": [" + rows.joined(separator: ",") + "]}")
}

/// The decoded JSON error of a response.
func errorBody(_ response: TestResponse) throws -> ErrorBody {
    try JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView))
}

/// Runs blocking `body` on a plain thread (not the cooperative pool) and awaits its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Asserts that `body` throws an error whose text contains every one of `words`.
func assertThrows<T>(_ body: @autoclosure () throws -> T, mentioning words: [String],
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        let text = "\(error)"
        for w in words { XCTAssertTrue(text.contains(w), "'\(text)' does not mention '\(w)'", file: file, line: line) }
    }
}

extension TestResponse {
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) }
}

/// The shared fixture and its image size (1×16×16), as globals so test closures need not capture `self`.
let fx = ServerFixture.shared
let imageSize = 256

/// Another connection to the SQLite file at `path` holding its write lock (an exclusive
/// transaction on a thread of its own) from `init` until `release()`, as another process would.
final class ForeignWriteLock: @unchecked Sendable {
    let queue: DatabaseQueue
    private let locked = DispatchSemaphore(value: 0), releasing = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)

    init(path: String) throws {
        queue = try DatabaseQueue(path: path)
        Thread { [queue, locked, releasing, finished] in
            try? queue.inTransaction(.exclusive) { _ in
                locked.signal()
                releasing.wait()
                return .rollback
            }
            finished.signal()
        }.start()
        locked.wait()
    }

    /// Ends the transaction and waits until it has.
    func release() {
        releasing.signal()
        finished.wait()
    }
}

let adminToken = "admin-token-5b8e1c0d7a2f4936"

/// Writes `adminToken` to an owner-only file in `directory` and returns its path.
func writeAdminToken(_ directory: String, mode: Int = 0o600) throws -> String {
    let path = directory + "/admin-\(mode).token"
    try (adminToken + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    return path
}
