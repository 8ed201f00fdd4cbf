import Extraction
import Foundation
import Training

/// Removal by channel-Lipschitzness pruning (CLP, `ChannelLipschitzPruning`): a data-free thief
/// switches off the channels of its copy whose Lipschitz bound stands out, at each threshold u
/// (smaller u prunes more). Each copy is pruned afresh from its saved weights at every u, and its
/// test accuracy and the key's evidence on it are measured, so the table shows what the thief pays
/// in accuracy for what it removes.
public enum PruningRemoval {
    /// The thresholds the paper sweeps (its default is 3).
    public static let defaultThresholds: [Double] = [5, 4, 3, 2]

    /// The copy pruned at one threshold (u nil: as stolen).
    public struct Step: Codable, Sendable, Equatable {
        public var u: Double?
        public var prunedChannels: Int
        public var totalChannels: Int
        public var accuracy: Double
        public var wsrSpecific: Double
        public var wsrRaw: Double
        public var controlTargetRate: Double
        public var pValueBinomial: Double
        public var verdict: String
    }

    public typealias Course = RemovalCourse<Step>

    /// Everything `experiment removal --method clp` writes to `<grid>/removal/clp.json`.
    public struct Report: Codable, Sendable, Equatable {
        public var thresholds: [Double]
        public var nullModels: Int
        public var courses: [Course]
    }

    public static func validate(_ thresholds: [Double]) throws {
        guard !thresholds.isEmpty, thresholds.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 100 }) else {
            throw ExperimentError("CLP thresholds u must lie in 0…100, found \(thresholds)")
        }
    }

    /// Per copy, accuracy and specific WSR at each threshold, pruned channels and the verdict.
    public static func markdown(_ report: Report) -> String {
        var out = "# Removal by channel-Lipschitzness pruning (CLP)\n\n"
        out += "Each copy's channels whose Lipschitz upper bound exceeds mean + u·std of their layer switched off (data-free); "
        out += "then its test accuracy, the key's specific WSR and the verdict against \(report.nullModels) null models. "
        out += "Cells: accuracy / specific WSR (S: stolen) [pruned channels].\n\n"
        out += "| copy | defense | as stolen |" + report.thresholds.map { " u = \(String(format: "%g", $0)) |" }.joined() + "\n|---|---|---|"
        out += String(repeating: "---|", count: report.thresholds.count) + "\n"
        for c in report.courses {
            out += "| \(c.attack) | \(c.defense) |" + c.steps.map {
                String(format: " %.1f %% / %.1f%@ [%d] |", 100 * $0.accuracy, 100 * $0.wsrSpecific, $0.verdict == "stolen" ? " S" : "", $0.prunedChannels)
            }.joined() + "\n"
        }
        return out
    }

    /// One line per copy and threshold (empty u: as stolen).
    public static func csv(_ report: Report) -> String {
        var lines = ["cell,defense,attack,u,pruned_channels,total_channels,accuracy,specific_wsr,raw_wsr,control_target_rate,p_binomial,verdict"]
        for c in report.courses {
            for st in c.steps {
                lines.append([c.cell, c.defense, c.attack, st.u.map(num) ?? "", String(st.prunedChannels), String(st.totalChannels),
                              num(st.accuracy), num(st.wsrSpecific), num(st.wsrRaw), num(st.controlTargetRate), sci(st.pValueBinomial),
                              st.verdict].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The paper's Fig. 9 on our copies: the mean test accuracy and specific WSR of each column's
    /// copies against the threshold u (the copies as stolen are not on the axis).
    public static func plot(_ report: Report, title: String) -> LinePlot {
        var defenses: [String] = []
        for c in report.courses where !defenses.contains(c.defense) { defenses.append(c.defense) }
        func series(_ defense: String, _ figure: (Step) -> Double) -> LinePlot.Series {
            let courses = report.courses.filter { $0.defense == defense }
            let points = report.thresholds.map { u -> (x: Double, y: Double) in
                let values = courses.compactMap { $0.steps.first { $0.u == u }.map(figure) }
                return (u, values.reduce(0, +) / Double(max(values.count, 1)))
            }
            return LinePlot.Series(label: "\(defense) copies (mean of \(courses.count))", points: points, dashed: defense == "none")
        }
        return LinePlot(title: title, xLabel: "CLP threshold u (smaller prunes more)", panels: [
            .init(title: "copy's test accuracy", series: defenses.map { series($0, \.accuracy) }),
            .init(title: "specific WSR (triggers − controls)", series: defenses.map { series($0, \.wsrSpecific) }),
        ])
    }
}

extension ExperimentRunner {
    /// Prunes every copy this grid has stolen with CLP at each of `thresholds` and writes
    /// `removal/clp.{json,csv,md,svg}`; the surrogates on disk stay as they are.
    @discardableResult
    public func pruningRemoval(thresholds: [Double] = PruningRemoval.defaultThresholds) throws -> PruningRemoval.Report {
        try PruningRemoval.validate(thresholds)
        let setting = try removalSetting()
        var courses: [PruningRemoval.Course] = []
        for (i, cell) in setting.copies.enumerated() {
            log("[\(i + 1)/\(setting.copies.count)] CLP on \(cell.id)")
            var steps: [PruningRemoval.Step] = []
            for u in [nil] + thresholds.map(Optional.some) {
                let copy = try ModelDirectory.load(path("surrogates", cell.id))
                let outcome = u.map { ChannelLipschitzPruning.prune(copy.classifier, u: $0) }
                let (accuracy, report) = try setting.measure(copy, cell: cell)
                steps.append(.init(u: u, prunedChannels: outcome?.prunedChannels ?? 0,
                                   totalChannels: outcome?.totalChannels ?? ChannelLipschitzPruning.layers(of: copy.classifier).reduce(0) { $0 + $1.bounds.count },
                                   accuracy: accuracy, wsrSpecific: report.specificWSR, wsrRaw: report.rawWSR,
                                   controlTargetRate: report.controlRate, pValueBinomial: report.binomialPValue, verdict: report.verdict.rawValue))
                log(String(format: "  u %@: %d channels pruned, accuracy %.1f%%, specific WSR %.1f, %@", u.map { String(format: "%g", $0) } ?? "—",
                           outcome?.prunedChannels ?? 0, 100 * accuracy, 100 * report.specificWSR, report.verdict.rawValue))
            }
            let label = ResultTable.label(try savedRecord(cell), poolsDiffer: true)
            courses.append(.init(cell: cell.id, defense: cell.defense, attack: label, steps: steps))
        }
        let report = PruningRemoval.Report(thresholds: thresholds, nullModels: setting.nullModels, courses: courses)
        try writeRemoval(report, name: "clp", csv: PruningRemoval.csv(report), markdown: PruningRemoval.markdown(report),
                         svg: PruningRemoval.plot(report, title: "Removal by CLP: \(configuration.name)").svg())
        return report
    }
}
