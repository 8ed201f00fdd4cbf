import Extraction
import Prediction

/// One attack × defense run as written to `<out>/runs/<id>.json`: everything a table needs,
/// measured, never copied from a log.
public struct RunRecord: Codable, Sendable, Equatable {
    public var id: String
    /// A `QueryStrategy`'s name: "knockoff", "jbda-tr", "dfme", "dfms" or "disguide".
    public var strategy: String
    /// "naive", "top-1", "s4l", "smoothing", "p-bayes", "d-dae".
    public var variant: String
    /// The attacker's pool: "mnist-5k", "fmnist-attacker", "synthetic".
    public var pool: String
    /// "none" or "honeytrace" (or a baseline's name).
    public var defense: String
    public var seed: UInt64
    public var budget: Int
    /// Queries counted by the query boundary.
    public var queriesSpent: Int
    /// Bare victim accuracy on the test set.
    public var victimAccuracy: Double
    /// The defended API's accuracy on the test set (top-1 of its answers).
    public var protectedAccuracy: Double
    /// Surrogate test accuracy.
    public var extractedAccuracy: Double
    /// Agreement of surrogate and victim argmax on the test set.
    public var fidelity: Double
    /// Fraction of triggers the surrogate answers with the target class.
    public var wsrRaw: Double
    /// Hit by the surrogate but not by the reference model (paper's definition).
    public var wsrExclusive: Double
    /// Trigger t-rate minus paired-control t-rate.
    public var wsrSpecific: Double
    /// The surrogate's t-rate on the paired controls.
    public var controlTargetRate: Double
    /// The surrogate's t-rate on the whole clean test set.
    public var cleanTargetRate: Double
    /// One-sided Welch test against the reference models' hits.
    public var pValueWelch: Double
    /// Exact binomial test against the references' pooled rate.
    public var pValueBinomial: Double
    /// Exact McNemar test on trigger/control pairs.
    public var pValueMcNemar: Double
    /// "stolen" or "not stolen".
    public var verdict: String
    /// Queries the verifier sent to the surrogate.
    public var verificationQueries: Int
    /// SHA-256 of the surrogate's weights.
    public var surrogateSHA256: String
    public var seconds: Double
    /// Defended cells: the fraction of the attacker's queries the defense mixed and flipped, and their mean s.
    public var attackQueriesMixed: Double?
    public var attackQueriesFlipped: Double?
    public var attackMeanSimilarity: Double?
    /// The experiment directory whose attack (surrogate, queries, E-Acc, seconds) this record
    /// reuses, verified again by this experiment; nil when run here.
    public var reusedFrom: String?
    /// Where the attack ran (`ComputeEnvironment.summary`) and with how many engine threads: a seed
    /// reproduces a surrogate bitwise on the same CPU model and thread count. Nil in older records.
    public var machine: String?
    public var threads: Int?
    /// The sequential test's verdict and the suspect queries it spent (two per trigger/control pair).
    public var sequentialVerdict: String?
    public var sequentialQueries: Int?
    /// The victim's architecture and training seed, and the key's seed: with `seed` (the attack's),
    /// every seed that shaped the cell.
    public var victimArchitecture: String?
    /// The copy's architecture (nil in older records: the victim's).
    public var surrogateArchitecture: String?
    public var victimSeed: UInt64?
    public var keySeed: UInt64?
    /// Where the owner's key and calibration data came from (`ExperimentConfiguration.OwnerData`).
    public var ownerData: String?
    /// The API's test accuracy for a client past the heavy-client threshold (nil: no such defense).
    public var heavyClientAccuracy: Double?
    /// Null-pool models among the verdict's references, and the binomial test's null rate p₀.
    public var nullModels: Int?
    public var nullRate: Double?
    /// The column's own watermark's evidence when it is not the key's (DAWN's agreement with its
    /// log, a trained baseline's trigger accuracy), then PROWN's when the grid measures it; nil when
    /// there is none.
    public var evidence: [WatermarkEvidence]?
    /// Training-time columns: the seconds their own victim took to train, and its watermark rate on
    /// fresh test-set triggers before any theft.
    public var defenseTrainingSeconds: Double?
    public var watermarkRateBeforeTheft: Double?

    public init(id: String, strategy: String, variant: String, pool: String, defense: String, seed: UInt64, budget: Int,
                queriesSpent: Int, victimAccuracy: Double, protectedAccuracy: Double, extractedAccuracy: Double,
                fidelity: Double, wsrRaw: Double, wsrExclusive: Double, wsrSpecific: Double, controlTargetRate: Double,
                cleanTargetRate: Double, pValueWelch: Double, pValueBinomial: Double, pValueMcNemar: Double,
                verdict: String, verificationQueries: Int, surrogateSHA256: String, seconds: Double) {
        self.id = id; self.strategy = strategy; self.variant = variant; self.pool = pool; self.defense = defense
        self.seed = seed; self.budget = budget; self.queriesSpent = queriesSpent; self.victimAccuracy = victimAccuracy
        self.protectedAccuracy = protectedAccuracy; self.extractedAccuracy = extractedAccuracy; self.fidelity = fidelity
        self.wsrRaw = wsrRaw; self.wsrExclusive = wsrExclusive; self.wsrSpecific = wsrSpecific
        self.controlTargetRate = controlTargetRate; self.cleanTargetRate = cleanTargetRate; self.pValueWelch = pValueWelch
        self.pValueBinomial = pValueBinomial; self.pValueMcNemar = pValueMcNemar; self.verdict = verdict
        self.verificationQueries = verificationQueries; self.surrogateSHA256 = surrogateSHA256; self.seconds = seconds
    }

    /// The verdict a reader weighs: the sequential test's where the record has it, else the fixed test's.
    public var finalVerdict: String { sequentialVerdict ?? verdict }
    /// The suspect queries `finalVerdict` took.
    public var queriesToVerdict: Int { sequentialQueries ?? verificationQueries }
    /// `finalVerdict` is "stolen".
    public var claimed: Bool { finalVerdict == "stolen" }

    /// The table row this run belongs to, e.g. "KnockoffNet / naive", with "→ <architecture>" when
    /// the copy's architecture is not the victim's.
    public var rowLabel: String {
        let name = QueryStrategy(rawValue: strategy)?.displayName ?? QueryStrategy.knockoff.displayName
        let attack = "\(name) / \(variant)"
        guard let copy = surrogateArchitecture, let victim = victimArchitecture, copy != victim else { return attack }
        return attack + " → \(copy)"
    }
}
