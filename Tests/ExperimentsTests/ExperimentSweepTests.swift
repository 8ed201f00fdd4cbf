import Experiments
import Foundation
import Honeytrace
import XCTest

/// `ExperimentSweep`: what each value's grid changes, what it refuses, and the report's rendering.
final class ExperimentSweepTests: XCTestCase {
    func base() throws -> ExperimentConfiguration { try ExperimentConfiguration.preset("heldout-fmnist-cnn-v1") }

    func testEachParameterMovesOneSettingAtTheBaseOffset() throws {
        let preset = try base()
        func point(_ p: ExperimentSweep.Parameter, _ v: Double) throws -> ExperimentConfiguration {
            try ExperimentSweep(parameter: p, values: [v], configuration: preset).configuration(for: v, baseOffset: 0.25, directory: "/s")
        }
        let sweep = try ExperimentSweep(parameter: .alpha, values: [0.5, 4], configuration: preset)
        XCTAssertNil(sweep.base.heavyClient, "every client gets the swept defense")
        XCTAssertEqual(sweep.base.defenses, ["none", "honeytrace"])
        XCTAssertNil(sweep.base.fixedOffset, "the base grid calibrates d")
        XCTAssertEqual(sweep.base.attacks, preset.attacks)

        let alpha = try point(.alpha, 0.5)
        XCTAssertEqual(alpha.defense?.mixingPower, 0.5)
        XCTAssertEqual(alpha.fixedOffset, 0.25)
        XCTAssertEqual(alpha.defense?.flippingPower, preset.defense?.flippingPower)
        XCTAssertEqual(alpha.name, "heldout-fmnist-cnn-v1-sweep-alpha-0.5")
        XCTAssertEqual(alpha.victim.directory, "/s/base/victim", "every point serves the base grid's victim")
        XCTAssertEqual(try point(.beta, 4).defense?.flippingPower, 4)
        XCTAssertEqual(try point(.offset, 0.125).fixedOffset, 0.125)
        XCTAssertEqual(try point(.gate, 0.9).defense?.outOfDistributionGate, 0.9)
        XCTAssertNil(try point(.gate, 0).defense?.outOfDistributionGate, "0 turns the gate off")
        let queries = try point(.queries, 5_000)
        XCTAssertEqual(queries.budget, 5_000)
        XCTAssertEqual(queries.fixedOffset, 0.25)
        let budget = try point(.budgetPoints, 2)
        XCTAssertNil(budget.fixedOffset, "a budget point calibrates d to its budget")
        XCTAssertEqual(budget.accuracyBudgetPoints, 2)
        XCTAssertTrue(try ExperimentSweep(parameter: .alpha, values: [1], configuration: preset).reusesUndefendedCopies)
        XCTAssertFalse(try ExperimentSweep(parameter: .queries, values: [5_000], configuration: preset).reusesUndefendedCopies)
        XCTAssertEqual(sweep.baseValue(baseOffset: 0.25), Double(preset.defense!.mixingPower))
        XCTAssertEqual(try ExperimentSweep(parameter: .offset, values: [1], configuration: preset).baseValue(baseOffset: 0.25), 0.25)
        XCTAssertEqual(sweep.pointName(4), "alpha-4")
        for v in [0.5, 4.0] { XCTAssertNoThrow(try sweep.configuration(for: v, baseOffset: 0.25, directory: "/s").validate()) }
    }

