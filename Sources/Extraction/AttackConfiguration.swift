import Datasets
import NeuralNet

/// How queries are chosen (docs/algorithms.md §5).
public enum QueryStrategy: String, Codable, Sendable, CaseIterable {
    /// Random natural images: shuffle the pool, query the first B.
    case knockoff
    /// Jacobian-based augmentation with targeted random PGD, retraining each round.
    case jbdaTR = "jbda-tr"
    /// Data-free model extraction: a generator trained against the surrogate with zeroth-order
    /// gradients of the victim, no pool (`DFME`; soft labels, variant naive only).
    case dfme
    /// Data-free model stealing (`DFMS`): a generator trained against the surrogate for class
    /// diversity and disagreement with the victim's answers, no gradient estimate; soft labels
    /// (variant naive) or hard labels (top-1).
    case dfms
    /// Disagreement-guided data-free extraction (`DisGUIDE`): two surrogates, a generator trained to
    /// make them disagree, experience replay; soft labels (naive) or hard labels (top-1).
    case disguide

    /// Whether the strategy queries images of the attacker's pool (the data-free DFME, DFMS and
    /// DisGUIDE make their own with a generator).
    public var usesPool: Bool {
        switch self {
        case .knockoff, .jbdaTR: return true
        case .dfme, .dfms, .disguide: return false
        }
    }

    /// The attack's name in tables and messages ("KnockoffNet", "JBDA-TR", "DFME", "DFMS", "DisGUIDE").
    public var displayName: String {
        switch self {
        case .knockoff: return "KnockoffNet"
        case .jbdaTR: return "JBDA-TR"
        case .dfme: return "DFME"
        case .dfms: return "DFMS"
        case .disguide: return "DisGUIDE"
        }
    }
}

/// How the attacker treats the answers (docs/algorithms.md §5); each combines with either strategy.
public enum AdaptiveVariant: String, Codable, Sendable, CaseIterable {
    /// Answers as returned.
    case naive
    /// Train on the one-hot argmax only.
    case top1 = "top-1"
    /// Add a 4-way rotation head trained on the unlabelled pool (weight 1.0).
    case s4l
    /// Query each image 3 times under training augmentation and average.
    case smoothing
    /// Replace each answer via a Dirichlet look-up table of (clean, perturbed) pairs.
    case pBayes = "p-bayes"
    /// Pass each answer through a recovery MLP trained on shadow models' perturbed outputs.
    case dDAE = "d-dae"
    /// D-DAE's recovery MLP trained on an oracle's pairs instead (the paper's Tab. 9): shadow
    /// models' true answers and their answers behind the deployed defense with the attacker's own
    /// key (`ShadowDefense`).
    case oracle

    /// Whether the variant passes answers through a recovery network trained on shadow models.
    public var recoversWithShadows: Bool { self == .dDAE || self == .oracle }
}

/// JBDA-TR's settings.
public struct JBDASettings: Codable, Sendable, Equatable {
    /// Seed set size S (pool images queried first).
    public var seedSize: Int
    /// New queries per sample per round.
    public var queriesPerSample: Int
    /// The PGD that makes them.
    public var pgd: TargetedPGD
    /// Epochs of the surrogate retrained in each intermediate round; nil = the surrogate's epochs.
    public var roundEpochs: Int?

    public init(seedSize: Int = 1_000, queriesPerSample: Int = 3, pgd: TargetedPGD = TargetedPGD(), roundEpochs: Int? = nil) {
        self.seedSize = seedSize
        self.queriesPerSample = queriesPerSample
        self.pgd = pgd
        self.roundEpochs = roundEpochs
    }

    public func validate() throws {
        guard seedSize >= 1 else { throw ExtractionError(.invalidConfiguration, "JBDA-TR seed set size must be ≥ 1, found \(seedSize)") }
        guard queriesPerSample >= 1 else {
            throw ExtractionError(.invalidConfiguration, "JBDA-TR needs ≥ 1 new query per sample, found \(queriesPerSample)")
        }
        if let e = roundEpochs, e < 1 { throw ExtractionError(.invalidConfiguration, "JBDA-TR round epochs must be ≥ 1, found \(e)") }
        try pgd.validate()
    }

