import Prediction
import TensorEngine

/// Counting a suspect's answers on a trigger set with expected labels.
public enum TriggerAccuracy {
    /// Triggers (`pixels`, `[n] + imageShape`) that `suspect` answers with their `labels`, asking in
    /// batches of `batchSize`.
    public static func hits(of suspect: PredictionAPI, pixels: [Float], imageShape: [Int], labels: [Int], classes: Int,
                            batchSize: Int = 256) throws -> Int {
        guard suspect.inputShape == imageShape else {
            throw BaselineError(.unusableData, "\(suspect.name) takes images of shape \(suspect.inputShape), the trigger set holds \(imageShape)")
        }
        guard suspect.classes == classes else {
            throw BaselineError(.unusableData, "\(suspect.name) answers \(suspect.classes) classes, the trigger set was made for \(classes)")
        }
        let size = imageShape.reduce(1, *)
        guard pixels.count == labels.count * size else {
            throw BaselineError(.invalidConfiguration, "a trigger set of \(labels.count) labels holds \(pixels.count) pixels, expected \(labels.count * size)")
        }
        let step = max(1, batchSize)
        var hits = 0
        for start in stride(from: 0, to: labels.count, by: step) {
            let end = min(start + step, labels.count)
            let batch = Tensor(Array(pixels[(start * size)..<(end * size)]), shape: [end - start] + imageShape)
            let answers = try suspect.labels(for: batch)
            guard answers.count == end - start else {
                throw BaselineError(.unusableData, "\(suspect.name) returned \(answers.count) answers for \(end - start) triggers")
            }
            hits += zip(answers, labels[start..<end]).filter { $0 == $1 }.count
        }
        return hits
    }
}

/// A trigger-set watermark decided by trigger accuracy against null models fixed when it was made:
/// PROWN's triggers, or the fresh triggers of a trained baseline (composites of the source classes,
/// EWE's stamped images) labelled with its target. A suspect is claimed when its accuracy lies above
/// μ + z·σ of the null models' accuracies at the false-claim rate (docs/algorithms.md §8b).
public final class TriggerAccuracyWatermark: Watermark {
    public let name: String
    /// `[n] + imageShape` raw pixels in [0, 1].
    public let pixels: [Float]
    public let imageShape: [Int]
    public let labels: [Int]
    public let classes: Int
    public let null: TriggerNullStatistics
    public let falseClaimRate: Double

    /// - Throws: `invalidConfiguration` for an empty trigger set, null statistics of another trigger
    ///   count, or a rate outside (0, 1).
    public init(name: String, pixels: [Float], imageShape: [Int], labels: [Int], classes: Int, null: TriggerNullStatistics,
                falseClaimRate: Double) throws {
        guard !labels.isEmpty else { throw BaselineError(.invalidConfiguration, "the \(name) watermark has no triggers") }
        guard null.triggers == labels.count else {
            throw BaselineError(.invalidConfiguration, "the \(name) null statistics were measured on \(null.triggers) triggers, the watermark has \(labels.count)")
        }
        guard falseClaimRate > 0, falseClaimRate < 1 else {
            throw BaselineError(.invalidConfiguration, "the false-claim rate must lie in (0, 1), found \(falseClaimRate)")
        }
        self.name = name; self.pixels = pixels; self.imageShape = imageShape; self.labels = labels; self.classes = classes
        self.null = null; self.falseClaimRate = falseClaimRate
    }

    /// Asks every model of `nullModels` (at least 2, which never saw the API) once for its accuracy on the triggers.
    public convenience init(name: String, pixels: [Float], imageShape: [Int], labels: [Int], classes: Int, nullModels: [PredictionAPI],
                            falseClaimRate: Double) throws {
        try self.init(name: name, pixels: pixels, imageShape: imageShape, labels: labels, classes: classes,
                      null: try TriggerNullStatistics.measure(nullModels, pixels: pixels, imageShape: imageShape, labels: labels, classes: classes),
                      falseClaimRate: falseClaimRate)
    }

    /// PROWN's trigger set with its null statistics (`set.nullModels`, or measured on `nullModels`).
    public convenience init(prown set: PrownTriggerSet, nullModels: [PredictionAPI] = [], falseClaimRate: Double) throws {
        guard let null = try set.nullModels ?? (nullModels.isEmpty ? nil : PrownVerification.nullStatistics(nullModels, on: set)) else {
            throw BaselineError(.invalidConfiguration, "the PROWN trigger set holds no null-model statistics; give a null pool (models that never saw the API)")
        }
        try self.init(name: "prown", pixels: set.pixels, imageShape: set.imageShape, labels: set.labels, classes: set.classes,
                      null: null, falseClaimRate: falseClaimRate)
    }

    /// The verdict in full (threshold, p-values, the null models' own false claims).
    public func verdict(suspect: PredictionAPI) throws -> PrownVerdict {
        let h = try TriggerAccuracy.hits(of: suspect, pixels: pixels, imageShape: imageShape, labels: labels, classes: classes)
        return try PrownVerification.verdict(suspect: suspect.name, hits: h, triggers: labels.count, null: null, falseClaimRate: falseClaimRate)
    }

    /// Trigger accuracy against the threshold; the p-value is P(N(μ, σ) ≥ accuracy), the tail the threshold cuts.
    public func evidence(suspect: PredictionAPI) throws -> WatermarkEvidence { evidence(from: try verdict(suspect: suspect)) }

    /// The evidence a verdict of this watermark states.
    public func evidence(from v: PrownVerdict) -> WatermarkEvidence {
        WatermarkEvidence(watermark: name, statistic: "trigger accuracy", value: v.triggerAccuracy, threshold: v.threshold,
                                 falseClaimRate: falseClaimRate, pValue: v.normalPValue, stolen: v.claimed, queries: labels.count,
                                 nullModels: v.nullModels)
    }
}
