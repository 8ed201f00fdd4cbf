import Foundation
import Prediction
import Stats
import TensorEngine

/// A verdict on one suspect from its trigger accuracy.
public struct PrownVerdict: Codable, Sendable, Equatable {
    public var suspect: String
    public var triggers: Int
    public var hits: Int
    public var triggerAccuracy: Double
    /// The stated false-claim rate p and the threshold μ + z_{1−p}·σ from the null models.
    public var falseClaimRate: Double
    public var threshold: Double
    public var nullMean: Double
    public var nullStandardDeviation: Double
    public var nullModels: Int
    /// P(N(μ, σ) ≥ accuracy).
    public var normalPValue: Double
    /// (1 + #{null ≥ accuracy}) / (N + 1).
    public var empiricalPValue: Double
    /// P(X ≥ hits) for X ~ Binomial(n, pooled null rate): treats triggers as independent, so it is
    /// optimistic when null models differ in how many triggers they get right.
    public var binomialPValue: Double
    public var pooledNullRate: Double
    /// Null models above a threshold fitted to the others (leave one out) at the same p.
    public var nullFalseClaims: Int
    /// "stolen" when the trigger accuracy is above the threshold, else "not stolen".
    public var verdict: String

    public var claimed: Bool { verdict == "stolen" }

    /// The verdict in the terms every watermark shares: the trigger accuracy as the score, judged
    /// against the null models' threshold; the p-value is the normal fit's (the threshold's own test).
    public var evidence: WatermarkEvidence {
        WatermarkEvidence(watermark: "prown", statistic: "trigger accuracy", value: triggerAccuracy, threshold: threshold,
                          falseClaimRate: falseClaimRate, pValue: normalPValue, stolen: claimed, queries: triggers, nullModels: nullModels)
    }
}

public enum PrownVerification {
    /// Triggers `set` that `suspect` answers y*, asking in batches of `batchSize`.
    public static func hits(of suspect: PredictionAPI, on set: PrownTriggerSet, batchSize: Int = 256) throws -> Int {
        try TriggerAccuracy.hits(of: suspect, pixels: set.pixels, imageShape: set.imageShape, labels: set.labels,
                                 classes: set.classes, batchSize: batchSize)
    }

    /// The trigger accuracies of `models` (each named), which never saw the API.
    public static func nullStatistics(_ models: [PredictionAPI], on set: PrownTriggerSet) throws -> TriggerNullStatistics {
        try TriggerNullStatistics.measure(models, pixels: set.pixels, imageShape: set.imageShape, labels: set.labels, classes: set.classes)
    }

    /// The verdict for `hits` of `triggers` against `null` at false-claim rate `p`.
    public static func verdict(suspect: String, hits: Int, triggers: Int, null: TriggerNullStatistics,
                               falseClaimRate p: Double) throws -> PrownVerdict {
        guard triggers >= 1, hits >= 0, hits <= triggers else {
            throw BaselineError(.invalidConfiguration, "need 0 ≤ hits ≤ triggers and triggers ≥ 1, got \(hits) of \(triggers)")
        }
        guard null.triggers == triggers else {
            throw BaselineError(.invalidConfiguration, "the null statistics were measured on \(null.triggers) triggers, the suspect on \(triggers)")
        }
        let t = try null.threshold(falseClaimRate: p)
        let accuracy = Double(hits) / Double(triggers)
        let binomial: Double
        do { binomial = try exactBinomialTest(successes: hits, trials: triggers, nullRate: null.pooledRate).pValue } catch {
            throw BaselineError(.invalidConfiguration, "binomial test: \(error)")
        }
        return PrownVerdict(
            suspect: suspect, triggers: triggers, hits: hits, triggerAccuracy: accuracy, falseClaimRate: p, threshold: t.threshold,
            nullMean: t.mean, nullStandardDeviation: t.standardDeviation, nullModels: t.nullCount,
            normalPValue: t.normalPValue(accuracy), empiricalPValue: t.empiricalPValue(accuracy), binomialPValue: binomial,
            pooledNullRate: null.pooledRate, nullFalseClaims: try null.leaveOneOutFalseClaims(falseClaimRate: p).count,
            verdict: t.claims(accuracy) ? "stolen" : "not stolen")
    }

    /// Asks `suspect` the triggers and decides against the set's own null statistics.
    public static func verify(_ suspect: PredictionAPI, on set: PrownTriggerSet, null: TriggerNullStatistics? = nil,
                              falseClaimRate p: Double = 0.05) throws -> PrownVerdict {
        guard let null = null ?? set.nullModels else {
            throw BaselineError(.invalidConfiguration, "the trigger set holds no null-model statistics; give a null pool (models that never saw the API)")
        }
        return try verdict(suspect: suspect.name, hits: try hits(of: suspect, on: set), triggers: set.count, null: null, falseClaimRate: p)
    }
}

/// The model directories a null pool's `pool.json` lists (the `honeytrace experiment null-pool` layout: an array of
/// members with `name` and `architecture`, each model in a directory of that name beside the file).
public enum PrownNullPool {
    private struct Entry: Decodable { var name: String; var architecture: String }

    /// Directories of the pool's built members, optionally only those of `architectures`.
    public static func modelDirectories(pool directory: String, architectures: Set<String>? = nil) throws -> [(name: String, path: String)] {
        let file = URL(fileURLWithPath: directory).appendingPathComponent("pool.json").path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw BaselineError(.unusableData, "\(file): no null pool here (a directory built by `honeytrace experiment null-pool`)")
        }
        let entries: [Entry]
        do { entries = try JSONDecoder().decode([Entry].self, from: data) } catch {
            throw BaselineError(.malformedFile, "\(file): not a null pool's member list (an array of objects with 'name' and 'architecture'): \(error)")
        }
        let picked = entries.filter { architectures?.contains($0.architecture) ?? true }
        let result = picked.map { (name: $0.name, path: URL(fileURLWithPath: directory).appendingPathComponent($0.name).path) }
        if let missing = result.first(where: { !FileManager.default.fileExists(atPath: $0.path + "/model.json") }) {
            throw BaselineError(.unusableData, "\(missing.path): null model not built")
        }
        return result
    }
}
