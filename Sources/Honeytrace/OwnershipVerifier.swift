import Prediction
import Stats
import TensorEngine

/// Ownership verification (docs/algorithms.md §4): asks a suspect (and non-protected reference models) for
/// top-1 labels on the key's fresh triggers and their paired controls, and turns the answers
/// into WSRs, p-values and a verdict.
///
/// **Null rate of the binomial test.** H0: the suspect answers t on triggers no more often
/// than the references do. Their pooled rate k/n is only an estimate, and it is often 0 (the
/// undefended API's surrogates rarely answer t), which would make any hit "impossible".
/// So p₀ is the Clopper–Pearson upper bound of the references' pooled hits at confidence 1 − γ,
/// γ = α/10, and the reported p-value is P(X ≥ hits | m, p₀) + γ (Berger and Boos, 1994): a valid
/// p-value for the unknown true reference rate, however few references there are and whether
/// or not they hit, because the true rate exceeds p₀ with probability at most γ. Its least value
/// is γ. Without references, p₀ = 1/K (chance), stated in the report; with references p₀ is never
/// below `nullRateFloor` (default also 1/K): independent models answer t on some recipes' triggers
/// more often than the owner's references do, and a claim must not rest on that.
///
/// **Verdict.** "stolen" iff the binomial p ≤ α *and* the exact McNemar p on trigger/control pairs
/// ≤ α. This intersection–union test has level α (to claim falsely, both tests must reject, and
/// either one alone errs with probability ≤ α under its null), and it cannot be won by a mere bias
/// toward t: the McNemar test compares each trigger with its own control. Its p-value is the
/// larger of the two. The Welch t-test is reported beside them, as the paper does.
///
/// **Sequential mode.** The suspect is queried in small batches of pairs; after each batch two
/// always-valid tests (`Stats.SequentialTest`, Beta-mixture likelihood ratios, valid under
/// optional stopping by Ville's inequality) are updated: trigger hits against p₀ (at level α − γ,
/// so adding γ keeps it at α) and trigger-only among discordant pairs against ½. It stops as soon
/// as both reject ("stolen") or when the budget is spent ("not stolen"). References are local and
/// answer every trigger up front; their queries do not count against the suspect's budget.
public struct OwnershipVerifier: Sendable {
    /// The triggers and controls (made from the key's recipe).
    public let triggers: TriggerSet
    /// `[C, H, W]` and class count the suspect must have.
    public let inputShape: [Int]
    public let classes: Int
    /// Significance level α of the verdict (default 1e-4).
    public var alpha: Double
    /// Type II error β for the queries-needed figures (default 0.01, power 0.99).
    public var beta: Double
    /// Images per query batch in fixed mode.
    public var batchSize: Int
    /// Least null rate p₀ of the binomial test when references are given (default 1/K, chance).
    /// Independently trained models answer t on some recipes' triggers more often than the
    /// references an owner has at hand (the mark itself moves them; docs/results/README.md), so
    /// the McNemar test alone would not protect them. Claiming theft then
    /// takes a suspect that answers t on triggers more often than chance. 0 gives docs/algorithms.md §4's
    /// reference-only rule.
    public var nullRateFloor: Double

    public init(key: WatermarkKey, triggers: TriggerSet, alpha: Double = 1e-4, beta: Double = 0.01, batchSize: Int = 256) throws {
        guard alpha > 0 && alpha < 1 else { throw HoneytraceError(.invalidArgument, "significance level α = \(alpha) must lie in (0, 1)") }
        guard beta > 0 && beta < 1 else { throw HoneytraceError(.invalidArgument, "β = \(beta) must lie in (0, 1)") }
        guard batchSize >= 1 else { throw HoneytraceError(.invalidArgument, "batch size must be at least 1, found \(batchSize)") }
        guard triggers.imageShape == key.inputShape else {
            throw HoneytraceError(.invalidArgument, "triggers have images of shape \(triggers.imageShape), the key's model takes \(key.inputShape)")
        }
        guard triggers.target == key.target else {
            throw HoneytraceError(.invalidArgument, "triggers target class \(triggers.target), the key targets \(key.target)")
        }
        self.triggers = triggers
        self.inputShape = key.inputShape
        self.classes = key.classes
        self.alpha = alpha
        self.beta = beta
        self.batchSize = batchSize
        self.nullRateFloor = 1 / Double(key.classes)
    }