    private enum CodingKeys: String, CodingKey { case seedSize, queriesPerSample, pgd, roundEpochs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = JBDASettings()
        self.init(seedSize: try c.decodeIfPresent(Int.self, forKey: .seedSize) ?? d.seedSize,
                  queriesPerSample: try c.decodeIfPresent(Int.self, forKey: .queriesPerSample) ?? d.queriesPerSample,
                  pgd: try c.decodeIfPresent(TargetedPGD.self, forKey: .pgd) ?? d.pgd,
                  roundEpochs: try c.decodeIfPresent(Int.self, forKey: .roundEpochs))
    }
}

/// The smoothing attack's settings.
public struct SmoothingSettings: Codable, Sendable, Equatable {
    /// Queries per image, averaged.
    public var copies: Int
    /// The training augmentation applied to each copy.
    public var augmentation: Augmentation

    public init(copies: Int = 3, augmentation: Augmentation = .cropAndFlip(padding: 2, flip: true)) {
        self.copies = copies
        self.augmentation = augmentation
    }

    public func validate() throws {
        guard copies >= 1 else { throw ExtractionError(.invalidConfiguration, "smoothing needs ≥ 1 copy per image, found \(copies)") }
        try augmentation.validate()
    }

    private enum CodingKeys: String, CodingKey { case copies, augmentation }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SmoothingSettings()
        self.init(copies: try c.decodeIfPresent(Int.self, forKey: .copies) ?? d.copies,
                  augmentation: try c.decodeIfPresent(Augmentation.self, forKey: .augmentation) ?? d.augmentation)
    }
}

/// One extraction attack, completely: strategy, adaptive variant, pool, budget, surrogate
/// training and every variant's settings, plus the seed every random choice derives from.
/// Decoding accepts partial JSON: absent fields take the defaults shown.
public struct AttackConfiguration: Codable, Sendable, Equatable {
    public var strategy: QueryStrategy
    public var variant: AdaptiveVariant
    public var pool: PoolKind
    /// Queries the attacker may send (counted at the boundary).
    public var budget: Int
    public var surrogate: SurrogateRecipe
    public var seed: UInt64
    /// Augmentation of pool images reused past the pool's size (KnockoffNet, JBDA-TR seed set).
    /// Default `defaultReuseAugmentation`.
    public var reuseAugmentation: Augmentation
    /// Images per API call.
    public var queryBatchSize: Int
    public var jbda: JBDASettings
    public var smoothing: SmoothingSettings
    /// Weight of the S4L rotation loss.
    public var s4lWeight: Float
    public var pBayes: PBayesRecovery.Settings
    public var dDAE: DDAERecovery.Settings
    public var dfme: DFME.Settings
    public var dfms: DFMS.Settings
    public var disguide: DisGUIDE.Settings

    public init(strategy: QueryStrategy = .knockoff, variant: AdaptiveVariant = .naive, pool: PoolKind = .mnist5k,
                budget: Int = 20_000, surrogate: SurrogateRecipe = SurrogateRecipe(), seed: UInt64 = 0,
                reuseAugmentation: Augmentation = AttackConfiguration.defaultReuseAugmentation, queryBatchSize: Int = 256,
                jbda: JBDASettings = JBDASettings(), smoothing: SmoothingSettings = SmoothingSettings(),
                s4lWeight: Float = 1, pBayes: PBayesRecovery.Settings = PBayesRecovery.Settings(),
                dDAE: DDAERecovery.Settings = DDAERecovery.Settings(), dfme: DFME.Settings = DFME.Settings(),
                dfms: DFMS.Settings = DFMS.Settings(), disguide: DisGUIDE.Settings = DisGUIDE.Settings()) {
        self.strategy = strategy
        self.variant = variant
        self.pool = pool
        self.budget = budget
        self.surrogate = surrogate
        self.seed = seed
        self.reuseAugmentation = reuseAugmentation
        self.queryBatchSize = queryBatchSize
        self.jbda = jbda
        self.smoothing = smoothing
        self.s4lWeight = s4lWeight
        self.pBayes = pBayes
        self.dDAE = dDAE
        self.dfme = dfme
        self.dfms = dfms
        self.disguide = disguide
    }

