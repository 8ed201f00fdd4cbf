import Foundation
import Prediction
import Stats

/// The paper's Table 2 from run records: rows = strategy × adaptive variant, per defense
/// E-Acc and WSR (exclusive and specific), then per-defense summaries.
public struct ResultTable: Sendable {
    public let records: [RunRecord]
    public let defenses: [String]
    public let rows: [String]

    /// Whether the records come from several thieves' pools (rows then name the pool).
    let poolsDiffer: Bool

    public init(records: [RunRecord]) {
        self.records = records
        let differ = Set(records.map(\.pool)).count > 1
        poolsDiffer = differ
        var defenses: [String] = [], rows: [String] = []
        for r in records {
            if !defenses.contains(r.defense) { defenses.append(r.defense) }
            let row = ResultTable.label(r, poolsDiffer: differ)
            if !rows.contains(row) { rows.append(row) }
        }
        // "none" first, then the rest in the order they appear.
        self.defenses = defenses.filter { $0 == "none" } + defenses.filter { $0 != "none" }
        self.rows = rows
    }

    /// Runs of one cell (several seeds average).
    public func cell(row: String, defense: String) -> [RunRecord] {
        records.filter { label($0) == row && $0.defense == defense }
    }

    /// A record's row: its attack, and its pool when the table holds several.
    public func label(_ r: RunRecord) -> String { ResultTable.label(r, poolsDiffer: poolsDiffer) }

    static func label(_ r: RunRecord, poolsDiffer: Bool) -> String { poolsDiffer ? "\(r.pool) / \(r.rowLabel)" : r.rowLabel }

    /// Per-defense summary figures.
    public struct Summary: Sendable {
        public let defense: String
        public let averageExtractedAccuracy: Double, maximumExtractedAccuracy: Double
        public let averageWSR: Double, minimumWSR: Double
        public let averageSpecificWSR: Double, minimumSpecificWSR: Double
        public let protectedAccuracy: Double
        /// Paper Eq. 2 at the minimum exclusive WSR (nil when it is 0).
        public let worstCaseQueriesEq2: Int?
        /// Exact binomial design at the minimum WSR against the references' null rate.
        public let worstCaseQueriesExact: Int?
        public let stolenVerdicts: Int, runs: Int
    }

    public func summary(_ defense: String) -> Summary {
        let runs = records.filter { $0.defense == defense }
        let cellMeans = rows.compactMap { row -> (acc: Double, wsr: Double, spec: Double)? in
            let c = cell(row: row, defense: defense)
            guard !c.isEmpty else { return nil }
            return (mean(c.map(\.extractedAccuracy)), mean(c.map(\.wsrExclusive)), mean(c.map(\.wsrSpecific)))
        }
        let minWSR = cellMeans.map(\.wsr).min() ?? 0
        let exact: Int? = minWSR > 0 ? (minWSR > 0.014 ? QueriesNeeded.exactBinomial(nullRate: 0.014, alternativeRate: min(minWSR, 1))?.queries : nil) : nil
        return Summary(defense: defense,
                       averageExtractedAccuracy: mean(cellMeans.map(\.acc)), maximumExtractedAccuracy: cellMeans.map(\.acc).max() ?? 0,
                       averageWSR: mean(cellMeans.map(\.wsr)), minimumWSR: minWSR,
                       averageSpecificWSR: mean(cellMeans.map(\.spec)), minimumSpecificWSR: cellMeans.map(\.spec).min() ?? 0,
                       protectedAccuracy: mean(runs.map(\.protectedAccuracy)),
                       worstCaseQueriesEq2: minWSR > 0 ? QueriesNeeded.paperEq2(wsr: minWSR) : nil,
                       worstCaseQueriesExact: exact,
                       stolenVerdicts: runs.filter { $0.verdict == "stolen" }.count, runs: runs.count)
    }

    /// Test accuracy from which an undefended copy counts as a theft worth the name (a copy a
    /// thief could sell in place of a ≈ 92 % Fashion-MNIST victim).
    public static let theftAccuracy = 0.85

    /// The rows whose undefended copies reach `accuracy` on average: the thefts where the
    /// evidence matters most.
    public func rowsWorthStealing(accuracy: Double = ResultTable.theftAccuracy) -> [String] {
        rows.filter { row in
            let c = cell(row: row, defense: "none")
            return !c.isEmpty && mean(c.map(\.extractedAccuracy)) >= accuracy
        }
    }

