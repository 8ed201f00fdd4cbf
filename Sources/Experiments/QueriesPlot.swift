import Foundation
import Stats

/// An SVG in the style of the paper's Fig. 6: queries needed for a claim (α = 1e-4, power 0.99)
/// against the watermark success rate, on log–log axes, with each defense's average and
/// worst-case (minimum) WSR marked on the Eq. 2 curve.
public enum QueriesPlot {
    public static func svg(summaries: [ResultTable.Summary], title: String) -> String {
        let width = 640.0, height = 420.0, left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let xMin = log10(0.01), xMax = log10(1.0), yMin = log10(1.0), yMax = log10(1e6)
        func px(_ wsr: Double) -> Double { left + (log10(wsr) - xMin) / (xMax - xMin) * (width - left - right) }
        func py(_ q: Double) -> Double { top + (1 - (log10(max(q, 1)) - yMin) / (yMax - yMin)) * (height - top - bottom) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="20" text-anchor="middle" font-size="14">\(escape(title))</text>

        """
        // Grid and ticks.
        for e in 0...6 {
            let y = py(pow(10, Double(e)))
            s += "<line x1=\"\(left)\" y1=\"\(f(y))\" x2=\"\(width - right)\" y2=\"\(f(y))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(f(y + 4))\" text-anchor=\"end\">1e\(e)</text>\n"
        }
        for w in [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0] {
            let x = px(w)
            s += "<line x1=\"\(f(x))\" y1=\"\(top)\" x2=\"\(f(x))\" y2=\"\(height - bottom)\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(f(x))\" y=\"\(height - bottom + 16)\" text-anchor=\"middle\">\(Int(w * 100)) %</text>\n"
        }
        s += "<text x=\"\(width / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">watermark success rate (exclusive)</text>\n"
        s += "<text transform=\"translate(18 \(height / 2)) rotate(-90)\" text-anchor=\"middle\">queries needed (α = 1e-4, power 0.99)</text>\n"
        // Curves: paper Eq. 2 and the exact binomial design against a 1.4 % null rate.
        var eq2: [String] = [], exact: [String] = []
        for i in 0...200 {
            let w = pow(10, xMin + (xMax - xMin) * Double(i) / 200)
            eq2.append("\(f(px(w))),\(f(py(QueriesNeeded.paperEq2Unrounded(wsr: w))))")
            if w > 0.02, i % 4 == 0, let d = QueriesNeeded.exactBinomial(nullRate: 0.014, alternativeRate: w) {
                exact.append("\(f(px(w))),\(f(py(Double(d.queries))))")
            }
        }
        s += "<polyline fill=\"none\" stroke=\"#333\" stroke-width=\"1.5\" points=\"\(eq2.joined(separator: " "))\"/>\n"
        s += "<polyline fill=\"none\" stroke=\"#888\" stroke-dasharray=\"5 3\" points=\"\(exact.joined(separator: " "))\"/>\n"
        s += "<text x=\"\(f(px(0.012)))\" y=\"\(f(py(9e5)))\">— paper Eq. 2 (Welch/normal)</text>\n"
        s += "<text x=\"\(f(px(0.012)))\" y=\"\(f(py(4e5)))\" fill=\"#666\">- - exact binomial vs 1.4 % null</text>\n"
        let colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        for (i, summary) in summaries.enumerated() {
            let c = colours[i % colours.count]
            for (wsr, shape) in [(summary.averageWSR, "avg"), (summary.minimumWSR, "worst")] where wsr > 0.01 {
                let x = px(wsr), y = py(QueriesNeeded.paperEq2Unrounded(wsr: wsr))
                if shape == "avg" {
                    s += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"5\" fill=\"\(c)\"/>\n"
                } else {
                    s += "<rect x=\"\(f(x - 5))\" y=\"\(f(y - 5))\" width=\"10\" height=\"10\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\"/>\n"
                }
            }
            let ly = top + 16 + Double(i) * 16
            s += "<circle cx=\"\(f(width - 290))\" cy=\"\(f(ly - 4))\" r=\"4\" fill=\"\(c)\"/>"
            s += "<text x=\"\(f(width - 280))\" y=\"\(f(ly))\">\(escape(summary.defense)): ● average, □ worst case</text>\n"
        }
        return s + "</svg>\n"
    }

    /// The points the SVG marks, one line per defense: its average and worst-case (minimum) exclusive
    /// WSR and the queries paper Eq. 2 needs at each (empty where the WSR is below the plot's 1 %).
    public static func csv(summaries: [ResultTable.Summary]) -> String {
        let lines = summaries.map { s -> String in
            func q(_ w: Double) -> String { w > 0.01 ? String(format: "%.1f", QueriesNeeded.paperEq2Unrounded(wsr: w)) : "" }
            return [s.defense, num(s.averageWSR), num(s.minimumWSR), q(s.averageWSR), q(s.minimumWSR)].joined(separator: ",")
        }
        return (["defense,average_wsr,worst_wsr,eq2_queries_average,eq2_queries_worst"] + lines).joined(separator: "\n") + "\n"
    }

    static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
