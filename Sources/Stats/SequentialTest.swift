#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(ucrt)
import ucrt
#endif

/// A sequential ownership test on Bernoulli trigger hits: query in small batches, stop as soon as
/// the evidence suffices, and keep the false-claim rate at most α however and whenever it stops.
///
/// Null hypothesis H0: the suspect's hit rate p ≤ p₀ (the rate of independent models).
/// Both methods track a likelihood ratio Mₜ that is a non-negative supermartingale with M₀ = 1
/// under every p ≤ p₀, so by Ville's inequality P(supₜ Mₜ ≥ 1/α) ≤ α: rejecting when Mₜ ≥ 1/α
/// controls the false-claim rate under optional stopping and continuation (any batch sizes,
/// any number of looks, stopping early, or continuing past a planned end). The always-valid
/// p-value pₜ = min(1, 1 / maxₛ≤ₜ Mₛ) satisfies P(pₜ ≤ α for some t) ≤ α for the same reason.
///
/// - `.mixture` (the default): Mₜ = ∫ Πᵢ (p/p₀)^{xᵢ} ((1 − p)/(1 − p₀))^{1 − xᵢ} dπ(p) with π a
///   Beta(a, b) prior truncated to [p₀, 1]; in closed form
///   Mₜ = B(a + S, b + F)·Q(a + S, b + F) / [B(a, b)·Q(a, b)] / (p₀^S (1 − p₀)^F), where S and F
///   are hits and misses and Q(·,·) = 1 − I_{p₀}(·,·). Each factor with p ≥ p₀ has mean ≤ 1 when
///   the true rate is ≤ p₀, hence the supermartingale. It needs no guess of the watermark's
///   strength, which is unknown before verification (attacks leave very different WSRs), and it
///   adapts to it; that is why it is the default. It never accepts H0 on evidence: it stops for
///   futility only at `maxQueries`.
/// - `.sprt`: Wald's SPRT for H1: p = p₁, Λₜ = (p₁/p₀)^S ((1 − p₁)/(1 − p₀))^F. It rejects at
///   Λₜ ≥ 1/α (Ville; Wald's usual (1 − β)/α only guarantees α/(1 − β)) and accepts H0 at
///   Λₜ ≤ β/(1 − α). Fastest when p₁ is right, slow or wrongly accepting when the true rate is
///   between p₀ and p₁.
public struct SequentialTest: Sendable {
    /// What the test concluded after the last update.
    public enum Decision: Sendable, Hashable {
        /// Keep querying.
        case `continue`
        /// Evidence suffices: claim ownership (reject H0).
        case rejectH0
        /// Stop without a claim: SPRT acceptance boundary, or the query budget is spent.
        case acceptH0
    }

    /// The likelihood ratio being tracked.
    public enum Method: Sendable, Hashable {
        /// Beta(a, b) mixture over p ≥ p₀ (default a = b = 1: uniform on [p₀, 1]).
        case mixture(a: Double = 1, b: Double = 1)
        /// Wald's SPRT against the point alternative p₁ > p₀ with type II error β.
        case sprt(alternativeRate: Double, beta: Double = 0.01)
    }

    /// Null hit rate p₀.
    public let nullRate: Double
    /// Significance level α (bound on the false-claim probability).
    public let alpha: Double
    /// The likelihood ratio in use.
    public let method: Method
    /// Stop with `.acceptH0` once this many queries are spent (nil: no budget).
    public let maxQueries: Int?

    /// Hits observed so far (up to the stopping point).
    public private(set) var hits = 0
    /// Queries spent so far (up to the stopping point).
    public private(set) var queriesUsed = 0
    /// The current decision; once it is not `.continue` it no longer changes.
    public private(set) var decision = Decision.continue
    /// log Mₜ (mixture) or log Λₜ (SPRT) after the last update.
    public private(set) var logLikelihoodRatio = 0.0
    /// maxₛ≤ₜ log Mₛ, which the always-valid p-value uses.
    public private(set) var maxLogLikelihoodRatio = 0.0

    private let logPriorNormalizer: Double

    /// A sequential test of H0: p ≤ p₀ at level α.
    public init(nullRate: Double, alpha: Double = 1e-4, method: Method = .mixture(), maxQueries: Int? = nil) {
        precondition(nullRate > 0 && nullRate < 1, "null rate must lie in (0, 1)")
        precondition(alpha > 0 && alpha < 1, "α must lie in (0, 1)")
        if let m = maxQueries { precondition(m > 0, "maxQueries must be positive") }
        switch method {
        case .mixture(let a, let b):
            precondition(a > 0 && b > 0, "prior parameters must be positive")
            logPriorNormalizer = logBeta(a, b)
                + logIncompleteBetaPair(a: a, b: b, x: nullRate, y: 1 - nullRate).upper
        case .sprt(let p1, let beta):
            precondition(p1 > nullRate && p1 < 1, "the alternative rate must lie in (p₀, 1)")
            precondition(beta > 0 && beta < 1, "β must lie in (0, 1)")
            logPriorNormalizer = 0
        }
        self.nullRate = nullRate
        self.alpha = alpha
        self.method = method
        self.maxQueries = maxQueries
    }

    /// Always-valid p-value min(1, 1 / maxₛ≤ₜ Mₛ).
    public var pValue: Double { exp(-maxLogLikelihoodRatio) }

    /// log of the rejection threshold, log(1/α).
    public var logRejectionThreshold: Double { -log(alpha) }

    /// Adds a batch of `trials` queries of which `hits` were answered with the target class, and
    /// returns the decision. After a decision other than `.continue`, further batches are ignored
    /// (the test has stopped) and the same decision is returned.
    @discardableResult
    public mutating func update(hits newHits: Int, trials: Int) -> Decision {
        precondition(trials >= 0 && newHits >= 0 && newHits <= trials, "need 0 ≤ hits ≤ trials")
        guard decision == .continue else { return decision }
        hits += newHits
        queriesUsed += trials
        logLikelihoodRatio = Self.logRatio(
            method: method, nullRate: nullRate, normalizer: logPriorNormalizer,
            hits: hits, misses: queriesUsed - hits)
        maxLogLikelihoodRatio = max(maxLogLikelihoodRatio, logLikelihoodRatio)
        if logLikelihoodRatio >= logRejectionThreshold {
            decision = .rejectH0
        } else if case .sprt(_, let beta) = method, logLikelihoodRatio <= log(beta) - log1p(-alpha) {
            decision = .acceptH0
        } else if let budget = maxQueries, queriesUsed >= budget {
            decision = .acceptH0
        }
        return decision
    }

    /// Adds one query outcome.
    @discardableResult
    public mutating func update(hit: Bool) -> Decision {
        update(hits: hit ? 1 : 0, trials: 1)
    }

    private static func logRatio(
        method: Method, nullRate p0: Double, normalizer: Double, hits s: Int, misses f: Int
    ) -> Double {
        let ds = Double(s)
        let df = Double(f)
        let logNull = ds * log(p0) + df * log1p(-p0)
        switch method {
        case .mixture(let a, let b):
            let posterior = logBeta(a + ds, b + df)
                + logIncompleteBetaPair(a: a + ds, b: b + df, x: p0, y: 1 - p0).upper
            return posterior - normalizer - logNull
        case .sprt(let p1, _):
            return ds * (log(p1) - log(p0)) + df * (log1p(-p1) - log1p(-p0))
        }
    }
}
