import Foundation
import Formats
import Honeytrace

/// The figures of a finished sweep (`ExperimentSweep`), one point per value and one for the base grid:
/// the protected accuracy, and per attack row the undefended and defended copies' accuracy, the
/// defended copy's fidelity, specific and exclusive WSR, clean-image bias and verdicts.
public struct SweepReport: Codable, Sendable, Equatable {
    public struct Row: Codable, Sendable, Equatable {
        /// `<pool> / <attack row>`.
        public var row: String
        /// Means over the cell's seeds.
        public var undefendedAccuracy: Double
        public var extractedAccuracy: Double
        public var fidelity: Double
        public var wsrSpecific: Double
        public var wsrExclusive: Double
        public var cleanTargetRate: Double
        /// Defended copies called stolen, of `seeds`.
        public var stolen: Int
        public var seeds: Int
        public init(row: String, undefendedAccuracy: Double, extractedAccuracy: Double, fidelity: Double, wsrSpecific: Double,
                    wsrExclusive: Double, cleanTargetRate: Double, stolen: Int, seeds: Int) {
            self.row = row; self.undefendedAccuracy = undefendedAccuracy; self.extractedAccuracy = extractedAccuracy; self.fidelity = fidelity
            self.wsrSpecific = wsrSpecific; self.wsrExclusive = wsrExclusive; self.cleanTargetRate = cleanTargetRate
            self.stolen = stolen; self.seeds = seeds
        }
    }

    public struct Point: Codable, Sendable, Equatable {
        /// The grid's directory name under the sweep (`base` for the base grid).
        public var name: String
        public var value: Double
        /// d in effect (calibrated for the base and budget points, held otherwise).
        public var offset: Double
        public var protectedAccuracy: Double
        public var victimAccuracy: Double
        public var rows: [Row]
        public init(name: String, value: Double, offset: Double, protectedAccuracy: Double, victimAccuracy: Double, rows: [Row]) {
            self.name = name; self.value = value; self.offset = offset; self.protectedAccuracy = protectedAccuracy
            self.victimAccuracy = victimAccuracy; self.rows = rows
        }
    }

    public var parameter: ExperimentSweep.Parameter
    public var configuration: String
    public var points: [Point]

    public init(parameter: ExperimentSweep.Parameter, configuration: String, points: [Point]) {
        self.parameter = parameter; self.configuration = configuration; self.points = points
    }

    /// Reads the base grid and every value's grid under `directory`; a grid without records yet is an error.
    public static func read(sweep: ExperimentSweep, directory: String, baseOffset: Float) throws -> SweepReport {
        var points = [try point(name: "base", value: sweep.baseValue(baseOffset: baseOffset), directory: directory, undefendedFrom: "base")]
        for v in sweep.values {
            let name = sweep.pointName(v)
            points.append(try point(name: name, value: v, directory: directory, undefendedFrom: sweep.reusesUndefendedCopies ? "base" : name))
        }
        points.sort { $0.value < $1.value || ($0.value == $1.value && $0.name == "base") }
        return SweepReport(parameter: sweep.parameter, configuration: sweep.base.name, points: points)
    }

    static func point(name: String, value: Double, directory: String, undefendedFrom: String) throws -> Point {
        let dir = (directory as NSString).appendingPathComponent(name)
        let defended = try ExperimentReport.records(in: dir).filter { $0.defense == "honeytrace" }
        let undefended = try ExperimentReport.records(in: (directory as NSString).appendingPathComponent(undefendedFrom)).filter { $0.defense == "none" }
        guard let first = defended.first else { throw ExperimentError("\(dir): no defended runs yet; run the sweep (it resumes) first") }
        let key = try WatermarkKey.load((dir as NSString).appendingPathComponent("key.htkey"))
        func label(_ r: RunRecord) -> String { "\(r.pool) / \(r.rowLabel)" }
        var order: [String] = []
        for r in defended where !order.contains(label(r)) { order.append(label(r)) }
        let rows = try order.map { row -> Row in
            let cell = defended.filter { label($0) == row }, bare = undefended.filter { label($0) == row }
            guard !bare.isEmpty else { throw ExperimentError("\(dir): no undefended run of \(row) in \(undefendedFrom)") }
            func mean(_ rs: [RunRecord], _ f: (RunRecord) -> Double) -> Double { rs.map(f).reduce(0, +) / Double(rs.count) }
            return Row(row: row, undefendedAccuracy: mean(bare, \.extractedAccuracy), extractedAccuracy: mean(cell, \.extractedAccuracy),
                       fidelity: mean(cell, \.fidelity), wsrSpecific: mean(cell, \.wsrSpecific), wsrExclusive: mean(cell, \.wsrExclusive),
                       cleanTargetRate: mean(cell, \.cleanTargetRate), stolen: cell.filter { $0.verdict == "stolen" }.count, seeds: cell.count)
        }
        return Point(name: name, value: value, offset: Double(key.defense.offset), protectedAccuracy: first.protectedAccuracy,
                     victimAccuracy: first.victimAccuracy, rows: rows)
    }

