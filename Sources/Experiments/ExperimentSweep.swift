import Foundation
import Formats
import Honeytrace

/// One setting of the defense or the attack moved over a list of values, everything else held (the
/// paper's Fig. 7): a grid per value, with the columns "none" and "honeytrace". Sweeps of several
/// settings share one directory and its base grid:
///
///     <out>/base/            the base grid: the configuration as given, d calibrated to its budget
///     <out>/<param>-<value>/ one grid per value
///     <out>/sweep-<param>.json, .csv, .md, .svg   (`SweepReport`)
///
/// The heavy-client switch is off in every grid, so each value is what every client gets. α, β, the
/// gate and the query budget are moved at the base grid's calibrated d, as the paper moves one
/// hyperparameter at a time; `d` sets d itself; `budget-points` calibrates d to each accuracy budget
/// (where an owner's budget lands). Points other than `queries` reuse the base grid's undefended
/// copies (same thief, same seeds), so only the defended cells are new.
public struct ExperimentSweep: Sendable {
    public enum Parameter: String, CaseIterable, Codable, Sendable {
        /// The thief's query budget.
        case queries
        /// The offset d of the similarity, held (not calibrated).
        case offset = "d"
        /// α of Eq. 9 (mixing power).
        case alpha
        /// β of Eq. 10 (flipping power).
        case beta
        /// The out-of-distribution gate's quantile; 0 turns the gate off.
        case gate
        /// The accuracy budget d is calibrated to, in percentage points.
        case budgetPoints = "budget-points"
    }

    public let parameter: Parameter
    public let values: [Double]
    /// The base grid's configuration (heavy-client switch off, columns none and honeytrace).
    public let base: ExperimentConfiguration

    /// - Parameter rows: row ids (`<pool>--<strategy>--<variant>`) to keep; nil keeps every row.
    public init(parameter: Parameter, values: [Double], configuration: ExperimentConfiguration, rows: [String]? = nil) throws {
        guard !values.isEmpty else { throw ExperimentError("sweep: no values for \(parameter.rawValue)") }
        guard Set(values).count == values.count else { throw ExperimentError("sweep: a value of \(parameter.rawValue) is listed twice in \(values)") }
        for v in values { try Self.check(v, parameter) }
        var base = configuration
        base.name = configuration.name + "-sweep-base"
        base.heavyClient = nil
        base.defenses = ["none", "honeytrace"]
        base.prown = nil
        if let rows {
            let known = base.attacks.map(ExperimentRunner.rowKey)
            for r in rows where !known.contains(r) {
                throw ExperimentError("sweep: no attack row '\(r)' in '\(configuration.name)'; its rows are \(known.joined(separator: ", "))")
            }
            base.attacks = base.attacks.filter { rows.contains(ExperimentRunner.rowKey($0)) }
        }
        try base.validate()
        self.parameter = parameter; self.values = values; self.base = base
    }

    static func check(_ v: Double, _ p: Parameter) throws {
        func fail(_ expected: String) -> ExperimentError { ExperimentError("sweep: \(p.rawValue) value \(v): expected \(expected)") }
        switch p {
        case .queries: guard v >= 1, v == v.rounded(), v <= 10_000_000 else { throw fail("a whole number of queries in 1…10,000,000") }
        case .offset: guard v.isFinite, v > 0 else { throw fail("a positive d") }
        case .alpha, .beta: guard v.isFinite, v > 0, v <= 100 else { throw fail("a power in (0, 100]") }
        case .gate: guard v >= 0, v < 1 else { throw fail("a quantile in (0, 1), or 0 for no gate") }
        case .budgetPoints: guard v >= 0, v < 100 else { throw fail("percentage points in [0, 100)") }
        }
    }

    /// The directory name of a value's grid, e.g. `alpha-0.5`.
    public func pointName(_ value: Double) -> String { "\(parameter.rawValue)-\(Self.format(value))" }

    /// The configuration of a value's grid in the sweep directory `directory`, with `baseOffset` the
    /// base grid's calibrated d; its victim is the base grid's.
    public func configuration(for value: Double, baseOffset: Float, directory: String) -> ExperimentConfiguration {
        var c = base
        c.victim.directory = base.victim.directory ?? (directory as NSString).appendingPathComponent("base/victim")
        c.name = base.name.replacingOccurrences(of: "-sweep-base", with: "-sweep-") + pointName(value)
        var defense = c.defense ?? DefenseConfiguration()
        c.fixedOffset = baseOffset
        switch parameter {
        case .queries: c.budget = Int(value)
        case .offset: c.fixedOffset = Float(value)
        case .alpha: defense.mixingPower = Float(value)
        case .beta: defense.flippingPower = Float(value)
        case .gate: defense.outOfDistributionGate = value == 0 ? nil : Float(value)
        case .budgetPoints: c.fixedOffset = nil; c.accuracyBudgetPoints = value
        }
        c.defense = defense
        return c
    }

    /// Whether a value's grid may reuse the base grid's undefended copies (the thief is the same).
    public var reusesUndefendedCopies: Bool { parameter != .queries }

    /// The base configuration's value of the swept setting (d: the calibrated `baseOffset`).
    public func baseValue(baseOffset: Float) -> Double {
        let d = base.defense ?? DefenseConfiguration()
        switch parameter {
        case .queries: return Double(base.budget)
        case .offset: return Double(baseOffset)
        case .alpha: return Double(d.mixingPower)
        case .beta: return Double(d.flippingPower)
        case .gate: return d.outOfDistributionGate.map(Double.init) ?? 0
        case .budgetPoints: return base.accuracyBudgetPoints
        }
    }

    /// The base grid's calibrated d, from its key.
    public static func baseOffset(in directory: String) throws -> Float {
        let path = (directory as NSString).appendingPathComponent("base/key.htkey")
        guard FileManager.default.fileExists(atPath: path) else { throw ExperimentError("\(path): no key yet; run the base grid first") }
        return try WatermarkKey.load(path).defense.offset
    }

    /// Records the base configuration in `<directory>/sweep-base.json`, or checks that the one there
    /// is this sweep's, so that every sweep in one directory moves a setting of the same base grid.
    public func claim(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("sweep-base.json")
        if let data = FileManager.default.contents(atPath: path) {
            let found: ExperimentConfiguration
            do { found = try JSONDecoder().decode(ExperimentConfiguration.self, from: data) } catch {
                throw ExperimentError("\(path): not an experiment configuration (\(error))")
            }
            guard found == base else {
                throw ExperimentError("\(directory) holds sweeps of another base grid ('\(found.name)', \(path)); use a new --out directory")
            }
            return
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(base), to: path)
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(format: "%g", x)
    }
}
