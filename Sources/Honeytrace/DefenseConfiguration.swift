import Prediction
import Training

/// Every setting of the Neural Honeytrace defense (docs/algorithms.md §2), stored in the key file so a
/// defended API can be reproduced from the key alone.
///
/// The defaults are the paper's (Eq. 7–10) except the offset `d`, which depends on the raw
/// scale of a model's features and must come from `Calibration` (the paper's 0.85 is kept as
/// a placeholder until then). The options beyond the paper (`featureSpace`, `score`) default
/// to the paper's behaviour: they are there to be measured, not assumed better.
public struct DefenseConfiguration: Codable, Sendable, Equatable {
    /// Per-dimension distance D between two feature vectors.
    public enum Distance: String, Codable, Sendable, CaseIterable {
        /// Mean of squared differences (paper Eq. 7), computed as one GEMM.
        case meanSquared = "mean-squared"
        /// Mean of absolute differences (the authors' code).
        case meanAbsolute = "mean-absolute"
    }

    /// How the n per-watermark distances become one distance.
    public enum Aggregate: TextCoded, Sendable, Equatable {
        /// Mean over all watermarks (paper Eq. 7).
        case mean
        /// Mean of the k smallest distances (the authors' code uses k = 10 over a cache
        /// that repeats each watermark, which amounts to the minimum; `.nearest(1)` is that).
        case nearest(Int)

        /// `"mean"` or `"nearest-<k>"`.
        public var description: String {
            switch self {
            case .mean: return "mean"
            case .nearest(let k): return "nearest-\(k)"
            }
        }

        /// Parses `"mean"`, `"min"` (= nearest-1) or `"nearest-<k>"`.
        public init?(argument: String) {
            let s = argument.lowercased()
            if s == "mean" { self = .mean; return }
            if s == "min" { self = .nearest(1); return }
            guard s.hasPrefix("nearest-"), let k = Int(s.dropFirst("nearest-".count)), k >= 1 else { return nil }
            self = .nearest(k)
        }

        public static let textName = "aggregate"
        public static let textForms = "mean, min or nearest-<k>"
    }

    /// The space in which feature distances are measured.
    public enum FeatureSpace: String, Codable, Sendable, CaseIterable {
        /// Raw penultimate features (the paper).
        case raw
        /// Each feature dimension divided by its standard deviation on the owner's
        /// in-distribution data (stored in the key as `feature_std`), so that a few wide
        /// dimensions do not dominate the distance (beyond the paper, docs/algorithms.md §2.1).
        case standardized
    }

    /// What the similarity measures.
    public enum Score: String, Codable, Sendable, CaseIterable {
        /// Distance to the watermarks (the paper): s = clip(d − dist_wm, 0, 1).
        case watermark
        /// Out-of-distribution aware (beyond the paper, docs/algorithms.md §2.2 "paper − distance to nearest
        /// training feature"): s = clip(d − (dist_wm − dist_data), 0, 1), where dist_data is the
        /// distance D to the nearest in-distribution feature stored in the key. Queries far
        /// from the owner's data (attack queries) get a higher similarity than benign ones at
        /// the same distance from the watermarks.
        case relative = "relative"
        /// As `.relative`, but dist_data is measured to in-distribution images of the
        /// recipe's source classes only (docs/algorithms.md §2.2 "paper − distance to nearest plain class-4/6
        /// image"): rewards being nearer the composites than the plain images they are made of.
        case relativeToSourceClasses = "relative-source"
        /// The key's mark probe (beyond the paper, `MarkProbe`): s = clip(d − (1 − probe(h)), 0, 1),
        /// where the probe reads 0 on unmarked images and 1 on marked ones. Only queries whose
        /// features move the way the mark moves them are mixed and flipped, so a thief's copy learns
        /// the mark rather than a bias toward the target.
        case markProbe = "mark-probe"
        /// The paper's similarity weighted by the mark probe (beyond the paper):
        /// s = clip(d − dist_wm, 0, 1) · clip(probe(h), 0, 1). The watermark distance says "unlike
        /// the owner's data" (true of nearly every attack query on some models), the probe says
        /// "carries what the mark carries"; only queries with both are mixed and flipped in earnest.
        case watermarkTimesProbe = "watermark-probe"
        /// How close the query's pixels are to carrying the key's stamped mark (beyond the paper,
        /// `PixelMark`): s = clip(d − pixel distance, 0, 1). Aimed at thieves with data like the
        /// owner's, whose natural queries the feature-space scores rarely tie to the mark.
        case pixelMark = "pixel-mark"

