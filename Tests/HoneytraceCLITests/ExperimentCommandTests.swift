import Foundation
import XCTest

/// `experiment run --jobs N`: worker processes share one grid and the result is complete.
final class ExperimentCommandTests: XCTestCase {
    func testJobsRunTheGridInWorkerProcesses() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-jobs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let file = try CLI.smallGrid(in: scratch, name: "jobs")
        let out = scratch + "/out"

        try CLI.fail(["experiment", "run", file, "--out", out, "--jobs", "0"], mentioning: ["--jobs 0"])
        let r = try CLI.run(["experiment", "run", file, "--out", out, "--jobs", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("4 runs in"), r.stdout)
        XCTAssertTrue(r.stderr.contains("[worker 1/2]") && r.stderr.contains("[worker 2/2]"), r.stderr)
        // Each cell ran once, in one worker: "[worker i/2] [k of 4 done] <id>", with an ETA once
        // a cell has finished ("[k of 4 done, eta 12s] <id>").
        let done = #" done(, eta [0-9hms ]+)?\] "#
        let started = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[worker") && $0.range(of: done, options: .regularExpression) != nil }
            .map { String($0[$0.range(of: done, options: .regularExpression)!.upperBound...]) }
        XCTAssertTrue(r.stderr.contains(", eta "), "a worker that finished a cell estimates the rest: \(r.stderr)")
        XCTAssertEqual(started.sorted(), ["honeytrace--knockoff--naive--s0", "honeytrace--knockoff--top-1--s0",
                                          "none--knockoff--naive--s0", "none--knockoff--top-1--s0"], r.stderr)
        let runs = try FileManager.default.contentsOfDirectory(atPath: out + "/runs")
        XCTAssertEqual(runs.filter { $0.hasSuffix(".json") }.count, 4, "\(runs)")
        XCTAssertEqual(runs.filter { $0.hasSuffix(".claim") }, [], "no claim is left behind")
        for id in runs where id.hasSuffix(".json") {
            let record = try CLI.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(out)/runs/\(id)")), as: UTF8.self))
            XCTAssertEqual(record["queriesSpent"] as? Int, 400, id)
        }
        let manifest = try CLI.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")), as: UTF8.self))
        XCTAssertEqual((manifest["runs"] as? [String: Any])?.count, 4)
        // Every cell has a record, so running again trains nothing and starts no worker work.
        let again = try CLI.run(["experiment", "run", file, "--out", out, "--jobs", "2"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("querying"), again.stderr)
    }

    /// `experiment sweep`: a grid per value of d, the base grid's undefended copies reused, and
    /// figures that follow d: at a tiny d nothing is touched, at a huge one every answer is the target.
    func testSweepRunsAGridPerValue() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-sweep-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let file = try CLI.smallGrid(in: scratch, name: "sweep", rows: 1)
        let out = scratch + "/out"
        let sweep = ["experiment", "sweep", file, "--parameter", "d", "--out", out, "--threads", "2"]
        try CLI.fail(sweep + ["--values", "1,x"], mentioning: ["--values: 'x' is not a number"])
        try CLI.fail(sweep + ["--values", "1", "--rows", "mnist-5k--knockoff--naive"], mentioning: ["no attack row 'mnist-5k--knockoff--naive'", "knockoff--naive"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a refused sweep writes nothing")

        let r = try CLI.run(sweep + ["--values", "0.0001,1000"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(out)/sweep-d.md"), r.stdout)
        for f in ["sweep-d.md", "sweep-d.csv", "sweep-d.json", "sweep-d.svg", "sweep-base.json", "base/key.htkey", "d-0.0001/manifest.json", "d-1000/runs/honeytrace--knockoff--naive--s0.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(f)"), f)
        }
        let reused = try CLI.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/d-1000/runs/none--knockoff--naive--s0.json")), as: UTF8.self))
        XCTAssertEqual(reused["reusedFrom"] as? String, out + "/base")
        let report = try CLI.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/sweep-d.json")), as: UTF8.self))
        let points = try XCTUnwrap(report["points"] as? [[String: Any]])
        XCTAssertEqual(points.compactMap { $0["name"] as? String }, ["d-0.0001", "base", "d-1000"])
        let tiny = points[0], huge = points[2]
        XCTAssertEqual(tiny["protectedAccuracy"] as? Double, tiny["victimAccuracy"] as? Double, "s = 0 everywhere: no answer changes")
        XCTAssertLessThan(try XCTUnwrap(huge["protectedAccuracy"] as? Double), 0.2, "s = 1 everywhere: every answer is flipped to the target")
        let hugeRow = try XCTUnwrap((huge["rows"] as? [[String: Any]])?.first)
        XCTAssertGreaterThan(try XCTUnwrap(hugeRow["cleanTargetRate"] as? Double), 0.5, "a copy of an API that answers only the target")
        XCTAssertEqual(huge["offset"] as? Double, 1000)
        XCTAssertEqual(r.stderr.components(separatedBy: "victim: training").count - 1, 1, "one victim for the whole sweep: \(r.stderr)")
        // Everything is there: running again trains nothing and gives the same report.
        let again = try CLI.run(sweep + ["--values", "0.0001,1000"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("querying"), again.stderr)
        XCTAssertEqual(again.stdout, r.stdout)
        // Another setting shares the base grid; another base grid may not write there.
        let alpha = try CLI.run(["experiment", "sweep", file, "--parameter", "alpha", "--values", "4", "--out", out, "--threads", "2"])
        XCTAssertEqual(alpha.status, 0, alpha.stderr)
        XCTAssertFalse(alpha.stderr.contains("victim: training"), "the base grid's victim serves every point: \(alpha.stderr)")
        XCTAssertTrue(alpha.stderr.contains("attack reused from \(out)/base"), alpha.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/sweep-alpha.svg"))
        try CLI.fail(["experiment", "sweep", file, "--parameter", "alpha", "--values", "1", "--out", out, "--victim", out + "/base/victim"],
                     mentioning: ["holds sweeps of another base grid ('sweep-sweep-base'"])
    }

    /// `experiment run --prepare-only` then `--cell`: what Slurm's jobs run (`experiment slurm`).
    func testPrepareOnlyThenCellRunsExactlyThatCell() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-cell-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let file = try CLI.smallGrid(in: scratch, name: "cell", rows: 1)
        let out = scratch + "/out"
        let run = ["experiment", "run", file, "--out", out, "--threads", "1"]
        try CLI.fail(run + ["--cell", "2"], mentioning: ["cell 2 is out of range: grid 'cell' has 2 cells, 0…1"])
        try CLI.fail(run + ["--cell", "dawn--knockoff--naive--s0"], mentioning: ["grid 'cell' has no cell 'dawn--knockoff--naive--s0'",
                                                                                 "none--knockoff--naive--s0, honeytrace--knockoff--naive--s0"])
        try CLI.fail(run + ["--cell", "0", "--jobs", "2"], mentioning: ["--cell and --prepare-only each go alone"])
        try CLI.fail(run + ["--cell", "0", "--prepare-only"], mentioning: ["--cell and --prepare-only each go alone"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a refused command writes nothing")

        var r = try CLI.run(run + ["--prepare-only"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for file in ["victim/model.json", "key.htkey", "calibration.json", "manifest.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(file)"), file)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/runs"), [])

        r = try CLI.run(run + ["--cell", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("victim: training") || r.stderr.contains("key: built"), "prepared once: \(r.stderr)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/runs"), ["none--knockoff--naive--s0.json"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/surrogates"), ["none--knockoff--naive--s0"])
        // By id, with its record there: read, not run.
        r = try CLI.run(run + ["--cell", "none--knockoff--naive--s0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("none--knockoff--naive--s0: its record exists") && !r.stderr.contains("querying"), r.stderr)
    }

    /// `--data` names the owner's data set by description; an old configuration's fraction budget
    /// is read in points and named in a warning.
    func testDataOptionAndDeprecatedBudgetField() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-data-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let printed = try CLI.json(try CLI.succeed(["experiment", "run", "--preset", "smoke-heldout", "--data", "my-data/dataset.json",
                                                    "--print-config", "--out", scratch + "/out"]))
        XCTAssertEqual((printed["ownerDataset"] as? [String: Any])?["path"] as? String, "my-data/dataset.json")
        XCTAssertEqual(printed["ownerData"] as? String, "described")
        XCTAssertEqual(printed["accuracyBudgetPoints"] as? Double, 0.5)

        var old = printed
        old["ownerDataset"] = nil
        old["ownerData"] = "held-out"
        old["accuracyBudgetPoints"] = nil
        old["calibrationBudget"] = 0.02
        let file = scratch + "/old.json"
        try JSONSerialization.data(withJSONObject: old).write(to: URL(fileURLWithPath: file))
        let r = try CLI.run(["experiment", "run", file, "--print-config", "--out", scratch + "/out"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try CLI.json(r.stdout)["accuracyBudgetPoints"] as? Double, 2)
        XCTAssertTrue(r.stderr.contains("'calibrationBudget' (a fraction) is deprecated") && r.stderr.contains("\"accuracyBudgetPoints\": 2.0"), r.stderr)
    }
}

/// `experiment scan`: options out of range and a directory without a grid fail with a clear message.
final class ExperimentScanCommandTests: XCTestCase {
    func testBadOptionsAndMissingGridAreRefused() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-no-grid-\(UUID().uuidString)").path
        try CLI.fail(["experiment", "scan", missing], mentioning: ["no experiment manifest"])
        try CLI.fail(["experiment", "scan", missing, "--epochs", "0"], mentioning: ["epochs"])
        try CLI.fail(["experiment", "scan", missing, "--images", "0"], mentioning: ["--images"])
        try CLI.fail(["experiment", "scan", missing, "--lambda", "0"], mentioning: ["λ"])
        try CLI.fail(["experiment", "scan", missing, "--batch-size", "x"], mentioning: ["batch-size"])
    }
}
