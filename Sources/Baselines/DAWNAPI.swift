import Foundation
import Prediction
import TensorEngine
import Training

/// A probability API behind DAWN: the wrapped API's rows, except that DAWN's watermark queries
/// get a wrong top-1 label (their selected probabilities permuted), each logged for the client
/// that asked. Every other row is the wrapped API's, bit for bit, shaped by `answerMode`.
///
/// Deterministic: the same image gets the same answer every time, for every client. Clients
/// are told apart by `answer(_:client:)`; the protocol's `answer(_:)` answers `defaultClient`.
public final class DAWNAPI: PredictionAPI, @unchecked Sendable {
    public let base: PredictionAPI
    public let marker: DAWNMarker
    public let answerMode: AnswerMode
    public let name: String
    /// The client `answer(_:)` answers and logs for.
    public let defaultClient: String
    /// Every client's watermark queries.
    public let logBook: DAWNLogBook
    private let lock = NSLock()
    private var answered = 0
    private var marked = 0

    /// - Throws: `invalidConfiguration` when `base` does not return full probability rows (DAWN
    ///   permutes them).
    public init(base: PredictionAPI, marker: DAWNMarker, answerMode: AnswerMode = .probabilities,
                defaultClient: String = "anonymous", logBook: DAWNLogBook = DAWNLogBook(), name: String? = nil) throws {
        guard base.answerMode == .probabilities else {
            throw BaselineError(.invalidConfiguration, "DAWN needs an API that returns probabilities; \(base.name) returns \(base.answerMode)")
        }
        self.base = base
        self.marker = marker
        self.answerMode = answerMode
        self.defaultClient = defaultClient
        self.logBook = logBook
        self.name = name ?? "\(base.name) + DAWN(r_w \(marker.configuration.rate))"
    }

    public var inputShape: [Int] { base.inputShape }
    public var classes: Int { base.classes }

    /// Rows answered and rows changed (watermarks) so far, over all clients.
    public var counts: (answered: Int, marked: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (answered, marked)
    }

    public func answer(_ pixels: Tensor) throws -> [[Float]] { try answer(pixels, client: defaultClient) }

    /// The answers to `client`, whose watermark queries are logged under its name.
    public func answer(_ pixels: Tensor, client: String) throws -> [[Float]] {
        try checkQuery(pixels)
        let n = pixels.shape[0]
        var rows = try base.answer(pixels)
        try base.checkAnswer(rows, count: n)
        let x = pixels.layout == .plain ? pixels : Autograd.inference { pixels.plain() }
        let size = inputShape.reduce(1, *)
        var changed = 0
        for i in 0..<n {
            let image = UnsafeBufferPointer(start: x.data + i * size, count: size)
            guard let mark = marker.mark(rows[i], pixels: image, shape: inputShape) else { continue }
            rows[i] = mark.probabilities
            logBook.record(client: client, DAWNLogEntry(image: DAWNMarker.quantize(image), mark: mark))
            changed += 1
        }
        lock.lock()
        answered += n
        marked += changed
        lock.unlock()
        return answerMode == .probabilities ? rows : rows.map { answerMode.shape($0) }
    }

    /// `client`'s log so far, ready to write or verify with.
    public func log(client: String, modelSHA256: String? = nil) -> DAWNWatermarkLog {
        DAWNWatermarkLog(client: client, secretFingerprint: marker.secret.fingerprint, modelSHA256: modelSHA256,
                         inputShape: inputShape, classes: classes, watermarkSize: marker.configuration.watermarkSize,
                         entries: logBook.entries(client: client))
    }
}