    /// One defense's evidence on its copies in some rows.
    public struct TheftEvidence: Sendable, Equatable {
        public let defense: String
        public let rows: Int, runs: Int
        /// Mean over the rows of each cell's mean specific WSR.
        public let meanSpecificWSR: Double
        /// The smallest specific WSR of any single run.
        public let minimumSpecificWSR: Double
        public let stolen: Int
        /// The most queries a "stolen" verdict took (nil: none was).
        public let mostQueries: Int?
    }

    /// `defense`'s copies in `rows` (nil when it has none there).
    public func theftEvidence(_ defense: String, rows selected: [String]) -> TheftEvidence? {
        let cells = selected.map { cell(row: $0, defense: defense) }.filter { !$0.isEmpty }
        let runs = cells.flatMap { $0 }
        guard !runs.isEmpty else { return nil }
        let stolen = runs.filter(\.claimed)
        return TheftEvidence(defense: defense, rows: cells.count, runs: runs.count,
                             meanSpecificWSR: mean(cells.map { mean($0.map(\.wsrSpecific)) }),
                             minimumSpecificWSR: runs.map(\.wsrSpecific).min()!,
                             stolen: stolen.count, mostQueries: stolen.map(\.queriesToVerdict).max())
    }

    /// The section on the rows worth stealing, when the table has undefended copies and such rows.
    func theftSection() -> String {
        let selected = rowsWorthStealing()
        guard !selected.isEmpty else { return "" }
        var out = "\n**Copies worth stealing**: the \(selected.count) of \(rows.count) rows whose undefended copies reach "
        out += "≥ \(Int(ResultTable.theftAccuracy * 100)) % test accuracy on average. Specific WSR: the mean over those rows, and the "
        out += "smallest of any single copy; verdicts \"stolen\" with the most queries one took.\n\n"
        out += "| defense | rows (copies) | mean Spec. | min Spec. (one copy) | verdicts \"stolen\" | most queries |\n|---|---|---|---|---|---|\n"
        for d in defenses {
            guard let e = theftEvidence(d, rows: selected) else { continue }
            out += "| \(d) | \(e.rows) (\(e.runs)) | \(pct1(e.meanSpecificWSR)) | \(pct1(e.minimumSpecificWSR)) | \(e.stolen) of \(e.runs) | "
            out += "\(e.mostQueries.map(String.init) ?? "—") |\n"
        }
        return out
    }

    /// The Markdown table and summary.
    public func markdown(title: String) -> String {
        var out = "# \(title)\n\n"
        out += "Spec.: specific WSR, the evidence (trigger t-rate − paired-control t-rate). Bias: the copy's t-rate on the clean "
        out += "test set. E-Acc: the copy's test accuracy; fid.: its agreement with the victim. WSR: exclusive watermark success "
        out += "rate (triggers the copy answers with t and the reference model does not). Stolen: the sequential test's verdicts "
        out += "(fixed test where a record lacks it) and the queries they took. Spec., bias, WSR and stolen are the Neural Honeytrace "
        out += "key's on every column: on a column other than honeytrace a \"stolen\" is a false claim. "
        out += "A column with a watermark of its own (and PROWN, where measured) has its verdicts in the tables below the summary. "
        out += "Cells average \(seedsText) seed(s); ± is the standard deviation where there are several.\n\n"
        var header = "| attack |"
        var rule = "|---|"
        for d in defenses {
            header += " \(d) E-Acc | \(d) fid. | \(d) Spec. | \(d) bias | \(d) WSR | \(d) stolen |"
            rule += "---|---|---|---|---|---|"
        }
        out += header + "\n" + rule + "\n"
        for row in rows {
            var line = "| \(row) |"
            for d in defenses {
                let c = cell(row: row, defense: d)
                if c.isEmpty { line += " — | — | — | — | — | — |"; continue }
                let stolen = c.filter(\.claimed)
                let queries = stolen.map(\.queriesToVerdict)
                let when = queries.isEmpty ? "" : " (\(queries.min()!)\(queries.max()! > queries.min()! ? "–\(queries.max()!)" : ""))"
                line += " \(pct(c.map(\.extractedAccuracy))) | \(pct(c.map(\.fidelity))) | \(pct(c.map(\.wsrSpecific))) |"
                line += " \(pct(c.map(\.cleanTargetRate))) | \(pct(c.map(\.wsrExclusive))) | \(stolen.count)/\(c.count)\(when) |"
            }
            out += line + "\n"
        }
        out += "\n| defense | Avg / Max E-Acc | Avg / Min WSR | Avg / Min Spec. | protected acc. | worst-case queries (Eq. 2 / exact binomial) | verdicts \"stolen\" |\n"
        out += "|---|---|---|---|---|---|---|\n"
        for d in defenses {
            let s = summary(d)
            out += "| \(d) | \(pct1(s.averageExtractedAccuracy)) / \(pct1(s.maximumExtractedAccuracy)) | "
            out += "\(pct1(s.averageWSR)) / \(pct1(s.minimumWSR)) | \(pct1(s.averageSpecificWSR)) / \(pct1(s.minimumSpecificWSR)) | "
            out += "\(pct1(s.protectedAccuracy)) | \(s.worstCaseQueriesEq2.map(String.init) ?? "∞") / \(s.worstCaseQueriesExact.map(String.init) ?? "∞") | "
            out += "\(s.stolenVerdicts) of \(s.runs) |\n"
        }
        out += theftSection()
        out += watermarkTables()
        return out
    }