    /// Reused pool images: random crop (padding 2), flip, rotation ±15°, shift ≤ 10 %, scale
    /// 0.85–1.15: when this default was chosen, together they gave the thief a better copy than either
    /// part alone, and better than augmenting the surrogate's training batches instead.
    public static let defaultReuseAugmentation = Augmentation(cropPadding: 2, flipProbability: 0.5, rotationDegrees: 15,
                                                              scaleMin: 0.85, scaleMax: 1.15, maxShift: 0.1)

    /// A short name, e.g. "knockoff/naive/mnist-5k/20000" ("dfme/naive/data-free/20000" without a pool).
    public var label: String { "\(strategy.rawValue)/\(variant.rawValue)/\(strategy.usesPool ? pool.rawValue : "data-free")/\(budget)" }

    /// Throws `invalidConfiguration` naming the first bad value.
    public func validate() throws {
        guard budget >= 1 else { throw ExtractionError(.invalidConfiguration, "the query budget must be ≥ 1, found \(budget)") }
        guard queryBatchSize >= 1 else { throw ExtractionError(.invalidConfiguration, "query batch size must be ≥ 1, found \(queryBatchSize)") }
        guard s4lWeight >= 0, s4lWeight.isFinite else { throw ExtractionError(.invalidConfiguration, "S4L weight must be ≥ 0, found \(s4lWeight)") }
        try reuseAugmentation.validate()
        try surrogate.validate()
        switch variant {
        case .smoothing: try smoothing.validate()
        case .pBayes: try pBayes.validate()
        case .dDAE, .oracle: try dDAE.validate()
        case .naive, .top1, .s4l: break
        }
        if strategy == .jbdaTR { try jbda.validate() }
        if strategy == .dfme {
            guard variant == .naive else {
                throw ExtractionError(.invalidConfiguration, "DFME trains on the victim's soft labels as answered: variant naive only, found \(variant.rawValue)")
            }
            try dfme.validate()
        }
        if strategy == .dfms || strategy == .disguide {
            guard variant == .naive || variant == .top1 else {
                throw ExtractionError(.invalidConfiguration,
                                      "\(strategy.displayName) trains on the victim's soft labels (variant naive) or its top-1 labels (variant top-1), found \(variant.rawValue)")
            }
            if strategy == .dfms { try dfms.validate() } else { try disguide.validate() }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case strategy, variant, pool, budget, surrogate, seed, reuseAugmentation, queryBatchSize, jbda, smoothing, s4lWeight, pBayes, dDAE, dfme, dfms, disguide
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AttackConfiguration()
        self.init(strategy: try c.decodeIfPresent(QueryStrategy.self, forKey: .strategy) ?? d.strategy,
                  variant: try c.decodeIfPresent(AdaptiveVariant.self, forKey: .variant) ?? d.variant,
                  pool: try c.decodeIfPresent(PoolKind.self, forKey: .pool) ?? d.pool,
                  budget: try c.decodeIfPresent(Int.self, forKey: .budget) ?? d.budget,
                  surrogate: try c.decodeIfPresent(SurrogateRecipe.self, forKey: .surrogate) ?? d.surrogate,
                  seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed,
                  reuseAugmentation: try c.decodeIfPresent(Augmentation.self, forKey: .reuseAugmentation) ?? d.reuseAugmentation,
                  queryBatchSize: try c.decodeIfPresent(Int.self, forKey: .queryBatchSize) ?? d.queryBatchSize,
                  jbda: try c.decodeIfPresent(JBDASettings.self, forKey: .jbda) ?? d.jbda,
                  smoothing: try c.decodeIfPresent(SmoothingSettings.self, forKey: .smoothing) ?? d.smoothing,
                  s4lWeight: try c.decodeIfPresent(Float.self, forKey: .s4lWeight) ?? d.s4lWeight,
                  pBayes: try c.decodeIfPresent(PBayesRecovery.Settings.self, forKey: .pBayes) ?? d.pBayes,
                  dDAE: try c.decodeIfPresent(DDAERecovery.Settings.self, forKey: .dDAE) ?? d.dDAE,
                  dfme: try c.decodeIfPresent(DFME.Settings.self, forKey: .dfme) ?? d.dfme,
                  dfms: try c.decodeIfPresent(DFMS.Settings.self, forKey: .dfms) ?? d.dfms,
                  disguide: try c.decodeIfPresent(DisGUIDE.Settings.self, forKey: .disguide) ?? d.disguide)
    }
}
