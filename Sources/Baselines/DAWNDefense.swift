import Foundation
import Prediction
import TensorEngine
import Training

/// DAWN as a `Defense` of the experiment grid, in the paper's setting: the API cannot tell the
/// thief from its other clients, so each thief's queries are interleaved with as many honest
/// queries (cycled from `honestTraffic`) and the watermark is the first entries DAWN logged over
/// that whole traffic. Each client gets its own API and log; the server instead logs per API
/// client (`DAWNAPI.answer(_:client:)`).
public final class DAWNDefense: ClientWatermarkDefense {
    public let model: ModelAPI
    public let marker: DAWNMarker
    /// Images honest clients send, `[N, C, H, W]`.
    public let honestTraffic: Tensor
    /// Models that never saw the API: the verdict's threshold comes from their agreement.
    public let nullModels: [PredictionAPI]
    public let alpha: Double
    public var name: String { "dawn" }
    public var kind: DefenseKind { .apiSide }
    private let lock = NSLock()
    private var clients: [String: MixedTrafficAPI] = [:]

    public init(model: ModelAPI, marker: DAWNMarker, honestTraffic: Tensor, nullModels: [PredictionAPI] = [], alpha: Double = 1e-4) throws {
        guard honestTraffic.rank == 4, honestTraffic.shape[0] > 0, Array(honestTraffic.shape.dropFirst()) == model.inputShape else {
            throw BaselineError(.unusableData, "DAWN's honest traffic must be images of shape \(model.inputShape), found \(honestTraffic.shape)")
        }
        self.model = model; self.marker = marker; self.honestTraffic = honestTraffic; self.nullModels = nullModels; self.alpha = alpha
    }

    public func api(client: String, answerMode: AnswerMode) throws -> PredictionAPI {
        let probabilities = ModelAPI(model: model.model, answerMode: .probabilities, name: "victim", batchSize: model.batchSize)
        let api = MixedTrafficAPI(dawn: try DAWNAPI(base: probabilities, marker: marker, answerMode: answerMode, defaultClient: "traffic"),
                                  honest: honestTraffic)
        lock.lock(); clients[client] = api; lock.unlock()
        return api
    }

    public func evidence(client: String, suspect: PredictionAPI) throws -> WatermarkEvidence {
        lock.lock(); let api = clients[client]; lock.unlock()
        guard let api else { throw BaselineError(.invalidConfiguration, "DAWN answered no client '\(client)'") }
        let log = api.dawn.log(client: "traffic")
        guard !log.watermark.isEmpty else {
            throw BaselineError(.watermarkFailed, "DAWN marked none of the \(api.dawn.counts.answered) queries of '\(client)'")
        }
        return try DAWNVerifier.verify(log: log, suspect: suspect, alpha: alpha, nullModels: nullModels).evidence
    }

    /// One thief's view: before each of its batches, as many honest images go through the same
    /// DAWN API (and its log).
    final class MixedTrafficAPI: PredictionAPI, @unchecked Sendable {
        let dawn: DAWNAPI
        let honest: Tensor
        private var next = 0

        init(dawn: DAWNAPI, honest: Tensor) { self.dawn = dawn; self.honest = honest }

        var name: String { dawn.name }
        var inputShape: [Int] { dawn.inputShape }
        var classes: Int { dawn.classes }
        var answerMode: AnswerMode { dawn.answerMode }

        func answer(_ pixels: Tensor) throws -> [[Float]] {
            let n = pixels.shape[0], total = honest.shape[0]
            var done = 0
            while done < n {
                let take = min(n - done, total - next)
                _ = try dawn.answer(honest.slice(next..<(next + take)))
                next = (next + take) % total
                done += take
            }
            return try dawn.answer(pixels)
        }
    }
}