    /// A record's evidence from `watermark` ("own": the column's own, named like the column).
    static func evidence(_ r: RunRecord, _ watermark: String) -> WatermarkEvidence? {
        r.evidence?.first { $0.watermark == (watermark == "own" ? r.defense : watermark) }
    }

    /// The columns' own watermarks (DAWN, the trained baselines) and PROWN on every column: per row
    /// the statistic on each copy, then per column the threshold and the verdicts; the training-time
    /// columns' own victims before any theft.
    func watermarkTables() -> String {
        var out = ""
        let kinds: [(watermark: String, title: String)] = [("own", "its own watermark"), ("prown", "PROWN (verification only)")]
        for kind in kinds {
            let columns = defenses.filter { d in records.contains { $0.defense == d && ResultTable.evidence($0, kind.watermark) != nil } }
            guard !columns.isEmpty else { continue }
            out += "\n**Each column's copies under \(kind.title)**: the statistic per cell; a copy is claimed when it lies above the threshold fitted to the null models at the stated false-claim rate.\n\n"
            out += "| attack |" + columns.map { " \($0) |" }.joined() + "\n|---|" + String(repeating: "---|", count: columns.count) + "\n"
            for row in rows {
                out += "| \(row) |" + columns.map { d in
                    let e = cell(row: row, defense: d).compactMap { ResultTable.evidence($0, kind.watermark) }
                    return e.isEmpty ? " — |" : " \(pct(e.map(\.value)))\(e.contains(where: \.stolen) ? " (\(e.filter(\.stolen).count)/\(e.count) stolen)" : "") |"
                }.joined() + "\n"
            }
            out += "\n| defense | watermark | statistic | mean (min) per row | threshold (null models, false-claim rate) | verdicts \"stolen\" |\n|---|---|---|---|---|---|\n"
            for d in columns {
                let evidence = records.filter { $0.defense == d }.compactMap { ResultTable.evidence($0, kind.watermark) }
                let values = rows.map { row in cell(row: row, defense: d).compactMap { ResultTable.evidence($0, kind.watermark)?.value } }.filter { !$0.isEmpty }.map(mean)
                let thresholds = evidence.compactMap(\.threshold)
                let threshold = thresholds.isEmpty ? "—" : pct1(mean(thresholds)) + " (\(evidence.map(\.nullModels).max() ?? 0) models, \(evidence[0].falseClaimRate))"
                out += "| \(d) | \(evidence[0].watermark) | \(evidence[0].statistic) | \(pct1(mean(values))) (\(pct1(values.min() ?? 0))) | \(threshold) | "
                out += "\(evidence.filter(\.stolen).count) of \(evidence.count) |\n"
            }
        }
        let trained = defenses.filter { d in records.contains { $0.defense == d && $0.defenseTrainingSeconds != nil } }
        if !trained.isEmpty {
            out += "\n**Training-time columns before any theft**: each trains its own victim from the victim's architecture and recipe.\n\n"
            out += "| defense | its victim's test accuracy | bare victim | watermark rate on fresh test triggers | training seconds |\n|---|---|---|---|---|\n"
            for d in trained {
                let r = records.first { $0.defense == d && $0.defenseTrainingSeconds != nil }!
                out += "| \(d) | \(pct1(r.protectedAccuracy)) | \(pct1(r.victimAccuracy)) | \(r.watermarkRateBeforeTheft.map(pct1) ?? "—") | "
                out += String(format: "%.0f", r.defenseTrainingSeconds ?? 0) + " |\n"
            }
        }
        return out
    }

