import Experiments
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
}
