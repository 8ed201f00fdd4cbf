import Foundation
import Stats

/// An SVG shaped like the paper's Fig. 8: per attack, the anomaly index of every class of each
/// column's copy, the target class t as a large coloured marker and the other classes as small grey
/// dots, with NC's threshold 2 as a dashed line. Indices beyond the plot are drawn at its edge.
public enum ScanPlot {
    static let left = 150.0, top = 40.0, plotHeight = 300.0, bottom = 230.0, slot = 28.0, legendWidth = 250.0

    public static func svg(_ report: TriggerScan.Report, title: String) -> String {
        let defenses = TriggerScan.defenses(report)
        var attacks: [String] = []
        for c in report.copies where !attacks.contains(c.attack) { attacks.append(c.attack) }
        let finite = report.copies.flatMap(\.anomalyIndices).filter(\.isFinite)
        let low = max(-10, min(-2, (finite.min() ?? 0).rounded(.down)))
        let high = min(40, max(4, (finite.max() ?? 0).rounded(.up)))
        let group = slot * Double(defenses.count) + 16
        let plotWidth = max(200, group * Double(attacks.count))
        let width = left + plotWidth + legendWidth, height = top + plotHeight + bottom
        func y(_ v: Double) -> Double { top + (high - min(max(v, low), high)) / (high - low) * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(left + plotWidth / 2))" y="20" text-anchor="middle" font-size="14">\(QueriesPlot.escape(title))</text>

        """
        let tick = (high - low) > 20 ? 5.0 : 1.0
        for v in stride(from: (low / tick).rounded(.up) * tick, through: high, by: tick) {
            s += "<line x1=\"\(left)\" y1=\"\(f(y(v)))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y(v)))\" stroke=\"\(v == 0 ? "#999" : "#eee")\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(Int(v))</text>\n"
        }
        s += "<line x1=\"\(left)\" y1=\"\(f(y(AnomalyIndex.threshold)))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y(AnomalyIndex.threshold)))\" "
        s += "stroke=\"#333\" stroke-dasharray=\"6 4\"/>\n"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(f(plotWidth))\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text transform=\"translate(\(left - 42) \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">anomaly index (median − L1) / (1.4826·MAD)</text>\n"
        for (a, attack) in attacks.enumerated() {
            let x0 = left + Double(a) * group + 8
            for (d, defense) in defenses.enumerated() {
                guard let copy = report.copies.first(where: { $0.attack == attack && $0.defense == defense }) else { continue }
                let cx = x0 + slot * (Double(d) + 0.5)
                for (k, index) in copy.anomalyIndices.enumerated() where k != report.target {
                    s += "<circle cx=\"\(f(cx))\" cy=\"\(f(y(index)))\" r=\"2.5\" fill=\"#aaa\"/>"
                }
                let t = copy.anomalyIndices[report.target]
                let colour = EvidencePlot.colour(d)
                s += "\n<circle class=\"target\" data-defense=\"\(QueriesPlot.escape(defense))\" cx=\"\(f(cx))\" cy=\"\(f(y(t)))\" r=\"6\" "
                s += copy.flagged.contains(report.target) ? "fill=\"\(colour)\"/>\n" : "fill=\"white\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            }
            let lx = x0 + slot * Double(defenses.count) / 2, ly = top + plotHeight + 12
            s += "<text transform=\"translate(\(f(lx)) \(f(ly))) rotate(-60)\" text-anchor=\"end\" font-size=\"11\">\(QueriesPlot.escape(attack))</text>\n"
        }
        let lx = left + plotWidth + 16
        for (d, defense) in defenses.enumerated() {
            let ly = top + 12 + Double(d) * 18
            s += "<circle cx=\"\(f(lx + 6))\" cy=\"\(f(ly - 4))\" r=\"6\" fill=\"\(EvidencePlot.colour(d))\"/>"
            s += "<text x=\"\(f(lx + 18))\" y=\"\(f(ly))\">\(QueriesPlot.escape(defense)): class t = \(report.target)</text>\n"
        }
        let ly = top + 12 + Double(defenses.count) * 18
        s += "<circle cx=\"\(f(lx + 6))\" cy=\"\(f(ly - 4))\" r=\"2.5\" fill=\"#aaa\"/><text x=\"\(f(lx + 18))\" y=\"\(f(ly))\">other classes</text>\n"
        s += "<line x1=\"\(f(lx))\" y1=\"\(f(ly + 14))\" x2=\"\(f(lx + 12))\" y2=\"\(f(ly + 14))\" stroke=\"#333\" stroke-dasharray=\"6 4\"/>"
        s += "<text x=\"\(f(lx + 18))\" y=\"\(f(ly + 18))\">flagged above 2</text>\n"
        s += "<text x=\"\(f(lx))\" y=\"\(f(ly + 36))\" fill=\"#444\">filled: t flagged; hollow: not</text>\n"
        return s + "</svg>\n"
    }
}