        /// Whether the score needs the key's mark probe.
        public var needsProbe: Bool { self == .markProbe || self == .watermarkTimesProbe }
        /// Whether the score subtracts the distance to the key's in-distribution features.
        public var needsDataFeatures: Bool { self == .relative || self == .relativeToSourceClasses }
    }

    /// Where per-row random choices (flip draw, reference logits, noise) come from.
    public enum Randomness: TextCoded, Sendable, Equatable {
        /// HMAC-SHA256 of the quantised input under the key's secret (docs/algorithms.md §2.7): the same
        /// input always gets the same answer. The default.
        case keyed
        /// Fresh draws per call from a seeded stream (the authors' code), for comparison.
        case fresh(seed: UInt64)
        /// HMAC-SHA256 of the query's feature neighbourhood under the key's secret (beyond the
        /// paper): the signs of the centred features on `HoneytraceDefense.neighbourhoodBits`
        /// secret random hyperplanes. Slightly perturbed or augmented copies of an image usually
        /// share their neighbourhood, hence their flip draw, so averaging answers over copies
        /// (the smoothing attack) does not wash the flips out.
        case keyedNeighbourhood

        public var description: String {
            switch self {
            case .keyed: return "keyed"
            case .fresh(let seed): return "fresh-\(seed)"
            case .keyedNeighbourhood: return "keyed-neighbourhood"
            }
        }

        /// Parses `"keyed"`, `"keyed-neighbourhood"` or `"fresh"` / `"fresh-<seed>"`.
        public init?(argument: String) {
            let s = argument.lowercased()
            if s == "keyed" { self = .keyed; return }
            if s == "keyed-neighbourhood" || s == "keyed-neighborhood" { self = .keyedNeighbourhood; return }
            if s == "fresh" { self = .fresh(seed: 0); return }
            guard s.hasPrefix("fresh-"), let seed = UInt64(s.dropFirst("fresh-".count)) else { return nil }
            self = .fresh(seed: seed)
        }

        public static let textName = "randomness"
        public static let textForms = "keyed, keyed-neighbourhood or fresh-<seed>"
    }

    /// What the API returns per query (shared with the attacks and the server).
    public typealias AnswerMode = Prediction.AnswerMode

    /// Per-dimension distance (default: mean squared, Eq. 7).
    public var distance: Distance
    /// Aggregation over watermarks (default: mean, Eq. 7).
    public var aggregate: Aggregate
    /// Feature space of the distance (default: raw).
    public var featureSpace: FeatureSpace
    /// What the similarity measures (default: the paper's watermark distance).
    public var score: Score
    /// The offset d of s = clip(d − dist, 0, 1); set it with `Calibration`.
    public var offset: Float
    /// Paper Eq. 8: when max softmax(z) ≥ this, s ← s^`confidentExponent`; nil = off.
    public var confidentThreshold: Float?
    /// Exponent for confident queries (default 2).
    public var confidentExponent: Float
    /// Authors' code: when max softmax(z) < this, s ← s^`unconfidentExponent`; nil = off.
    public var unconfidentThreshold: Float?
    /// Exponent for unconfident queries (default 1/4).
    public var unconfidentExponent: Float
    /// α of Eq. 9: z' = (1 − s^α)·z + s^α·l_ref (default 2).
    public var mixingPower: Float
    /// β of Eq. 10: flip with probability s^β (default 3).
    public var flippingPower: Float
    /// σ of the Gaussian noise ε added to a flipped row's reference logits (default 0.1;
    /// 0 reproduces the authors' code).
    public var flipNoiseStd: Float
    /// Authors' code: round the flip probability down to a multiple of 0.1 (default off).
    public var quantizeFlipProbability: Bool
    /// Keyed (default) or fresh randomness.
    public var randomness: Randomness
    /// What the API returns (default: probabilities).
    public var answer: AnswerMode
    /// Out-of-distribution gate (beyond the paper; nil = off, the default): a quantile q in (0, 1).
    /// A query is mixed or flipped only when its nearest in-distribution feature in the key is
    /// farther than the q-quantile of that same distance among the key's own in-distribution
    /// features (each to its nearest other one), so about a fraction 1 − q of honest queries can be
    /// touched at all. The accuracy budget then buys flips of the queries unlike the owner's data,
    /// which is where extraction queries come from.
    public var outOfDistributionGate: Float?

