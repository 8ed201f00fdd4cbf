import Foundation

/// An SVG of every copy in a grid: its test accuracy (E-Acc, y) against the evidence the owner has on
/// it (x), one colour per column, filled when the verdict is "stolen". The evidence is the column's
/// own watermark where it has one (a trained baseline's trigger accuracy, DAWN's agreement with its
/// log), else the Neural Honeytrace key's specific WSR (on a column without that key, a false-claim
/// check). `points` is the data the SVG draws, also written as CSV beside it.
public enum EvidencePlot {
    /// One copy as drawn.
    public struct Point: Sendable, Equatable {
        public var defense: String, statistic: String, attack: String, pool: String, seed: UInt64
        public var extractedAccuracy: Double, evidence: Double, threshold: Double?, stolen: Bool
    }

    /// The points of `records`, in record order.
    public static func points(_ records: [RunRecord]) -> [Point] {
        records.map { r in
            if let own = ResultTable.evidence(r, "own") {
                return Point(defense: r.defense, statistic: own.statistic, attack: r.rowLabel, pool: r.pool, seed: r.seed,
                             extractedAccuracy: r.extractedAccuracy, evidence: own.value, threshold: own.threshold, stolen: own.stolen)
            }
            return Point(defense: r.defense, statistic: "key's specific WSR", attack: r.rowLabel, pool: r.pool, seed: r.seed,
                         extractedAccuracy: r.extractedAccuracy, evidence: r.wsrSpecific, threshold: nil,
                         stolen: r.claimed)
        }
    }

    static let width = 760.0, height = 460.0, left = 70.0, plotRight = 470.0, top = 40.0, bottom = 50.0
    /// x of an evidence value in [−0.1, 1] and y of an accuracy in [0, 1].
    static func x(_ evidence: Double) -> Double { left + (min(max(evidence, -0.1), 1) + 0.1) / 1.1 * (plotRight - left) }
    static func y(_ accuracy: Double) -> Double { top + (1 - min(max(accuracy, 0), 1)) * (height - top - bottom) }

    public static func svg(records: [RunRecord], title: String) -> String {
        let points = points(records)
        let defenses = ResultTable(records: records).defenses  // the table's order and colours: "none" first
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="20" text-anchor="middle" font-size="14">\(QueriesPlot.escape(title))</text>

        """
        for a in stride(from: 0.0, through: 1.0, by: 0.1) {
            s += "<line x1=\"\(left)\" y1=\"\(f(y(a)))\" x2=\"\(plotRight)\" y2=\"\(f(y(a)))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(f(y(a) + 4))\" text-anchor=\"end\">\(Int((a * 100).rounded())) %</text>\n"
        }
        for e in stride(from: -0.1, through: 1.0001, by: 0.1) {
            s += "<line x1=\"\(f(x(e)))\" y1=\"\(top)\" x2=\"\(f(x(e)))\" y2=\"\(height - bottom)\" stroke=\"\(abs(e) < 1e-9 ? "#999" : "#ddd")\"/>"
            s += "<text x=\"\(f(x(e)))\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(Int((e * 100).rounded()))</text>\n"
        }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotRight - left)\" height=\"\(height - top - bottom)\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\((left + plotRight) / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">evidence on the copy (%; see legend)</text>\n"
        s += "<text transform=\"translate(18 \(height / 2)) rotate(-90)\" text-anchor=\"middle\">copy's test accuracy (E-Acc)</text>\n"
        for p in points {
            let c = colour(defenses.firstIndex(of: p.defense) ?? 0)
            s += "<circle class=\"copy\" data-defense=\"\(QueriesPlot.escape(p.defense))\" cx=\"\(f(x(p.evidence)))\" cy=\"\(f(y(p.extractedAccuracy)))\" r=\"5\" "
            s += p.stolen ? "fill=\"\(c)\"/>\n" : "fill=\"white\" stroke=\"\(c)\" stroke-width=\"2\"/>\n"
        }
        // The legend, right of the frame: one line per column with the statistic on its x.
        for (i, d) in defenses.enumerated() {
            let ly = top + 12 + Double(i) * 18
            let statistic = points.first { $0.defense == d }?.statistic ?? ""
            s += "<circle cx=\"\(f(plotRight + 20))\" cy=\"\(f(ly - 4))\" r=\"5\" fill=\"\(colour(i))\"/>"
            s += "<text x=\"\(f(plotRight + 30))\" y=\"\(f(ly))\">\(QueriesPlot.escape(d)): \(QueriesPlot.escape(statistic))</text>\n"
        }
        let ly = top + 24 + Double(defenses.count) * 18
        s += "<text x=\"\(f(plotRight + 12))\" y=\"\(f(ly))\" fill=\"#444\">filled: verdict \"stolen\"; hollow: not</text>\n"
        return s + "</svg>\n"
    }

    /// The points as CSV, one line per copy.
    public static func csv(records: [RunRecord]) -> String {
        let lines = points(records).map { p in
            [p.defense, p.statistic, p.attack, p.pool, String(p.seed), num(p.extractedAccuracy), num(p.evidence),
             p.threshold.map(num) ?? "", p.stolen ? "stolen" : "not stolen"].joined(separator: ",")
        }
        return (["defense,statistic,attack,pool,attack_seed,e_acc,evidence,threshold,verdict"] + lines).joined(separator: "\n") + "\n"
    }

    static func colour(_ i: Int) -> String {
        ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"][i % 10]
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
