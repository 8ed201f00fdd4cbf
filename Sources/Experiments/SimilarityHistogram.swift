import Foundation
import Honeytrace

/// An SVG of one panel per verified model: histograms of the verification statistic r over [−1, 1]
/// for the triggered queries (red) and their controls (blue), with the suspect's control threshold
/// as a dashed line, so one sees whether the two distributions part.
enum SimilarityHistogram {
    static func svg(_ reports: [NoiseWatermarkVerification.Report], title: String, bins: Int = 20) -> String {
        let pw = 260.0, ph = 180.0, left = 40.0, gap = 30.0, top = 50.0
        let width = left + Double(reports.count) * (pw + gap), height = top + ph + 60
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        func counts(_ values: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: bins)
            for v in values { c[min(bins - 1, max(0, Int((v + 1) / 2 * Double(bins))))] += 1 }
            return c.map { $0 / Double(max(1, values.count)) }
        }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="20" text-anchor="middle" font-size="14">\(QueriesPlot.escape(title))</text>

        """
        for (k, r) in reports.enumerated() {
            let x0 = left + Double(k) * (pw + gap)
            let t = counts(r.triggered), c = counts(r.control)
            let peak = max(t.max() ?? 0, c.max() ?? 0, 1e-9)
            func x(_ v: Double) -> Double { x0 + (v + 1) / 2 * pw }
            s += "<text x=\"\(f(x0 + pw / 2))\" y=\"\(f(top - 10))\" text-anchor=\"middle\">\(QueriesPlot.escape(r.suspect)) — WSR \(String(format: "%.1f", 100 * r.wsr)) %</text>\n"
            s += "<rect x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#999\"/>\n"
            for (values, colour) in [(c, "#1f77b4"), (t, "#d62728")] {
                for (b, v) in values.enumerated() where v > 0 {
                    let bx = x0 + Double(b) / Double(bins) * pw, bh = v / peak * (ph - 10)
                    s += "<rect x=\"\(f(bx))\" y=\"\(f(top + ph - bh))\" width=\"\(f(pw / Double(bins)))\" height=\"\(f(bh))\" fill=\"\(colour)\" fill-opacity=\"0.45\"/>"
                }
                s += "\n"
            }
            s += "<line x1=\"\(f(x(r.threshold)))\" y1=\"\(f(top))\" x2=\"\(f(x(r.threshold)))\" y2=\"\(f(top + ph))\" stroke=\"black\" stroke-dasharray=\"4,3\"/>\n"
            for v in [-1.0, -0.5, 0, 0.5, 1] {
                s += "<text x=\"\(f(x(v)))\" y=\"\(f(top + ph + 15))\" text-anchor=\"middle\">\(v)</text>"
            }
            s += "<text x=\"\(f(x0 + pw / 2))\" y=\"\(f(top + ph + 32))\" text-anchor=\"middle\">r</text>\n"
        }
        s += "<text x=\"\(f(left))\" y=\"\(f(height - 8))\" fill=\"#d62728\">■ triggered</text>"
        s += "<text x=\"\(f(left + 90))\" y=\"\(f(height - 8))\" fill=\"#1f77b4\">■ control (no patch)</text>"
        s += "<text x=\"\(f(left + 240))\" y=\"\(f(height - 8))\">- - threshold (control 95th percentile)</text>\n</svg>\n"
        return s
    }
}