    /// γ of the null-rate bound (see the type's documentation).
    public var gamma: Double { alpha / 10 }

    /// The rule the verdict follows, in words.
    public static let decisionRule = "stolen iff the binomial p ≤ α and the McNemar p ≤ α (intersection–union test, level α)"

    // MARK: Queries

    /// Which of pairs `range` the model answered with t, on triggers and on controls.
    func hits(_ model: PredictionAPI, pairs range: Range<Int>, batch: Int) throws -> (triggers: [Bool], controls: [Bool]) {
        var t: [Bool] = [], c: [Bool] = []
        t.reserveCapacity(range.count)
        c.reserveCapacity(range.count)
        for start in stride(from: range.lowerBound, to: range.upperBound, by: batch) {
            let r = start..<min(start + batch, range.upperBound)
            t += try model.checkedLabels(for: triggers.triggerBatch(r)).map { $0 == triggers.target }
            c += try model.checkedLabels(for: triggers.controlBatch(r)).map { $0 == triggers.target }
        }
        return (t, c)
    }

    /// A model's answers on every trigger and control, asked once so that a pool of reference
    /// models (e.g. a null pool) serves many suspects without being queried again.
    public func answers(of model: PredictionAPI) throws -> ReferenceAnswers {
        try model.checkCompatible(inputShape: inputShape, classes: classes)
        let h = try hits(model, pairs: 0..<triggers.count, batch: batchSize)
        return ReferenceAnswers(name: model.name, triggers: h.triggers, controls: h.controls)
    }

    /// A model's t-answers on the verifier's triggers and controls, in order (a reference's, or a
    /// suspect's that is analysed from them).
    public struct ReferenceAnswers: Sendable {
        public let name: String
        public let triggers: [Bool]
        public let controls: [Bool]
    }

    private func checkAll(_ suspect: PredictionAPI, _ references: [PredictionAPI]) throws {
        try suspect.checkCompatible(inputShape: inputShape, classes: classes)
        for r in references { try r.checkCompatible(inputShape: inputShape, classes: classes) }
    }

    /// Fixed-sample verification on all m pairs.
    ///
    /// - Throws: `suspectMismatch` when the suspect or a reference has another input shape or
    ///   class count (naming expected and found) or answers badly.
    public func verify(suspect: PredictionAPI, references: [PredictionAPI] = []) throws -> VerificationReport {
        try checkAll(suspect, references)
        return try analyze(suspect: try answers(of: suspect), references: try references.map { try answers(of: $0) })
    }

    /// The fixed-mode statistics from observed hits (pure; `verify` calls it).
    ///
    /// - Parameters:
    ///   - triggerHits, controlHits: the suspect's t-answers per pair.
    ///   - references: per reference model, its name and t-answers on the same triggers and controls.
    public func analyze(suspect: String, triggerHits: [Bool], controlHits: [Bool],
                        references: [(name: String, triggers: [Bool], controls: [Bool])]) throws -> VerificationReport {
        let m = triggerHits.count
        guard m >= 1, controlHits.count == m else {
            throw HoneytraceError(.invalidArgument, "need as many control outcomes as trigger outcomes (\(m) and \(controlHits.count)), at least one")
        }
        for r in references where r.triggers.count != m || r.controls.count != m {
            throw HoneytraceError(.invalidArgument, "reference '\(r.name)' answered \(r.triggers.count) triggers, \(m) expected")
        }
        var report = describe(suspect: suspect, mode: .fixed, triggerHits: triggerHits, controlHits: controlHits, references: references)
        let k = report.triggerHits
        let null = nullRate(references: report.references, pairs: m)
        report.nullRate = null.rate
        report.nullRateRule = null.rule
        report.binomialPValue = try stats {
            null.rate >= 1 ? 1 : min(1, try exactBinomialTest(successes: k, trials: m, nullRate: null.rate).pValue + null.gamma)
        }
        report.mcnemarPValue = try stats { try exactMcNemarTest(triggerHits: triggerHits, controlHits: controlHits).pValue }
        report.pValue = max(report.binomialPValue, report.mcnemarPValue)
        report.verdict = report.binomialPValue <= alpha && report.mcnemarPValue <= alpha ? .stolen : .notStolen
        return report
    }