    /// "out-of-distribution gate at the q quantile" when the gate is on, for one-line summaries.
    public var outOfDistributionGateDescription: String? {
        outOfDistributionGate.map { "out-of-distribution gate at the \($0) quantile" }
    }

    public init(distance: Distance = .meanSquared, aggregate: Aggregate = .mean, featureSpace: FeatureSpace = .raw,
                score: Score = .watermark, offset: Float = 0.85,
                confidentThreshold: Float? = 0.95, confidentExponent: Float = 2,
                unconfidentThreshold: Float? = 0.5, unconfidentExponent: Float = 0.25,
                mixingPower: Float = 2, flippingPower: Float = 3, flipNoiseStd: Float = 0.1,
                quantizeFlipProbability: Bool = false, randomness: Randomness = .keyed,
                answer: AnswerMode = .probabilities, outOfDistributionGate: Float? = nil) {
        self.distance = distance
        self.aggregate = aggregate
        self.featureSpace = featureSpace
        self.score = score
        self.offset = offset
        self.confidentThreshold = confidentThreshold
        self.confidentExponent = confidentExponent
        self.unconfidentThreshold = unconfidentThreshold
        self.unconfidentExponent = unconfidentExponent
        self.mixingPower = mixingPower
        self.flippingPower = flippingPower
        self.flipNoiseStd = flipNoiseStd
        self.quantizeFlipProbability = quantizeFlipProbability
        self.randomness = randomness
        self.answer = answer
        self.outOfDistributionGate = outOfDistributionGate
    }

    /// The paper's settings (docs/algorithms.md §2) with the given offset.
    public static func paper(offset: Float = 0.85) -> DefenseConfiguration { DefenseConfiguration(offset: offset) }

    /// Throws a `HoneytraceError` naming the first invalid setting.
    public func validate() throws {
        func fail(_ problem: String) -> HoneytraceError { HoneytraceError(.invalidArgument, "defense configuration: \(problem)") }
        if case .nearest(let k) = aggregate, k < 1 { throw fail("nearest-k needs k ≥ 1, found \(k)") }
        if !offset.isFinite { throw fail("offset d must be finite, found \(offset)") }
        if let t = confidentThreshold, !(t >= 0 && t <= 1) { throw fail("confident threshold \(t) must lie in [0, 1]") }
        if let t = unconfidentThreshold, !(t >= 0 && t <= 1) { throw fail("unconfident threshold \(t) must lie in [0, 1]") }
        if !(confidentExponent > 0 && confidentExponent.isFinite) { throw fail("confident exponent \(confidentExponent) must be positive") }
        if !(unconfidentExponent > 0 && unconfidentExponent.isFinite) { throw fail("unconfident exponent \(unconfidentExponent) must be positive") }
        if !(mixingPower > 0 && mixingPower.isFinite) { throw fail("mixing power α = \(mixingPower) must be positive") }
        if !(flippingPower > 0 && flippingPower.isFinite) { throw fail("flipping power β = \(flippingPower) must be positive") }
        if !(flipNoiseStd >= 0 && flipNoiseStd.isFinite) { throw fail("flip noise σ = \(flipNoiseStd) must be ≥ 0") }
        if case .topK(let k) = answer, k < 1 { throw fail("top-k needs k ≥ 1, found \(k)") }
        if let q = outOfDistributionGate, !(q > 0 && q < 1) { throw fail("out-of-distribution gate \(q) must be a quantile in (0, 1)") }
    }

    /// The settings Honeytrace recommends (and `honeytrace watermark create` and the attack presets
    /// use): the paper's, except mixing power α = 8 instead of 2, keyed-neighbourhood randomness, the
    /// `watermark-probe` score and the out-of-distribution gate at the 0.97 quantile. Mixing every
    /// similar query toward the target teaches a thief a plain bias; with α = 8 only the most similar
    /// answers move much. Drawing flips per feature neighbourhood keeps them when the smoothing attack
    /// averages answers over augmented copies. Weighting the similarity by the key's mark probe moves
    /// only the queries that carry what the mark carries, and the gate spends the accuracy budget on
    /// queries unlike the owner's data. What each choice did, and against which thieves it falls
    /// short, is measured in docs/results/README.md.
    public static var recommended: DefenseConfiguration {
        var d = DefenseConfiguration()
        d.mixingPower = 8
        d.randomness = .keyedNeighbourhood
        d.score = .watermarkTimesProbe
        d.outOfDistributionGate = 0.97
        return d
    }