    func testRefusesBadValuesRowsAndAnotherSweepInTheSameDirectory() throws {
        let preset = try base()
        func refuses(_ p: ExperimentSweep.Parameter, _ values: [Double], rows: [String]? = nil, _ expected: String) {
            XCTAssertThrowsError(try ExperimentSweep(parameter: p, values: values, configuration: preset, rows: rows)) {
                XCTAssertTrue("\($0)".contains(expected), "\($0)")
            }
        }
        refuses(.alpha, [], "no values for alpha")
        refuses(.alpha, [1, 1], "listed twice")
        refuses(.alpha, [0], "alpha value 0.0: expected a power in (0, 100]")
        refuses(.gate, [1], "gate value 1.0: expected a quantile in (0, 1), or 0 for no gate")
        refuses(.queries, [2.5], "a whole number of queries")
        refuses(.offset, [-1], "a positive d")
        refuses(.budgetPoints, [100], "percentage points in [0, 100)")
        refuses(.alpha, [1], rows: ["mnist-5k--knockoff--s4l"], "no attack row 'mnist-5k--knockoff--s4l'")
        let kept = try ExperimentSweep(parameter: .alpha, values: [1], configuration: preset, rows: ["mnist-5k--knockoff--naive"])
        XCTAssertEqual(kept.base.attacks.count, 1)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-sweep-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try kept.claim(directory: dir)
        try ExperimentSweep(parameter: .alpha, values: [1, 2], configuration: preset, rows: ["mnist-5k--knockoff--naive"]).claim(directory: dir)
        try ExperimentSweep(parameter: .beta, values: [1], configuration: preset, rows: ["mnist-5k--knockoff--naive"]).claim(directory: dir)
        XCTAssertThrowsError(try ExperimentSweep(parameter: .beta, values: [1], configuration: preset, rows: ["fmnist-attacker--knockoff--naive"]).claim(directory: dir)) {
            XCTAssertTrue("\($0)".contains("holds sweeps of another base grid"), "\($0)")
        }
    }

    func testReportTableCSVAndPlot() throws {
        let row = { (name: String, eacc: Double, wsr: Double) in
            SweepReport.Row(row: name, undefendedAccuracy: 0.8, extractedAccuracy: eacc, fidelity: 0.9, wsrSpecific: wsr,
                            wsrExclusive: wsr + 0.05, cleanTargetRate: 0.02, stolen: 1, seeds: 1)
        }
        let report = SweepReport(parameter: .alpha, configuration: "c", points: [
            .init(name: "alpha-0.5", value: 0.5, offset: 0.25, protectedAccuracy: 0.9, victimAccuracy: 0.92, rows: [row("p / A", 0.7, 0.3)]),
            .init(name: "base", value: 2, offset: 0.25, protectedAccuracy: 0.91, victimAccuracy: 0.92, rows: [row("p / A", 0.72, 0.2)]),
            .init(name: "alpha-2", value: 2, offset: 0.25, protectedAccuracy: 0.91, victimAccuracy: 0.92, rows: [row("p / A", 0.72, 0.2)]),
            .init(name: "alpha-8", value: 8, offset: 0.25, protectedAccuracy: 0.915, victimAccuracy: 0.92, rows: [row("p / A", 0.75, 0.1)]),
        ])
        let md = report.markdown()
        XCTAssertTrue(md.contains("| 0.5 | 0.25 | 90.0 | p / A | 70.0 (80.0) | 90.0 | 30.0 | 35.0 | 2.0 | 1/1 |"), md)
        XCTAssertTrue(md.contains("| 2 (base) |"), md)
        let csv = report.csv().split(separator: "\n")
        XCTAssertEqual(csv.count, 5)
        XCTAssertEqual(csv[1], "alpha-0.5,0.500000,0.250000,0.920000,0.900000,p / A,0.800000,0.700000,0.900000,0.300000,0.350000,0.020000,1,1")
        let plot = report.plot()
        XCTAssertEqual(plot.panels.count, 3)
        XCTAssertEqual(plot.panels[1].series.count, 2, "defended and undefended copies")
        XCTAssertEqual(plot.panels[2].series[0].points.map(\.x), [0.5, 2, 8], "the base equal to a listed value is drawn once")
        XCTAssertTrue(plot.logarithmic, "0.5 to 8 spans a factor of 16")
        XCTAssertEqual(plot.panels[2].series[0].marked, 2)
        let svg = plot.svg()
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 4)
        XCTAssertTrue(svg.contains("p / A, undefended API") && svg.contains("stroke-dasharray"), svg)
        XCTAssertFalse(LinePlot(title: "t", xLabel: "gate", panels: [.init(title: "p", series: [.init(label: "a", points: [(0, 0.5), (0.9, 0.6)])])]).logarithmic,
                       "a zero keeps the axis linear")
    }
}
