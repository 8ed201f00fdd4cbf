import Experiments
import Extraction
import Foundation
import Honeytrace
import NeuralNet
import Stats
import Training
import XCTest

/// The `smoke` preset end to end on real data: a victim, a calibrated key, two attacks against
/// the undefended and the defended API, verification, and the rendered report.
final class SmokePresetTests: XCTestCase {
    func testSmokePresetRunsResumesAndReports() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-smoke-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let configuration = try ExperimentConfiguration.preset("smoke")
        let records = try ExperimentRunner(configuration: configuration, directory: out).run()
        XCTAssertEqual(records.count, configuration.attacks.count * configuration.defenses.count)
        for r in records {
            XCTAssertEqual(r.queriesSpent, configuration.budget, "\(r.id): budget counted at the boundary")
            XCTAssertGreaterThan(r.extractedAccuracy, 0.3, "\(r.id): the surrogate should learn from 2,000 in-distribution queries")
            XCTAssertEqual(r.verificationQueries, 2 * configuration.triggerCount * 1, "\(r.id): triggers and controls")
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/surrogates/\(r.id)/model.safetensors"))
            XCTAssertTrue(r.machine?.contains("; OpenBLAS ") == true && r.machine?.contains("; oneDNN ") == true, "\(r.machine ?? "nil")")
            XCTAssertNotNil(r.threads)
        }
        XCTAssertLessThanOrEqual(records[0].victimAccuracy - records.last!.protectedAccuracy, configuration.accuracyBudgetPoints / 100 + 1e-9)
        let manifest = try JSONDecoder().decode(ExperimentManifest.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")))
        XCTAssertEqual(manifest.runs.count, records.count)
        for r in records { XCTAssertEqual(manifest.runs[r.id]?.queriesSpent, r.queriesSpent) }

        // A second run finds every record and trains nothing.
        let again = try ExperimentRunner(configuration: configuration, directory: out).run()
        XCTAssertEqual(again, records)
        // Another configuration may not write into the same directory.
        var other = configuration
        other.budget += 1
        XCTAssertThrowsError(try ExperimentRunner(configuration: other, directory: out).run()) {
            XCTAssertTrue("\($0)".contains("another configuration"), "\($0)")
        }

        // Another key over the same victim and attacks reuses the undefended surrogates and verifies
        // them against its own key; attack settings that differ are refused by name.
        let reuse = out + "-reuse"
        defer { try? FileManager.default.removeItem(atPath: reuse) }
        var rekeyed = configuration
        rekeyed.keySeed += 1
        rekeyed.defenses = ["none"]
        rekeyed.victim.directory = out + "/victim"
        let runner = try ExperimentRunner(configuration: rekeyed, directory: reuse)
        runner.attackSource = out
        runner.undefendedOnly = true
        let reused = try runner.run()
        let undefended = records.filter { $0.defense == "none" }
        XCTAssertEqual(reused.map(\.id), undefended.map(\.id))
        for (r, o) in zip(reused, undefended) {
            XCTAssertEqual(r.reusedFrom, out)
            XCTAssertEqual(r.surrogateSHA256, o.surrogateSHA256)
            XCTAssertEqual(r.extractedAccuracy, o.extractedAccuracy)
            XCTAssertEqual(r.queriesSpent, o.queriesSpent)
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(reuse)/surrogates/\(r.id)/model.safetensors"))
        }
        // The same grid verified again from the first run's attacks: the same records, each naming its source.
        var same = configuration
        same.victim.directory = out + "/victim"
        let copy = try ExperimentRunner(configuration: same, directory: reuse + "-copy")
        defer { try? FileManager.default.removeItem(atPath: reuse + "-copy") }
        copy.attackSource = out
        for (r, o) in zip(try copy.run(), records) {
            XCTAssertEqual(r.reusedFrom, out)
            var bare = r
            bare.reusedFrom = nil
            XCTAssertEqual(bare, o)
        }
        // The output perturbations and DAWN as columns: the same attack against each, verified like
        // any defended cell. top-1 keeps every label, so its API is exactly as accurate as the victim;
        // none of them carries the key's watermark, so the key finds no evidence in their copies;
        // DAWN's own evidence comes from what it logged over the thief's and honest traffic.
        var perturbed = configuration
        perturbed.attacks = [configuration.attacks[0]]
        perturbed.defenses = ["none", "top-1-only", "gaussian-noise", "dawn"]
        perturbed.victim.directory = out + "/victim"
        let columns = try ExperimentRunner(configuration: perturbed, directory: reuse + "-columns")
        defer { try? FileManager.default.removeItem(atPath: reuse + "-columns") }
        columns.attackSource = out
        columns.undefendedOnly = true
        let columnRecords = try columns.run()
        XCTAssertEqual(Set(columnRecords.map(\.defense)), ["none", "top-1-only", "gaussian-noise", "dawn"])
        for r in columnRecords {
            XCTAssertEqual(r.queriesSpent, configuration.budget, r.id)
            XCTAssertGreaterThan(r.extractedAccuracy, 0.3, r.id)
            XCTAssertEqual(r.verdict, "not stolen", r.id)
            XCTAssertNil(r.heavyClientAccuracy, r.id)
        }
        let top1 = try XCTUnwrap(columnRecords.first { $0.defense == "top-1-only" })
        XCTAssertEqual(top1.protectedAccuracy, top1.victimAccuracy)
        // DAWN changes ≈ 0.5 % of 4,000 answers (2,000 thief + 2,000 honest) and logs them.
        let dawn = try XCTUnwrap(columnRecords.first { $0.defense == "dawn" }?.evidence?.first)
        XCTAssertEqual(dawn.watermark, "dawn")
        XCTAssertTrue((5...60).contains(dawn.queries), "\(dawn.queries) logged watermark queries")
        XCTAssertNil(columnRecords.first { $0.defense != "dawn" }?.evidence)
        let report = try ExperimentReport.render(directory: reuse + "-columns")
        XCTAssertTrue(report.contains("gaussian-noise") && report.contains("agreement with logged labels"), report)

        // A thief who copies into another architecture: the cell trains a vgg-mini copy of the
        // fmnist-cnn victim, and its record and table row say so.
        var crossArchitecture = configuration
        crossArchitecture.attacks = [ExperimentConfiguration.AttackRow(.knockoff, .naive, surrogate: .vggMini)]
        crossArchitecture.defenses = ["none"]
        crossArchitecture.victim.directory = out + "/victim"
        let crossRecords = try ExperimentRunner(configuration: crossArchitecture, directory: reuse + "-cross").run()
        defer { try? FileManager.default.removeItem(atPath: reuse + "-cross") }
        XCTAssertEqual(crossRecords.map(\.id), ["none--knockoff--naive--as-vgg-mini--s0"])
        XCTAssertEqual(crossRecords[0].surrogateArchitecture, "vgg-mini")
        XCTAssertEqual(try ModelDirectory.load(reuse + "-cross/surrogates/none--knockoff--naive--as-vgg-mini--s0").manifest.architecture, .vggMini)
        XCTAssertEqual(ResultTable(records: crossRecords).rows, ["KnockoffNet / naive → vgg-mini"])
        XCTAssertGreaterThan(crossRecords[0].extractedAccuracy, 0.3)

        // A defended attack is not reused under another key.
        var rekeyedBoth = rekeyed
        rekeyedBoth.defenses = configuration.defenses
        let otherKey = try ExperimentRunner(configuration: rekeyedBoth, directory: reuse + "-key")
        defer { try? FileManager.default.removeItem(atPath: reuse + "-key") }
        otherKey.attackSource = out
        XCTAssertThrowsError(try otherKey.run()) { XCTAssertTrue("\($0)".contains("other settings (key)"), "\($0)") }

        var otherBudget = rekeyed
        otherBudget.budget += 1
        let refused = try ExperimentRunner(configuration: otherBudget, directory: reuse + "-budget")
        defer { try? FileManager.default.removeItem(atPath: reuse + "-budget") }
        refused.attackSource = out
        XCTAssertThrowsError(try refused.run()) { XCTAssertTrue("\($0)".contains("other settings (budget)"), "\($0)") }

        // A claiming worker (what `experiment run --jobs N` starts) leaves a cell claimed by a stopped
        // process alone, and so its defended partner too; once the coordinator has cleared that claim,
        // a worker runs the rest to the same surrogates and leaves no claim behind.
        let claimed = out + "-claimed"
        defer { try? FileManager.default.removeItem(atPath: claimed) }
        try FileManager.default.createDirectory(atPath: claimed + "/runs", withIntermediateDirectories: true)
        for file in ["key.htkey", "calibration.json"] { try FileManager.default.copyItem(atPath: "\(out)/\(file)", toPath: "\(claimed)/\(file)") }
        try "999999999 1\n".write(toFile: claimed + "/runs/none--knockoff--top-1--s0.claim", atomically: true, encoding: .utf8)
        let first = try ExperimentRunner(configuration: same, directory: claimed)
        first.claimsCells = true
        XCTAssertEqual(try first.run().map(\.id), ["none--knockoff--naive--s0", "honeytrace--knockoff--naive--s0"])
        let coordinator = try ExperimentRunner(configuration: same, directory: claimed)
        try coordinator.prepareShared()
        let worker = try ExperimentRunner(configuration: same, directory: claimed)
        worker.claimsCells = true
        let workerRecords = try worker.run()
        XCTAssertEqual(workerRecords.map(\.id), records.map(\.id))
        for (r, o) in zip(workerRecords, records) {
            XCTAssertEqual(r.surrogateSHA256, o.surrogateSHA256, r.id)
            XCTAssertEqual(r.wsrExclusive, o.wsrExclusive, r.id)
            XCTAssertEqual(r.verdict, o.verdict, r.id)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: claimed + "/runs").filter { $0.hasSuffix(".claim") }, [])