    private enum CodingKeys: String, CodingKey {
        case distance, aggregate, featureSpace = "feature_space", score, offset
        case confidentThreshold = "confident_threshold", confidentExponent = "confident_exponent"
        case unconfidentThreshold = "unconfident_threshold", unconfidentExponent = "unconfident_exponent"
        case mixingPower = "mixing_power", flippingPower = "flipping_power", flipNoiseStd = "flip_noise_std"
        case quantizeFlipProbability = "quantize_flip_probability", randomness, answer
        case outOfDistributionGate = "ood_gate"
    }

    /// Decoding accepts partial objects: absent fields keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DefenseConfiguration()
        self.init(
            distance: try c.decodeIfPresent(Distance.self, forKey: .distance) ?? d.distance,
            aggregate: try c.decodeIfPresent(Aggregate.self, forKey: .aggregate) ?? d.aggregate,
            featureSpace: try c.decodeIfPresent(FeatureSpace.self, forKey: .featureSpace) ?? d.featureSpace,
            score: try c.decodeIfPresent(Score.self, forKey: .score) ?? d.score,
            offset: try c.decodeIfPresent(Float.self, forKey: .offset) ?? d.offset,
            confidentThreshold: c.contains(.confidentThreshold)
                ? try c.decodeIfPresent(Float.self, forKey: .confidentThreshold) : d.confidentThreshold,
            confidentExponent: try c.decodeIfPresent(Float.self, forKey: .confidentExponent) ?? d.confidentExponent,
            unconfidentThreshold: c.contains(.unconfidentThreshold)
                ? try c.decodeIfPresent(Float.self, forKey: .unconfidentThreshold) : d.unconfidentThreshold,
            unconfidentExponent: try c.decodeIfPresent(Float.self, forKey: .unconfidentExponent) ?? d.unconfidentExponent,
            mixingPower: try c.decodeIfPresent(Float.self, forKey: .mixingPower) ?? d.mixingPower,
            flippingPower: try c.decodeIfPresent(Float.self, forKey: .flippingPower) ?? d.flippingPower,
            flipNoiseStd: try c.decodeIfPresent(Float.self, forKey: .flipNoiseStd) ?? d.flipNoiseStd,
            quantizeFlipProbability: try c.decodeIfPresent(Bool.self, forKey: .quantizeFlipProbability) ?? d.quantizeFlipProbability,
            randomness: try c.decodeIfPresent(Randomness.self, forKey: .randomness) ?? d.randomness,
            answer: try c.decodeIfPresent(AnswerMode.self, forKey: .answer) ?? d.answer,
            outOfDistributionGate: try c.decodeIfPresent(Float.self, forKey: .outOfDistributionGate))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(distance, forKey: .distance)
        try c.encode(aggregate, forKey: .aggregate)
        try c.encode(featureSpace, forKey: .featureSpace)
        try c.encode(score, forKey: .score)
        try c.encode(offset, forKey: .offset)
        // Explicit nulls: "off" must survive a round trip (absent means "default").
        try c.encode(confidentThreshold, forKey: .confidentThreshold)
        try c.encode(confidentExponent, forKey: .confidentExponent)
        try c.encode(unconfidentThreshold, forKey: .unconfidentThreshold)
        try c.encode(unconfidentExponent, forKey: .unconfidentExponent)
        try c.encode(mixingPower, forKey: .mixingPower)
        try c.encode(flippingPower, forKey: .flippingPower)
        try c.encode(flipNoiseStd, forKey: .flipNoiseStd)
        try c.encode(quantizeFlipProbability, forKey: .quantizeFlipProbability)
        try c.encode(randomness, forKey: .randomness)
        try c.encode(answer, forKey: .answer)
        // Written only when on, so keys and configurations without the gate keep their bytes.
        try c.encodeIfPresent(outOfDistributionGate, forKey: .outOfDistributionGate)
    }
}
