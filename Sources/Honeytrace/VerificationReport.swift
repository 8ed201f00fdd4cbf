import Prediction

/// The outcome of an ownership verification (docs/algorithms.md §4), ready to print or to write as JSON.
public struct VerificationReport: Codable, Sendable, Equatable {
    /// The claim.
    public enum Verdict: String, Codable, Sendable, Equatable {
        /// The evidence rejects "independent model" at the significance level.
        case stolen
        /// No such evidence at the significance level (not a proof of innocence).
        case notStolen = "not stolen"
    }

    /// How the queries were spent.
    public enum Mode: String, Codable, Sendable, Equatable {
        /// All m trigger/control pairs at once; exact fixed-sample tests.
        case fixed
        /// Small batches until the always-valid p-values fall below α (or the budget is spent).
        case sequential
    }

    /// One reference (non-protected) model's answers on the same triggers and controls.
    public struct Reference: Codable, Sendable, Equatable {
        public var name: String
        /// Triggers and controls it was asked (m each).
        public var pairs: Int
        /// Triggers / controls it answered with the target class.
        public var triggerHits: Int
        public var controlHits: Int
        /// triggerHits / pairs and controlHits / pairs.
        public var triggerRate: Double
        public var controlRate: Double
    }

    public var suspect: String
    public var mode: Mode
    /// Significance level α of the verdict.
    public var alpha: Double
    /// Target class t.
    public var target: Int
    /// Trigger/control pairs the suspect was asked.
    public var pairs: Int
    /// Queries sent to the suspect (a trigger and a control per pair).
    public var queriesSpent: Int
    /// Triggers / controls the suspect answered with t.
    public var triggerHits: Int
    public var controlHits: Int
    /// Raw WSR: triggerHits / pairs.
    public var rawWSR: Double
    /// The suspect's t-rate on controls.
    public var controlRate: Double
    /// Specific WSR: rawWSR − controlRate (docs/algorithms.md §4.4).
    public var specificWSR: Double
    /// Exclusive WSR (paper): fraction of triggers the suspect answered t and no reference did;
    /// nil without references.
    public var exclusiveWSR: Double?
    /// The reference models' results.
    public var references: [Reference]
    /// The references' pooled t-rate on triggers; nil without references.
    public var referenceRate: Double?
    /// The null rate p₀ of the binomial test, and how it was chosen.
    public var nullRate: Double
    public var nullRateRule: String
    /// One-sided Welch t-test, suspect hits vs the references' pooled hits (reported, not part
    /// of the verdict; descriptive in sequential mode); nil without references.
    public var welchPValue: Double?
    /// Binomial evidence: exact test of the suspect's trigger hits against p₀ (fixed mode), or the
    /// always-valid p-value of the sequential mixture test (sequential mode); includes the γ term
    /// of the null-rate estimate (see `OwnershipVerifier`).
    public var binomialPValue: Double
    /// Specific evidence: exact one-sided McNemar test on trigger/control pairs (fixed mode), or
    /// its always-valid sequential version (sequential mode).
    public var mcnemarPValue: Double
    /// Discordant pairs: trigger answered t and control not, and the reverse.
    public var triggerOnly: Int
    public var controlOnly: Int
    /// The verdict's p-value: max(binomial, McNemar) (intersection–union test).
    public var pValue: Double
    public var verdict: Verdict
    /// Queries the paper's Eq. 2 needs at this (exclusive, else raw) WSR, α and β = 0.01; nil when WSR ≤ 0.
    public var queriesNeededEq2: Int?
    /// Queries the exact binomial test needs (power 0.99) against p₀ at the raw WSR; nil when
    /// the raw WSR does not exceed p₀ (or more than 100,000 would be needed).
    public var queriesNeededExact: Int?
    /// The verdict rule, in words.
    public var decisionRule: String
    /// A signed evidence bundle attached by `verify --evidence` (nil, and absent from the JSON, without one).
    public var evidenceBundle: EvidenceCheck? = nil
}

extension VerificationReport {
    /// The verdict in the terms every watermark shares: the specific WSR as the score, the
    /// intersection–union p-value, the suspect's queries and the references as null models.
    public var evidence: WatermarkEvidence {
        WatermarkEvidence(watermark: "neural-honeytrace", statistic: "specific WSR", value: specificWSR, threshold: nil,
                          falseClaimRate: alpha, pValue: pValue, stolen: verdict == .stolen, queries: queriesSpent,
                          nullModels: references.count)
    }
}
