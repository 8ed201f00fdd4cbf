import Formats
import Foundation
import Honeytrace

/// One table across several experiment directories — one row per run, with the key's recipe and
/// defense settings beside the outcomes — to compare defense variants side by side
/// (`honeytrace experiment compare DIR…`). Every figure is read from the directories' run records
/// and keys.
public enum ExperimentComparison {
    /// The Markdown table (and, if `csvPath` is given, the same rows as CSV there).
    public static func render(directories: [String], csvPath: String? = nil) throws -> String {
        guard !directories.isEmpty else { throw ExperimentError("no experiment directories to compare") }
        let header = ["setting", "recipe", "score", "α / β / d", "pool", "attack", "defense", "E-Acc", "fidelity", "WSR spec.",
                      "clean test → t", "WSR raw", "WSR excl.", "controls → t", "attack queries mixed / flipped",
                      "p binomial / McNemar", "verdict"]
        /// The recipe's kind, with the block side for white blocks and any corner other than the
        /// default ("white-block 3 px", "logo top-left").
        func recipeLabel(_ key: WatermarkKey) -> String {
            let recipe = key.recipe
            var label = recipe.kind.rawValue
            if recipe.kind == .whiteBlock {
                label += " \(recipe.resolvedBlockSize(height: key.inputShape[1], width: key.inputShape[2])) px"
            }
            if recipe.kind != .composite, recipe.resolvedCorner != .bottomRight { label += " \(recipe.resolvedCorner.rawValue)" }
            return label
        }
        var rows: [[String]] = []
        for directory in directories {
            let records = try ExperimentReport.records(in: directory)
            let keyPath = URL(fileURLWithPath: directory).appendingPathComponent("key.htkey").path
            let key = FileManager.default.fileExists(atPath: keyPath) ? try WatermarkKey.load(keyPath) : nil
            let setting = URL(fileURLWithPath: directory).lastPathComponent
            // A heavy-client defense, when the grid had one: "; past N queries: score, β b, d x".
            var heavy = ""
            let manifestPath = URL(fileURLWithPath: directory).appendingPathComponent("manifest.json").path
            let heavyPath = URL(fileURLWithPath: directory).appendingPathComponent("heavy-calibration.json").path
            if let m = FileManager.default.contents(atPath: manifestPath), let h = FileManager.default.contents(atPath: heavyPath),
               let after = (try? JSONDecoder().decode(ExperimentManifest.self, from: m))?.configuration.heavyClient?.afterQueries,
               let c = try? JSONDecoder().decode(CalibrationResult.self, from: h) {
                heavy = String(format: "; past %d queries: %@, β %g, d %.3f", after, c.configuration.score.rawValue,
                               c.configuration.flippingPower, c.configuration.offset)
            }
            for r in records {
                let defended = r.defense != "none"
                let d = key?.defense
                rows.append([
                    setting, key.map(recipeLabel) ?? "?",
                    defended ? (d.map { "\($0.score.rawValue), \($0.featureSpace.rawValue)" + ($0.outOfDistributionGate.map { ", OOD gate \($0)" } ?? "") + heavy } ?? "?") : "—",
                    defended ? (d.map { String(format: "%g / %g / %.3f", $0.mixingPower, $0.flippingPower, $0.offset) } ?? "?") : "—",
                    r.pool, r.rowLabel, r.defense, pct(r.extractedAccuracy), pct(r.fidelity), pct(r.wsrSpecific),
                    pct(r.cleanTargetRate), pct(r.wsrRaw), pct(r.wsrExclusive), pct(r.controlTargetRate),
                    r.attackQueriesMixed.map { "\(pct($0)) / \(pct(r.attackQueriesFlipped ?? 0))" } ?? "—",
                    String(format: "%.1e / %.1e", r.pValueBinomial, r.pValueMcNemar), r.verdict,
                ])
            }
        }
        if let csvPath {
            let csv = ([header] + rows).map { $0.map(csvField).joined(separator: ",") }.joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(csv.utf8), to: csvPath)
        }
        var lines = ["| " + header.joined(separator: " | ") + " |", "|" + String(repeating: "---|", count: header.count)]
        lines += rows.map { "| " + $0.joined(separator: " | ") + " |" }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func pct(_ x: Double) -> String { String(format: "%.1f %%", 100 * x) }

    private static func csvField(_ s: String) -> String {
        s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
