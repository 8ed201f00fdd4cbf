import Datasets
import Prediction
import Training

/// A training-time baseline (composite backdoor, MEA-Defender, EWE) as a defense: the API answers
/// the baseline's own watermarked victim, trained from the victim's architecture and recipe; its
/// watermark is the share of fresh triggers, made from the owner's data, answered with its target,
/// judged against null models.
public final class TrainedBaselineDefense: WatermarkedDefense {
    /// The watermarked victim the API serves.
    public let model: TrainedModel
    /// Its settings, training cost and figures before any theft.
    public let record: BaselineRecord
    public let triggers: TriggerAccuracyWatermark
    public var name: String { record.kind.rawValue }
    public var kind: DefenseKind { .trainingTime }
    public var watermark: Watermark { triggers }

    /// - Parameters:
    ///   - ownerData: owner-side images the verification triggers are made from (never the test set
    ///     or an attacker's pool).
    ///   - nullModels: models that never saw the API; the threshold comes from their trigger accuracy.
    /// - Throws: `unusableData` for data that is not the owner's, `invalidConfiguration` with fewer than
    ///   2 null models.
    public init(model: TrainedModel, record: BaselineRecord, ownerData: ImageDataset, triggerCount: Int = BaselineTraining.verificationComposites,
                nullModels: [PredictionAPI], falseClaimRate: Double) throws {
        do { try ownerData.requireOwnerSide(for: "a baseline's verification triggers") } catch let e as DatasetError {
            throw BaselineError(.unusableData, e.problem)
        }
        let set = try BaselineTraining.triggers(record.settings, from: ownerData, count: triggerCount)
        self.model = model
        self.record = record
        triggers = try TriggerAccuracyWatermark(name: record.kind.rawValue, pixels: set.pixels, imageShape: set.imageShape,
                                                labels: [Int](repeating: BaselineTraining.target(record.settings), count: set.count),
                                                classes: model.classes, nullModels: nullModels, falseClaimRate: falseClaimRate)
    }

    public func api(client: String, answerMode: AnswerMode) throws -> PredictionAPI {
        ModelAPI(model: model, answerMode: answerMode, name: "\(name) victim")
    }
}
