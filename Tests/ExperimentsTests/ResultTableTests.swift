import Experiments
import Prediction
import XCTest

final class ResultTableTests: XCTestCase {
    func record(_ strategy: String, _ variant: String, _ defense: String, acc: Double, wsr: Double, seed: UInt64 = 0) -> RunRecord {
        RunRecord(id: "\(strategy)-\(variant)-\(defense)-\(seed)", strategy: strategy, variant: variant, pool: "mnist-5k",
                  defense: defense, seed: seed, budget: 100, queriesSpent: 100, victimAccuracy: 0.92, protectedAccuracy: 0.915,
                  extractedAccuracy: acc, fidelity: acc, wsrRaw: wsr, wsrExclusive: wsr, wsrSpecific: wsr / 2,
                  controlTargetRate: 0, cleanTargetRate: 0.1, pValueWelch: 1e-5, pValueBinomial: 1e-6, pValueMcNemar: 1e-3,
                  verdict: wsr > 0.05 ? "stolen" : "not stolen", verificationQueries: 200, surrogateSHA256: "ab", seconds: 1)
    }

    func testSummaryAveragesCellsAndTakesTheWorstRow() {
        let table = ResultTable(records: [
            record("knockoff", "naive", "honeytrace", acc: 0.5, wsr: 0.2),
            record("knockoff", "naive", "honeytrace", acc: 0.6, wsr: 0.4, seed: 1),
            record("knockoff", "top-1", "honeytrace", acc: 0.4, wsr: 0.1),
            record("knockoff", "naive", "none", acc: 0.7, wsr: 0),
        ])
        XCTAssertEqual(table.defenses, ["none", "honeytrace"])
        XCTAssertEqual(table.rows, ["KnockoffNet / naive", "KnockoffNet / top-1"])
        let s = table.summary("honeytrace")
        // Cells: naive (0.55, 0.3), top-1 (0.4, 0.1).
        XCTAssertEqual(s.averageExtractedAccuracy, 0.475, accuracy: 1e-12)
        XCTAssertEqual(s.maximumExtractedAccuracy, 0.55, accuracy: 1e-12)
        XCTAssertEqual(s.averageWSR, 0.2, accuracy: 1e-12)
        XCTAssertEqual(s.minimumWSR, 0.1, accuracy: 1e-12)
        XCTAssertEqual(s.worstCaseQueriesEq2, 7730)
        XCTAssertEqual(s.stolenVerdicts, 3)
        XCTAssertNil(table.summary("none").worstCaseQueriesEq2)
        let md = table.markdown(title: "t")
        XCTAssertTrue(md.contains("| KnockoffNet / naive | 70.0 % | 70.0 % | 0.0 % | 10.0 % | 0.0 % | 0/1 |"
                                  + " 55.0 ± 7.1 % | 55.0 ± 7.1 % | 15.0 ± 7.1 % | 10.0 ± 0.0 % | 30.0 ± 14.1 % | 2/2 (200) |"), md)
        XCTAssertTrue(md.contains("7730"), md)
        let csv = table.csv().split(separator: "\n")
        XCTAssertEqual(csv.count, 5)
        XCTAssertEqual(csv[0].split(separator: ",", omittingEmptySubsequences: false).count,
                       csv[1].split(separator: ",", omittingEmptySubsequences: false).count)
        XCTAssertTrue(csv[0].hasPrefix("attack,pool,victim,victim_seed,key_seed,attack_seed,defense,e_acc,fidelity,wsr,specific_wsr,clean_bias,verdict,queries_to_verdict,"))
        let svg = QueriesPlot.svg(summaries: [table.summary("honeytrace")], title: "Fig. 6")
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.contains("<circle"))
        // Every polyline point is an "x,y" pair of numbers inside the canvas (a stray ")" once left
        // the Eq. 2 curve undrawn).
        let lines = svg.components(separatedBy: "points=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        XCTAssertEqual(lines.count, 2)
        for line in lines {
            let points = line.split(separator: " ")
            XCTAssertGreaterThan(points.count, 10)
            for p in points {
                let xy = p.split(separator: ",").compactMap { Double($0) }
                XCTAssertEqual(xy.count, 2, "point '\(p)'")
                XCTAssertTrue(xy.allSatisfy { $0 >= 0 && $0 <= 640 }, "point '\(p)'")
            }
        }
    }