    /// `analyze` over answers asked before (`answers(of:)`): the suspect's and its references'.
    public func analyze(suspect: ReferenceAnswers, references: [ReferenceAnswers]) throws -> VerificationReport {
        try analyze(suspect: suspect.name, triggerHits: suspect.triggers, controlHits: suspect.controls,
                    references: references.map { ($0.name, $0.triggers, $0.controls) })
    }

    // MARK: Sequential

    /// Sequential verification: pairs in batches of `batchSize` (default 20) up to `maxPairs`
    /// (default: all m), stopping as soon as both always-valid tests reject at α.
    public func verifySequential(suspect: PredictionAPI, references: [PredictionAPI] = [], answered: [ReferenceAnswers] = [],
                                 batchSize batch: Int = 20, maxPairs: Int? = nil) throws -> VerificationReport {
        guard batch >= 1 else { throw HoneytraceError(.invalidArgument, "sequential batch size must be at least 1, found \(batch)") }
        let budget = min(maxPairs ?? triggers.count, triggers.count)
        guard budget >= 1 else { throw HoneytraceError(.invalidArgument, "the sequential budget must allow at least one pair") }
        try checkAll(suspect, references)
        let refs = (try references.map { try answers(of: $0) } + answered).map { (name: $0.name, triggers: $0.triggers, controls: $0.controls) }
        let refSummaries = refs.map { summarize($0.name, $0.triggers, $0.controls) }
        let null = nullRate(references: refSummaries, pairs: triggers.count)
        let canTest = null.rate > 0 && null.rate < 1
        var binomial = canTest ? SequentialTest(nullRate: null.rate, alpha: alpha - null.gamma) : nil
        var specific = SequentialTest(nullRate: 0.5, alpha: alpha)
        var sTriggers: [Bool] = [], sControls: [Bool] = []
        var used = 0
        while used < budget {
            let r = used..<min(used + batch, budget)
            let h = try hits(suspect, pairs: r, batch: r.count)
            sTriggers += h.triggers
            sControls += h.controls
            used = r.upperBound
            binomial?.update(hits: h.triggers.lazy.filter { $0 }.count, trials: r.count)
            let triggerOnly = zip(h.triggers, h.controls).lazy.filter { $0 && !$1 }.count
            let controlOnly = zip(h.triggers, h.controls).lazy.filter { !$0 && $1 }.count
            if triggerOnly + controlOnly > 0 { specific.update(hits: triggerOnly, trials: triggerOnly + controlOnly) }
            if binomial?.decision == .rejectH0 && specific.decision == .rejectH0 { break }
        }
        let prefix = refs.map { ($0.name, Array($0.triggers.prefix(used)), Array($0.controls.prefix(used))) }
        var report = describe(suspect: suspect.name, mode: .sequential, triggerHits: sTriggers, controlHits: sControls, references: prefix)
        report.references = refSummaries
        report.referenceRate = refs.isEmpty ? nil : refSummaries.reduce(0.0) { $0 + Double($1.triggerHits) } / Double(refs.count * triggers.count)
        report.nullRate = null.rate
        report.nullRateRule = null.rule
        report.binomialPValue = binomial.map { min(1, $0.pValue + null.gamma) } ?? 1
        report.mcnemarPValue = specific.pValue
        report.pValue = max(report.binomialPValue, report.mcnemarPValue)
        report.verdict = binomial?.decision == .rejectH0 && specific.decision == .rejectH0 ? .stolen : .notStolen
        report.decisionRule = "sequential: " + OwnershipVerifier.decisionRule + ", with always-valid p-values (Beta-mixture likelihood ratios), stopping as soon as both reject"
        return report
    }

    // MARK: Pieces