    /// The files' stem, `sweep-<parameter>`.
    public var stem: String { "sweep-\(parameter.rawValue)" }

    /// Writes `<stem>`.json, .csv, .md and .svg into `directory` (each atomically).
    public func write(to directory: String) throws {
        func path(_ f: String) -> String { (directory as NSString).appendingPathComponent(f.replacingOccurrences(of: "sweep.", with: stem + ".")) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: path("sweep.json"))
        try AtomicFile.write(Data(csv().utf8), to: path("sweep.csv"))
        try AtomicFile.write(Data(markdown().utf8), to: path("sweep.md"))
        try AtomicFile.write(Data(plot().svg().utf8), to: path("sweep.svg"))
    }

    public func csv() -> String {
        var lines = ["point,\(parameter.rawValue),d,victim_accuracy,protected_accuracy,row,undefended_copy_accuracy,copy_accuracy,fidelity,wsr_specific,wsr_exclusive,clean_target_rate,stolen,seeds"]
        for p in points {
            for r in p.rows {
                lines.append([p.name, num(p.value), num(p.offset), num(p.victimAccuracy), num(p.protectedAccuracy), r.row, num(r.undefendedAccuracy),
                              num(r.extractedAccuracy), num(r.fidelity), num(r.wsrSpecific), num(r.wsrExclusive), num(r.cleanTargetRate),
                              String(r.stolen), String(r.seeds)].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func markdown() -> String {
        func pc(_ x: Double) -> String { String(format: "%.1f", 100 * x) }
        var s = "# Sweep of \(parameter.rawValue) (\(configuration))\n\n"
        s += "Percentages; E-Acc is the copy's test accuracy (undefended copy in brackets), specific WSR is triggers minus paired controls, bias is the copy's rate of the target class on clean test images.\n\n"
        s += "| \(parameter.rawValue) | d | protected acc. | attack | E-Acc (undefended) | fidelity | specific WSR | exclusive WSR | bias | stolen |\n"
        s += "|---|---|---|---|---|---|---|---|---|---|\n"
        for p in points {
            let value = ExperimentSweep.format(p.value) + (p.name == "base" ? " (base)" : "")
            for (i, r) in p.rows.enumerated() {
                let lead = i == 0 ? "| \(value) | \(String(format: "%.4g", p.offset)) | \(pc(p.protectedAccuracy)) " : "| | | "
                s += lead + "| \(r.row) | \(pc(r.extractedAccuracy)) (\(pc(r.undefendedAccuracy))) | \(pc(r.fidelity)) | \(pc(r.wsrSpecific)) | \(pc(r.wsrExclusive)) | \(pc(r.cleanTargetRate)) | \(r.stolen)/\(r.seeds) |\n"
            }
        }
        return s
    }

    /// Protected accuracy, the copies' accuracy (undefended dashed) and the specific WSR against the
    /// swept value; the base setting is ringed (a listed value equal to it is drawn once).
    public func plot() -> LinePlot {
        let listed = Set(points.filter { $0.name != "base" }.map(\.value))
        let drawn = points.filter { $0.name != "base" || !listed.contains($0.value) }
        let baseValue = points.first { $0.name == "base" }?.value
        let rows = drawn.first?.rows.map(\.row) ?? []
        func series(_ label: String, dashed: Bool = false, _ y: (Point) -> Double?) -> LinePlot.Series {
            LinePlot.Series(label: label, points: drawn.compactMap { p in y(p).map { (p.value, $0) } }, dashed: dashed, marked: baseValue)
        }
        func rowFigure(_ row: String, _ f: @escaping (Row) -> Double) -> (Point) -> Double? { { p in p.rows.first { $0.row == row }.map(f) } }
        let accuracy = LinePlot.Panel(title: "protected accuracy", series: [series("protected accuracy (victim's test set)") { $0.protectedAccuracy }])
        let copies = LinePlot.Panel(title: "copy's accuracy (E-Acc)", series: rows.flatMap { row in
            [series(row, rowFigure(row, \.extractedAccuracy)), series(row + ", undefended API", dashed: true, rowFigure(row, \.undefendedAccuracy))]
        })
        let wsr = LinePlot.Panel(title: "specific WSR (triggers − controls)", series: rows.map { row in series(row, rowFigure(row, \.wsrSpecific)) })
        return LinePlot(title: "Sweep of \(parameter.rawValue): \(configuration)", xLabel: parameter.rawValue, panels: [accuracy, copies, wsr])
    }
}