    /// One line per run: first what a reader weighs (which thief, whose seeds, how good the copy is,
    /// the evidence and the verdict), then every other field of the record. `wsr` is the exclusive
    /// WSR, `clean_bias` the copy's target rate on the clean test set; `verdict` and
    /// `queries_to_verdict` are the sequential test's where the record has it (two queries per
    /// trigger/control pair), else the fixed test's; empty fields are absent in older records.
    public func csv() -> String {
        let header = "attack,pool,victim,victim_seed,key_seed,attack_seed,defense,e_acc,fidelity,wsr,specific_wsr,clean_bias,verdict,queries_to_verdict,"
            + "wsr_raw,control_target_rate,verdict_fixed,verification_queries,p_binomial,p_mcnemar,p_welch,null_models,null_rate,owner_data,"
            + "victim_accuracy,protected_accuracy,budget,queries_spent,id,surrogate_sha256,seconds,"
            + "own_watermark,own_statistic,own_value,own_threshold,own_p,own_verdict,prown_value,prown_threshold,prown_p,prown_verdict,"
            + "defense_training_seconds,watermark_rate_before_theft"
        func opt<T>(_ x: T?) -> String { x.map { "\($0)" } ?? "" }
        let lines = records.map { r -> String in
            let e = ResultTable.evidence(r, "own"), p = ResultTable.evidence(r, "prown")
            let own: [String] = [e?.watermark ?? "", e?.statistic ?? "", e.map { num($0.value) } ?? "", e?.threshold.map(num) ?? "",
                                 e.map { sci($0.pValue) } ?? "", e?.verdict ?? "",
                                 p.map { num($0.value) } ?? "", p?.threshold.map(num) ?? "", p.map { sci($0.pValue) } ?? "", p?.verdict ?? "",
                                 r.defenseTrainingSeconds.map { String(format: "%.1f", $0) } ?? "", r.watermarkRateBeforeTheft.map(num) ?? ""]
            let fields: [String] = [r.rowLabel, r.pool, opt(r.victimArchitecture), opt(r.victimSeed), opt(r.keySeed), String(r.seed), r.defense,
             num(r.extractedAccuracy), num(r.fidelity), num(r.wsrExclusive), num(r.wsrSpecific), num(r.cleanTargetRate),
             r.finalVerdict, String(r.queriesToVerdict),
             num(r.wsrRaw), num(r.controlTargetRate), r.verdict, String(r.verificationQueries),
             sci(r.pValueBinomial), sci(r.pValueMcNemar), sci(r.pValueWelch), opt(r.nullModels), r.nullRate.map(num) ?? "", opt(r.ownerData),
             num(r.victimAccuracy), num(r.protectedAccuracy), String(r.budget), String(r.queriesSpent), r.id, r.surrogateSHA256,
             String(format: "%.1f", r.seconds)]
            return (fields + own).joined(separator: ",")
        }
        return ([header] + lines).joined(separator: "\n") + "\n"
    }

    private var seedsText: String {
        let perCell = rows.flatMap { row in defenses.map { cell(row: row, defense: $0).count } }.filter { $0 > 0 }
        guard let lo = perCell.min(), let hi = perCell.max() else { return "0" }
        return lo == hi ? "\(lo)" : "\(lo)–\(hi)"
    }
}

func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

func standardDeviation(_ xs: [Double]) -> Double {
    guard xs.count > 1 else { return 0 }
    let m = mean(xs)
    return (xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1)).squareRoot()
}

func pct1(_ x: Double) -> String { String(format: "%.1f %%", 100 * x) }

func pct(_ xs: [Double]) -> String {
    xs.count > 1 ? String(format: "%.1f ± %.1f %%", 100 * mean(xs), 100 * standardDeviation(xs)) : pct1(mean(xs))
}

func num(_ x: Double) -> String { String(format: "%.6f", x) }
func sci(_ x: Double) -> String { String(format: "%.3e", x) }