    func testSeveralGridsMakeOneReportAndTheWeakestCopyWorthStealingIsNamed() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        // Two victims' grids: the naive row's undefended copies reach 90 % (worth stealing), the top-1 row's 40 %.
        let grids: [(String, UInt64, Double)] = [("v1", 1, 0.6), ("v2", 2, 0.2)]
        for (name, seed, wsr) in grids {
            let runs = root.appendingPathComponent(name).appendingPathComponent("runs")
            try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
            for r in [record("knockoff", "naive", "none", acc: 0.9, wsr: 0, seed: seed),
                      record("knockoff", "naive", "honeytrace", acc: 0.85, wsr: wsr, seed: seed),
                      record("knockoff", "top-1", "none", acc: 0.4, wsr: 0, seed: seed),
                      record("knockoff", "top-1", "honeytrace", acc: 0.35, wsr: 0.8, seed: seed)] {
                try JSONEncoder().encode(r).write(to: runs.appendingPathComponent(r.id + ".json"))
            }
        }
        let dirs = grids.map { root.appendingPathComponent($0.0).path }
        let out = root.appendingPathComponent("all").path
        let md = try ExperimentReport.render(directories: dirs, into: out)
        // Specific WSR is half the WSR here: naive 30 % and 10 %, top-1 40 % twice.
        XCTAssertTrue(md.contains("| KnockoffNet / naive | 90.0 ± 0.0 % |"), md)
        XCTAssertTrue(md.contains("the 1 of 2 rows whose undefended copies reach ≥ 85 %"), md)
        XCTAssertTrue(md.contains("| honeytrace | 1 (2) | 20.0 % | 10.0 % | 2 of 2 | 200 |"), md)
        XCTAssertTrue(md.contains("| none | 1 (2) | 0.0 % | 0.0 % | 0 of 2 | — |"), md)
        let csv = try String(contentsOfFile: out + "/table.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 9)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/evidence.svg"))
        XCTAssertThrowsError(try ExperimentReport.render(directories: [dirs[0], dirs[0] + "/"], into: out)) { error in
            XCTAssertTrue("\(error)".contains("given twice"), "\(error)")
        }
        XCTAssertThrowsError(try ExperimentReport.render(directories: [], into: out))
        // A grid whose undefended copies all stay below the bar has no such section.
        let weak = ResultTable(records: [record("knockoff", "naive", "none", acc: 0.5, wsr: 0), record("knockoff", "naive", "honeytrace", acc: 0.4, wsr: 0.5)])
        XCTAssertFalse(weak.markdown(title: "t").contains("Copies worth stealing"))
    }

    func testComparisonListsEveryRunOfEveryDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-compare-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for (name, records) in [("a", [record("knockoff", "naive", "none", acc: 0.7, wsr: 0)]),
                                ("b", [record("knockoff", "naive", "honeytrace", acc: 0.3, wsr: 0.25),
                                       record("jbda-tr", "top-1", "honeytrace", acc: 0.35, wsr: 0.125)])] {
            let runs = root.appendingPathComponent(name).appendingPathComponent("runs")
            try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
            for r in records { try JSONEncoder().encode(r).write(to: runs.appendingPathComponent(r.id + ".json")) }
        }
        let csv = root.appendingPathComponent("all.csv").path
        let md = try ExperimentComparison.render(directories: [root.appendingPathComponent("a").path, root.appendingPathComponent("b").path],
                                                 csvPath: csv)
        let lines = md.split(separator: "\n")
        XCTAssertEqual(lines.count, 2 + 3, md)
        XCTAssertTrue(lines[2].hasPrefix("| a | ? | — | — | mnist-5k | KnockoffNet / naive | none | 70.0 % | 70.0 % | 0.0 % | 10.0 % |"), md)
        XCTAssertTrue(lines[3].contains("| JBDA-TR / top-1 | honeytrace | 35.0 % | 35.0 % | 6.2 % | 10.0 % | 12.5 % | 12.5 % |"), md)
        XCTAssertEqual(try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").count, 4)
        XCTAssertThrowsError(try ExperimentComparison.render(directories: [root.appendingPathComponent("missing").path]))
    }

    /// The evidence plot draws one circle per copy where its data says: parsed back from the SVG, each
    /// circle's x and y give the copy's evidence and E-Acc, filled exactly for the verdicts "stolen";
    /// the legend lies right of the frame and inside the canvas; the CSV holds the same points.
    func testEvidencePlotDrawsEveryCopyWhereItsDataSays() throws {
        var composite = record("knockoff", "naive", "composite", acc: 0.81, wsr: 0)
        composite.evidence = [WatermarkEvidence(watermark: "composite", statistic: "trigger accuracy", value: 0.64, threshold: 0.2,
                                                falseClaimRate: 1e-4, pValue: 1e-9, stolen: true, queries: 2_000, nullModels: 24),
                              WatermarkEvidence(watermark: "prown", statistic: "trigger accuracy", value: 0.3, threshold: 0.8,
                                                falseClaimRate: 1e-4, pValue: 0.2, stolen: false, queries: 100, nullModels: 24)]
        let records = [record("knockoff", "naive", "none", acc: 0.88, wsr: 0.02), record("knockoff", "naive", "honeytrace", acc: 0.85, wsr: 0.5),
                       record("knockoff", "top-1", "honeytrace", acc: 0.42, wsr: -0.05), composite]
        let points = EvidencePlot.points(records)
        XCTAssertEqual(points.map(\.evidence), [0.01, 0.25, -0.025, 0.64], "the key's specific WSR, else the column's own watermark")
        XCTAssertEqual(points.map(\.stolen), [false, true, false, true])
        XCTAssertEqual(points[3].statistic, "trigger accuracy")
        let svg = EvidencePlot.svg(records: records, title: "t")
        let circles = svg.components(separatedBy: "<circle class=\"copy\"").dropFirst().map { String($0.prefix { $0 != "/" }) }
        XCTAssertEqual(circles.count, records.count)
        func attribute(_ name: String, _ element: String) -> String? {
            guard let r = element.range(of: " \(name)=\"") else { return nil }
            return String(element[r.upperBound...].prefix { $0 != "\"" })
        }
        // Inverse of the plot's axes: x spans evidence −0.1…1 over 70…470 px, y accuracy 1…0 over 40…410 px.
        for (circle, p) in zip(circles, points) {
            let cx = try XCTUnwrap(attribute("cx", circle).flatMap(Double.init)), cy = try XCTUnwrap(attribute("cy", circle).flatMap(Double.init))
            XCTAssertEqual((cx - 70) / 400 * 1.1 - 0.1, p.evidence, accuracy: 0.001, circle)
            XCTAssertEqual(1 - (cy - 40) / 370, p.extractedAccuracy, accuracy: 0.001, circle)
            XCTAssertEqual(attribute("data-defense", circle), p.defense)
            XCTAssertEqual(attribute("fill", circle) != "white", p.stolen, circle)
        }
        // Legend entries lie right of the frame and, at ≈ 6.5 px per character of 12 px text, inside the canvas.
        let legends = svg.components(separatedBy: "\n").filter { $0.contains(": key's specific WSR") || $0.contains(": trigger accuracy") }
        XCTAssertEqual(legends.count, 3)
        for legend in legends {
            let text = try XCTUnwrap(legend.components(separatedBy: "<text x=\"").last)
            let x = try XCTUnwrap(Double(text.prefix { $0 != "\"" }))
            let content = text.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" }
            XCTAssertGreaterThan(x, 470)
            XCTAssertLessThanOrEqual(x + 6.5 * Double(max(content.count, "reverse-sigmoid: key's specific WSR".count)), 760, legend)
        }
        let csv = EvidencePlot.csv(records: records).split(separator: "\n")
        XCTAssertEqual(csv.count, 1 + records.count)
        XCTAssertEqual(csv[4], "composite,trigger accuracy,KnockoffNet / naive,mnist-5k,0,0.810000,0.640000,0.200000,stolen")
        let fig6 = QueriesPlot.csv(summaries: [ResultTable(records: records).summary("honeytrace")]).split(separator: "\n")
        XCTAssertEqual(fig6[0], "defense,average_wsr,worst_wsr,eq2_queries_average,eq2_queries_worst")
        XCTAssertTrue(fig6[1].hasPrefix("honeytrace,0.225000,-0.050000,"), String(fig6[1]))
    }
}
