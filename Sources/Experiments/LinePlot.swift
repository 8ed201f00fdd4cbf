import Foundation

/// An SVG of side-by-side panels sharing one x axis, each with lines of (x, y) points and y in
/// percent from 0 to 100, as the paper draws its sweeps (Fig. 7) and removal curves (Fig. 9). The x
/// axis is logarithmic when every x is positive and they span a factor of 8 or more.
public struct LinePlot: Sendable {
    public struct Series: Sendable, Equatable {
        public var label: String
        /// (x, y) with y a fraction in [0, 1].
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        /// A point drawn with a ring (e.g. the base setting).
        public var marked: Double?
        public init(label: String, points: [(x: Double, y: Double)], dashed: Bool = false, marked: Double? = nil) {
            self.label = label; self.points = points; self.dashed = dashed; self.marked = marked
        }
        public static func == (a: Series, b: Series) -> Bool {
            a.label == b.label && a.dashed == b.dashed && a.marked == b.marked
                && a.points.map(\.x) == b.points.map(\.x) && a.points.map(\.y) == b.points.map(\.y)
        }
    }

    public struct Panel: Sendable, Equatable {
        public var title: String
        public var series: [Series]
        public init(title: String, series: [Series]) { self.title = title; self.series = series }
    }

    public var title: String
    public var xLabel: String
    public var panels: [Panel]
    public init(title: String, xLabel: String, panels: [Panel]) { self.title = title; self.xLabel = xLabel; self.panels = panels }

    static let panelWidth = 300.0, panelHeight = 260.0, left = 60.0, gap = 40.0, top = 50.0, bottom = 60.0
    static let colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]

    /// Every x of every series, sorted and distinct.
    var xs: [Double] { Array(Set(panels.flatMap { $0.series.flatMap { $0.points.map(\.x) } })).sorted() }

    public var logarithmic: Bool {
        guard let lo = xs.first, let hi = xs.last else { return false }
        return lo > 0 && hi / lo >= 8
    }

    /// The x position within a panel starting at `x0`.
    func position(_ x: Double, panelStart x0: Double) -> Double {
        guard let lo = xs.first, let hi = xs.last, hi > lo else { return x0 + Self.panelWidth / 2 }
        let t = logarithmic ? (log(x) - log(lo)) / (log(hi) - log(lo)) : (x - lo) / (hi - lo)
        return x0 + 10 + t * (Self.panelWidth - 20)
    }

    static func y(_ fraction: Double) -> Double { top + (1 - min(max(fraction, 0), 1)) * panelHeight }

    /// Labels of the series in first-seen order, so one label keeps one colour in every panel.
    var labels: [String] {
        var seen: [String] = []
        for p in panels { for s in p.series where !seen.contains(s.label) { seen.append(s.label) } }
        return seen
    }

    public func svg() -> String {
        let labels = labels
        let width = Self.left + Double(panels.count) * (Self.panelWidth + Self.gap)
        let legendTop = Self.top + Self.panelHeight + Self.bottom
        let height = legendTop + 18 * Double(labels.count) + 10
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="20" text-anchor="middle" font-size="14">\(QueriesPlot.escape(title))</text>

        """
        for (k, panel) in panels.enumerated() {
            let x0 = Self.left + Double(k) * (Self.panelWidth + Self.gap)
            s += "<text x=\"\(f(x0 + Self.panelWidth / 2))\" y=\"\(f(Self.top - 8))\" text-anchor=\"middle\">\(QueriesPlot.escape(panel.title))</text>\n"
            for a in stride(from: 0.0, through: 1.0, by: 0.2) {
                s += "<line x1=\"\(f(x0))\" y1=\"\(f(Self.y(a)))\" x2=\"\(f(x0 + Self.panelWidth))\" y2=\"\(f(Self.y(a)))\" stroke=\"#ddd\"/>"
                s += "<text x=\"\(f(x0 - 4))\" y=\"\(f(Self.y(a) + 4))\" text-anchor=\"end\">\(Int((a * 100).rounded()))</text>\n"
            }
            var lastLabel = -Double.infinity
            for x in xs {
                let px = position(x, panelStart: x0)
                s += "<line x1=\"\(f(px))\" y1=\"\(f(Self.top))\" x2=\"\(f(px))\" y2=\"\(f(Self.top + Self.panelHeight))\" stroke=\"#eee\"/>"
                // Three significant digits, and no label crowding the previous one.
                if px - lastLabel >= 36 {
                    s += "<text x=\"\(f(px))\" y=\"\(f(Self.top + Self.panelHeight + 16))\" text-anchor=\"middle\" font-size=\"10\">\(String(format: "%.3g", x))</text>"
                    lastLabel = px
                }
                s += "\n"
            }
            s += "<rect x=\"\(f(x0))\" y=\"\(f(Self.top))\" width=\"\(f(Self.panelWidth))\" height=\"\(f(Self.panelHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
            s += "<text x=\"\(f(x0 + Self.panelWidth / 2))\" y=\"\(f(Self.top + Self.panelHeight + 34))\" text-anchor=\"middle\">\(QueriesPlot.escape(xLabel))</text>\n"
            for series in panel.series {
                let c = Self.colours[(labels.firstIndex(of: series.label) ?? 0) % Self.colours.count]
                let pts = series.points.sorted { $0.x < $1.x }
                let line = pts.map { "\(f(position($0.x, panelStart: x0))),\(f(Self.y($0.y)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\"\(series.dashed ? " stroke-dasharray=\"5 3\"" : "") points=\"\(line)\"/>\n"
                for p in pts {
                    s += "<circle cx=\"\(f(position(p.x, panelStart: x0)))\" cy=\"\(f(Self.y(p.y)))\" r=\"3\" fill=\"\(c)\"/>"
                    if series.marked == p.x {
                        s += "<circle cx=\"\(f(position(p.x, panelStart: x0)))\" cy=\"\(f(Self.y(p.y)))\" r=\"7\" fill=\"none\" stroke=\"\(c)\"/>"
                    }
                }
                s += "\n"
            }
        }
        s += "<text transform=\"translate(16 \(f(Self.top + Self.panelHeight / 2))) rotate(-90)\" text-anchor=\"middle\">%</text>\n"
        for (i, label) in labels.enumerated() {
            let c = Self.colours[i % Self.colours.count], ly = legendTop + 18 * Double(i)
            let dashed = panels.contains { $0.series.contains { $0.label == label && $0.dashed } }
            s += "<line x1=\"\(f(Self.left))\" y1=\"\(f(ly - 4))\" x2=\"\(f(Self.left + 24))\" y2=\"\(f(ly - 4))\" stroke=\"\(c)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"5 3\"" : "")/>"
            s += "<text x=\"\(f(Self.left + 30))\" y=\"\(f(ly))\">\(QueriesPlot.escape(label))</text>\n"
        }
        return s + "</svg>\n"
    }
}