    private func summarize(_ name: String, _ t: [Bool], _ c: [Bool]) -> VerificationReport.Reference {
        let th = t.lazy.filter { $0 }.count, ch = c.lazy.filter { $0 }.count, n = max(t.count, 1)
        return .init(name: name, pairs: t.count, triggerHits: th, controlHits: ch,
                     triggerRate: Double(th) / Double(n), controlRate: Double(ch) / Double(n))
    }

    /// p₀, the γ to add to the binomial p-value, and the rule in words.
    func nullRate(references: [VerificationReport.Reference], pairs m: Int) -> (rate: Double, gamma: Double, rule: String) {
        guard !references.isEmpty else {
            return (1 / Double(classes), 0, "no reference models: p₀ = 1/K = chance (conservative)")
        }
        let k = references.reduce(0) { $0 + $1.triggerHits }, n = references.reduce(0) { $0 + $1.pairs }
        let bound = clopperPearsonUpperBound(successes: k, trials: n, confidence: 1 - gamma)
        let rule = "Clopper–Pearson upper bound at confidence 1 − γ of the references' \(k)/\(n) pooled trigger hits, γ = α/10 added to the p-value"
        if bound < nullRateFloor {
            return (nullRateFloor, gamma, "the floor \(nullRateFloor) (above the \(rule), \(bound))")
        }
        return (bound, gamma, rule)
    }

    /// Rates, exclusive WSR, Welch and queries-needed figures; p-values and verdict left for the caller.
    private func describe(suspect: String, mode: VerificationReport.Mode, triggerHits: [Bool], controlHits: [Bool],
                          references: [(name: String, triggers: [Bool], controls: [Bool])]) -> VerificationReport {
        let m = triggerHits.count
        let k = triggerHits.lazy.filter { $0 }.count, c = controlHits.lazy.filter { $0 }.count
        let triggerOnly = zip(triggerHits, controlHits).lazy.filter { $0 && !$1 }.count
        let controlOnly = zip(triggerHits, controlHits).lazy.filter { !$0 && $1 }.count
        let refs = references.map { summarize($0.name, $0.triggers, $0.controls) }
        let raw = m == 0 ? 0 : Double(k) / Double(m), controlRate = m == 0 ? 0 : Double(c) / Double(m)
        var exclusive: Double? = nil, referenceRate: Double? = nil, welch: Double? = nil
        if !references.isEmpty, m > 0 {
            var only = 0
            for i in 0..<m where triggerHits[i] && !references.contains(where: { $0.triggers[i] }) { only += 1 }
            exclusive = Double(only) / Double(m)
            let rk = refs.reduce(0) { $0 + $1.triggerHits }, rn = refs.reduce(0) { $0 + $1.pairs }
            referenceRate = Double(rk) / Double(max(rn, 1))
            welch = try? welchTTest(suspectHits: k, suspectTrials: m, referenceHits: rk, referenceTrials: rn).pValue
        }
        let null = nullRate(references: refs, pairs: m)
        let eq2 = QueriesNeeded.paperEq2(wsr: exclusive ?? raw, alpha: alpha, beta: beta)
        var exact: Int? = nil
        if raw > null.rate && null.rate < 1 {
            exact = QueriesNeeded.exactBinomial(nullRate: null.rate, alternativeRate: raw, alpha: alpha, beta: beta, maxQueries: 100_000)?.queries
        }
        return VerificationReport(
            suspect: suspect, mode: mode, alpha: alpha, target: triggers.target, pairs: m, queriesSpent: 2 * m,
            triggerHits: k, controlHits: c, rawWSR: raw, controlRate: controlRate, specificWSR: raw - controlRate,
            exclusiveWSR: exclusive, references: refs, referenceRate: referenceRate, nullRate: null.rate, nullRateRule: null.rule,
            welchPValue: welch, binomialPValue: 1, mcnemarPValue: 1, triggerOnly: triggerOnly, controlOnly: controlOnly,
            pValue: 1, verdict: .notStolen, queriesNeededEq2: eq2, queriesNeededExact: exact, decisionRule: OwnershipVerifier.decisionRule)
    }

    private func stats<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as StatsError {
            throw HoneytraceError(.invalidArgument, "statistics: \(e)")
        }
    }
}
