import Foundation
import Prediction
import Stats

/// The outcome of verifying a suspect against a client's DAWN watermark, ready to print or to
/// write as JSON.
public struct DAWNVerification: Codable, Sendable, Equatable {
    /// One null model's agreement with the watermark (a model that never saw the API).
    public struct NullModel: Codable, Sendable, Equatable {
        public var name: String
        public var agreements: Int
        public var agreement: Double
    }

    public var suspect: String
    public var client: String
    /// Watermark queries asked (the log's first `watermark_size` entries, or all if fewer).
    public var queries: Int
    /// Queries the suspect answered with the logged wrong label.
    public var agreements: Int
    /// agreements / queries.
    public var agreement: Double
    /// Chance agreement 1/(K − 1): a wrong label drawn at random among the other classes.
    public var chance: Double
    /// P(X ≥ agreements), X ~ Binomial(queries, chance).
    public var pValue: Double
    /// Natural log of `pValue` (finite where it underflows).
    public var logPValue: Double
    /// Significance level of the verdict.
    public var alpha: Double
    /// Null models' agreements, when given (docs/algorithms.md §8b).
    public var nullModels: [NullModel]
    /// μ + z_{1−α}·σ of the null agreements, and how many null models exceed it; nil without null models.
    public var nullThreshold: Double?
    public var nullFalseClaims: Int?
    /// (1 + #{null ≥ agreement}) / (N + 1); nil without null models.
    public var nullEmpiricalPValue: Double?
    /// "stolen" or "not stolen".
    public var verdict: String
    public var decisionRule: String

    public static let decisionRule = "stolen iff the binomial p against chance 1/(K − 1) is ≤ α, and, when null models are given, the agreement is above their threshold μ + z_{1−α}·σ"

    enum CodingKeys: String, CodingKey {
        case suspect, client, queries, agreements, agreement, chance, pValue = "p_value", logPValue = "log_p_value", alpha
        case nullModels = "null_models", nullThreshold = "null_threshold", nullFalseClaims = "null_false_claims"
        case nullEmpiricalPValue = "null_empirical_p_value", verdict, decisionRule = "decision_rule"
    }

    /// The verdict in the terms every watermark shares: the agreement as the score.
    public var evidence: WatermarkEvidence {
        WatermarkEvidence(watermark: "dawn", statistic: "agreement with logged labels", value: agreement, threshold: nullThreshold,
                          falseClaimRate: alpha, pValue: pValue, stolen: verdict == "stolen", queries: queries, nullModels: nullModels.count)
    }
}

/// Verification of DAWN (docs/algorithms.md §6): ask the suspect for the top-1 labels of a client's watermark
/// queries and count how often it repeats the wrong labels that client was given. A model that
/// never saw those answers agrees at about chance; one trained on them agrees far more often.
public enum DAWNVerifier {
    /// How many of the log's watermark queries `suspect` answers with the logged wrong label.
    ///
    /// - Throws: `unusableData` for an empty watermark; `PredictionError(.incompatible)` when the
    ///   suspect takes other images or answers other classes than the log's.
    public static func agreements(log: DAWNWatermarkLog, suspect: PredictionAPI) throws -> Int {
        guard !log.watermark.isEmpty else {
            throw BaselineError(.unusableData, "client '\(log.client)' has no DAWN watermark queries in its log")
        }
        guard suspect.inputShape == log.inputShape, suspect.classes == log.classes else {
            throw PredictionError(.incompatible,
                                  "\(suspect.name) takes \(suspect.inputShape) and answers \(suspect.classes) classes; the DAWN log holds \(log.inputShape) images of \(log.classes) classes")
        }
        let labels = try suspect.labels(for: log.watermarkImages())
        return zip(labels, log.watermark).filter { $0.0 == $0.1.answeredLabel }.count
    }

    /// The verdict for `agreements` out of `queries` over `classes` classes at level `alpha`,
    /// with the null models' agreements when there are at least 2.
    public static func decide(suspect: String, client: String, agreements: Int, queries: Int, classes: Int, alpha: Double,
                              nullModels: [DAWNVerification.NullModel] = []) throws -> DAWNVerification {
        guard classes >= 2 else { throw BaselineError(.invalidConfiguration, "DAWN needs at least 2 classes, found \(classes)") }
        guard alpha > 0, alpha < 1 else { throw BaselineError(.invalidConfiguration, "α must lie in (0, 1), found \(alpha)") }
        let chance = 1 / Double(classes - 1)
        let test = try exactBinomialTest(successes: agreements, trials: queries, nullRate: chance)
        var threshold: NullModelThreshold?
        if nullModels.count >= 2 {
            threshold = try nullModelThreshold(nullStatistics: nullModels.map(\.agreement), falseClaimRate: alpha)
        }
        let stolen = test.pValue <= alpha && (threshold?.claims(test.estimate) ?? true)
        return DAWNVerification(
            suspect: suspect, client: client, queries: queries, agreements: agreements, agreement: test.estimate, chance: chance,
            pValue: test.pValue, logPValue: test.logPValue, alpha: alpha, nullModels: nullModels,
            nullThreshold: threshold?.threshold, nullFalseClaims: threshold?.empiricalFalseClaims,
            nullEmpiricalPValue: threshold?.empiricalPValue(test.estimate), verdict: stolen ? "stolen" : "not stolen",
            decisionRule: DAWNVerification.decisionRule)
    }

    /// Asks `suspect` (and each null model) for the watermark's labels and decides at `alpha`.
    public static func verify(log: DAWNWatermarkLog, suspect: PredictionAPI, alpha: Double = 1e-4,
                              nullModels: [PredictionAPI] = []) throws -> DAWNVerification {
        try verify(log: log, suspect: suspect, alpha: alpha, nullAgreements: try nullAgreements(log: log, models: nullModels))
    }

    /// Asks `suspect` for the watermark's labels and decides at `alpha` against null models asked
    /// before (`nullAgreements`), so that one set of null models serves many suspects.
    public static func verify(log: DAWNWatermarkLog, suspect: PredictionAPI, alpha: Double,
                              nullAgreements nulls: [DAWNVerification.NullModel]) throws -> DAWNVerification {
        let k = try agreements(log: log, suspect: suspect)
        return try decide(suspect: suspect.name, client: log.client, agreements: k, queries: log.watermark.count, classes: log.classes,
                          alpha: alpha, nullModels: nulls)
    }

    /// Each null model's agreement with the log's watermark.
    public static func nullAgreements(log: DAWNWatermarkLog, models: [PredictionAPI]) throws -> [DAWNVerification.NullModel] {
        try models.map { m in
            let a = try agreements(log: log, suspect: m)
            return DAWNVerification.NullModel(name: m.name, agreements: a, agreement: Double(a) / Double(log.watermark.count))
        }
    }
}