        let markdown = try ExperimentReport.render(directory: out)
        XCTAssertTrue(markdown.contains("KnockoffNet / naive") && markdown.contains("honeytrace"), markdown)
        for file in ["table.md", "table.csv", "fig6.svg", "fig6.csv", "evidence.svg", "evidence.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(file)"), file)
        }

        // Removal by fine-tuning: every copy, measured as stolen (epoch 0, the record's figures) and
        // after one epoch on the strong thief's labelled images; the surrogates on disk stay as they were.
        let removal = try ExperimentRunner(configuration: configuration, directory: out).fineTuningRemoval(.init(epochs: 1, images: 512, seed: 3))
        XCTAssertEqual(removal.courses.map(\.cell).sorted(), records.map(\.id).sorted())
        for course in removal.courses {
            let record = try XCTUnwrap(records.first { $0.id == course.cell })
            XCTAssertEqual(course.steps.map(\.epoch), [0, 1])
            XCTAssertEqual(course.steps[0].wsrSpecific, record.wsrSpecific, accuracy: 1e-12, "epoch 0 is the copy as stolen")
            XCTAssertEqual(course.steps[0].accuracy, record.extractedAccuracy, accuracy: 1e-12)
            XCTAssertNotEqual(course.steps[1].accuracy, course.steps[0].accuracy, "the epoch changed the copy")
        }
        XCTAssertEqual(try ModelDirectory.load(out + "/surrogates/" + records[0].id).manifest.weightsSHA256, records[0].surrogateSHA256)
        let removalCSV = try String(contentsOfFile: out + "/removal/fine-tuning.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(removalCSV.count, 1 + 2 * records.count)
        XCTAssertTrue(try String(contentsOfFile: out + "/removal/fine-tuning.md", encoding: .utf8).contains("| epoch 0 | epoch 1 |"))
        XCTAssertThrowsError(try FineTuningRemoval.Settings(epochs: 0).validate())
        XCTAssertThrowsError(try FineTuningRemoval.Settings(learningRate: .nan).validate())

        // Removal by CLP pruning: u = 100 prunes nothing (the copy as stolen), u = 0 prunes every
        // channel above its layer's mean; the surrogates on disk stay as they were.
        let pruning = try ExperimentRunner(configuration: configuration, directory: out).pruningRemoval(thresholds: [100, 0])
        XCTAssertEqual(pruning.courses.map(\.cell).sorted(), records.map(\.id).sorted())
        for course in pruning.courses {
            let record = try XCTUnwrap(records.first { $0.id == course.cell })
            XCTAssertEqual(course.steps.map(\.u), [nil, 100, 0])
            XCTAssertEqual(course.steps[0].wsrSpecific, record.wsrSpecific, accuracy: 1e-12, "as stolen")
            XCTAssertEqual(course.steps[1].prunedChannels, 0)
            XCTAssertEqual(course.steps[1].accuracy, course.steps[0].accuracy, accuracy: 1e-12, "nothing pruned, nothing changed")
            XCTAssertGreaterThan(course.steps[2].prunedChannels, 0)
            XCTAssertLessThan(course.steps[2].prunedChannels, course.steps[2].totalChannels)
        }
        XCTAssertEqual(try ModelDirectory.load(out + "/surrogates/" + records[0].id).manifest.weightsSHA256, records[0].surrogateSHA256)
        XCTAssertEqual(try String(contentsOfFile: out + "/removal/clp.csv", encoding: .utf8).split(separator: "\n").count, 1 + 3 * records.count)
        // The Fig. 9 plot: the columns' mean accuracy and specific WSR at each u, undefended copies dashed.
        let plot = PruningRemoval.plot(pruning, title: "t")
        XCTAssertEqual(plot.panels.map { $0.series.map(\.label) }, Array(repeating: ["none copies (mean of 2)", "honeytrace copies (mean of 2)"], count: 2))
        let defended = pruning.courses.filter { $0.defense == "honeytrace" }
        XCTAssertEqual(plot.panels[1].series[1].points.map(\.x), [100, 0])
        XCTAssertEqual(plot.panels[1].series[1].points[1].y, (defended[0].steps[2].wsrSpecific + defended[1].steps[2].wsrSpecific) / 2, accuracy: 1e-12)
        XCTAssertTrue(try String(contentsOfFile: out + "/removal/clp.svg", encoding: .utf8).contains("stroke-dasharray"))
        XCTAssertThrowsError(try PruningRemoval.validate([.nan]))

        // Detection by trigger inversion: every copy scanned, its classes' anomaly indices from their
        // mask norms; written where asked, each copy also on its own, so that a second run scans nothing.
        let scanOut = out + "-scan"
        defer { try? FileManager.default.removeItem(atPath: scanOut) }
        let scanSettings = TriggerScan.Settings(inversion: TriggerInversion(epochs: 1, epochSteps: 2, batchSize: 8, seed: 1), images: 64)
        var scanLog: [String] = []
        let scanRunner = try ExperimentRunner(configuration: configuration, directory: out, log: { scanLog.append($0) })
        var ticks: [Int] = []
        let scan = try scanRunner.triggerScan(scanSettings, out: scanOut, progress: { done, total in ticks.append(done); XCTAssertEqual(total, 10 * records.count) })
        XCTAssertEqual(ticks.last, 10 * records.count)
        XCTAssertEqual(scan.copies.map(\.cell).sorted(), records.map(\.id).sorted())
        XCTAssertEqual(scan.target, (configuration.recipe ?? .composite()).target)
        for copy in scan.copies {
            XCTAssertEqual(copy.classes.map(\.target), Array(0..<10))
            XCTAssertEqual(copy.anomalyIndices, try AnomalyIndex.indices(copy.classes.map(\.maskL1)))
            XCTAssertTrue(copy.data.contains("64 random"), copy.data)
        }
        for file in ["scan.json", "scan.csv", "scan.md", "scan.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(scanOut)/\(file)"), file)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/scan"), "--out keeps the grid as it was")
        XCTAssertEqual(try String(contentsOfFile: scanOut + "/scan.csv", encoding: .utf8).split(separator: "\n").count, 1 + 10 * records.count)
        XCTAssertEqual(try String(contentsOfFile: scanOut + "/scan.svg", encoding: .utf8).components(separatedBy: "class=\"target\"").count - 1,
                       records.count)
        scanLog = []
        let rescan = try scanRunner.triggerScan(scanSettings, out: scanOut)
        XCTAssertEqual(rescan, scan)
        XCTAssertEqual(scanLog.filter { $0.contains("scanned before") }.count, records.count, "\(scanLog)")
        XCTAssertThrowsError(try TriggerScan.Settings(images: 0).validate())
    }
}
