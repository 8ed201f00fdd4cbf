@testable import Experiments
import Foundation
import TestSupport
import XCTest

/// `experiment slurm`'s scripts, run by bash against a fake `honeytrace` and a fake `sbatch`
/// (the real cluster: HoneytraceCLITests' SlurmEndToEndTests).
final class SlurmScriptsTests: XCTestCase {
    /// A scratch directory whose name needs quoting (a space, a quote, a percent sign).
    func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace slurm's 50% \(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// An executable at `path` that appends its arguments, one a line, and "--" to `$FAKE_LOG`,
    /// then prints `output`.
    func fakeExecutable(_ path: String, output: String = "") throws {
        try "#!/bin/bash\nprintf '%s\\n' \"$(basename \"$0\")\" \"$@\" -- >> \"$FAKE_LOG\"\n\(output)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    /// Runs `script` with bash.
    func bash(_ script: String, _ arguments: [String] = [], environment: [String: String]) throws -> ProcessOutput {
        try ProcessOutput.run(URL(fileURLWithPath: "/bin/bash"), [script] + arguments, environment: environment)
    }

    /// The fake executables' calls, each its name and arguments.
    func calls(_ log: String) -> [[String]] {
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return lines.split(separator: "--").map(Array.init).filter { !$0.isEmpty && $0 != [""] }
    }

    func scripts(_ configuration: ExperimentConfiguration, in dir: String, threads: Int = 1) throws -> SlurmScripts {
        let binary = dir + "/bin dir/honeytrace"
        try FileManager.default.createDirectory(atPath: dir + "/bin dir", withIntermediateDirectories: true)
        try fakeExecutable(binary)
        let runner = try ExperimentRunner(configuration: configuration, directory: dir + "/out put")
        return try SlurmScripts(runner: runner, options: .init(binary: binary, threads: threads, partition: "short", time: "1-02:03:04",
                                                               workingDirectory: dir))
    }

    func testArraysRunTheCostliestFirstAndEachDefendedCellAfterItsPartner() throws {
        let dir = try scratch()
        let configuration = try ExperimentConfiguration.preset("fmnist")
        let s = try scripts(configuration, in: dir, threads: 2)
        XCTAssertEqual(s.columns.map(\.defense), ["none", "honeytrace"])
        XCTAssertEqual(s.columns.map(\.cells.count), [10, 10])
        XCTAssertEqual(Set(s.columns.flatMap(\.cells)), Set(try ExperimentRunner(configuration: configuration, directory: dir).cellIDs))
        // The runner's cost order: the JBDA-TR rows (2.5) first in the configuration's order, then S4L (1.8), smoothing (0.35) last.
        let costs = s.columns[0].cells.map { id in
            ExperimentRunner.relativeCost(configuration.attacks.first { ExperimentRunner.runID(defense: "none", row: $0, seed: 0) == id }!)
        }
        XCTAssertEqual(costs, costs.sorted(by: >))
        XCTAssertEqual(Array(s.columns[0].cells.prefix(2)), ["none--jbda-tr--naive--s0", "none--jbda-tr--d-dae--s0"])
        XCTAssertEqual(s.columns[0].cells[4], "none--knockoff--s4l--s0")
        XCTAssertEqual(s.columns[0].cells.last, "none--knockoff--smoothing--s0")
        // Task i of the defended array is task i's partner.
        XCTAssertEqual(s.columns[1].cells, s.columns[0].cells.map { "honeytrace" + $0.dropFirst("none".count) })

        let submit = try s.write()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/out put/slurm").sorted()
        XCTAssertEqual(files, ["cells.sbatch", "configuration.json", "finish.sbatch", "logs", "prepare.sbatch", "submit.sh"])
        for name in files where name.hasSuffix(".sh") || name.hasSuffix(".sbatch") {
            let path = dir + "/out put/slurm/" + name
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: path), name)
            XCTAssertEqual(try bash("-n", [path], environment: [:]).status, 0, "\(name) is not valid bash")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            if name.hasSuffix(".sbatch") {
                for directive in ["--cpus-per-task=2", "--partition=short", "--time=1-02:03:04"] {
                    XCTAssertTrue(text.contains("#SBATCH \(directive)\n"), "\(name): \(directive)")
                }
                XCTAssertTrue(text.contains("threads=2\n"), name)
            }
        }
        // The jobs run the configuration written beside them, which is this grid.
        let written = try JSONDecoder().decode(ExperimentConfiguration.self,
                                               from: Data(contentsOf: URL(fileURLWithPath: dir + "/out put/slurm/configuration.json")))
        XCTAssertEqual(written, configuration)

        // submit.sh against a fake sbatch that hands out job ids 101, 102, …
        let log = dir + "/calls.log"
        try FileManager.default.createDirectory(atPath: dir + "/fake", withIntermediateDirectories: true)
        try fakeExecutable(dir + "/fake/sbatch", output: "n=$(grep -c '^sbatch$' \"$FAKE_LOG\"); echo \"$((100 + n));cluster\"")
        let r = try bash(submit, environment: ["PATH": dir + "/fake:" + (ProcessInfo.processInfo.environment["PATH"] ?? ""), "FAKE_LOG": log])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").map { String($0.prefix(while: { $0 != "(" })) },
                       ["prepare: job 101", "none: array job 102 ", "honeytrace: array job 103 ", "finish: job 104 "], r.stdout)
        let submitted = calls(log)
        XCTAssertEqual(submitted.count, 4)
        let logs = dir.replacingOccurrences(of: "%", with: "%%") + "/out put/slurm/logs"
        for call in submitted {
            XCTAssertEqual(Array(call.prefix(4)), ["sbatch", "--parsable", "--chdir=" + dir, "--kill-on-invalid-dep=yes"])
        }
        XCTAssertEqual(Array(submitted[0].dropFirst(4)), ["--output=\(logs)/prepare-%j.out", dir + "/out put/slurm/prepare.sbatch"])
        XCTAssertEqual(Array(submitted[1].dropFirst(4)), ["--dependency=afterok:101", "--array=0-9", "--output=\(logs)/none-%A_%a.out",
                                                          dir + "/out put/slurm/cells.sbatch", "none"])
        XCTAssertEqual(Array(submitted[2].dropFirst(4)), ["--dependency=aftercorr:102", "--array=0-9", "--output=\(logs)/honeytrace-%A_%a.out",
                                                          dir + "/out put/slurm/cells.sbatch", "honeytrace"])
        XCTAssertEqual(Array(submitted[3].dropFirst(4)), ["--dependency=afterok:101:102:103", "--output=\(logs)/finish-%j.out",
                                                          dir + "/out put/slurm/finish.sbatch"])
    }

    func testWithoutAnUndefendedColumnEveryArrayWaitsOnlyForThePrepareJob() throws {
        let dir = try scratch()
        var configuration = try ExperimentConfiguration.preset("smoke")
        configuration.defenses = ["honeytrace", "top-1-only"]
        let s = try scripts(configuration, in: dir)
        XCTAssertEqual(s.columns.map(\.defense), ["honeytrace", "top-1-only"])
        let submit = try String(contentsOfFile: try s.write(), encoding: .utf8)
        XCTAssertEqual(submit.components(separatedBy: "--dependency=afterok:$prepare --array=0-1 ").count, 3, submit)
        XCTAssertFalse(submit.contains("aftercorr"), submit)
        XCTAssertTrue(submit.contains("--dependency=afterok:$prepare:$array0:$array1 "), submit)
    }

    func testEachTaskRunsItsOneCellAndExitsAtOnceWhenItsRecordExists() throws {
        let dir = try scratch()
        let s = try scripts(try ExperimentConfiguration.preset("smoke"), in: dir)
        try s.write()
        let out = dir + "/out put", log = dir + "/calls.log"
        let cells = out + "/slurm/cells.sbatch"
        let first = s.columns[1].cells[0]
        var r = try bash(cells, ["honeytrace"], environment: ["SLURM_ARRAY_TASK_ID": "0", "FAKE_LOG": log])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(calls(log), [["honeytrace", "experiment", "run", out + "/slurm/configuration.json", "--out", out,
                                     "--cell", first, "--threads", "1"]])

        // Resumable: with its record there the task starts nothing.
        try FileManager.default.createDirectory(atPath: out + "/runs", withIntermediateDirectories: true)
        try "{}".write(toFile: "\(out)/runs/\(first).json", atomically: true, encoding: .utf8)
        r = try bash(cells, ["honeytrace"], environment: ["SLURM_ARRAY_TASK_ID": "0", "FAKE_LOG": log])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\(first): its record exists"), r.stdout)
        XCTAssertEqual(calls(log).count, 1)

        // A task beyond the column, no task id, or an unknown column: a clear error, nothing started.
        for (task, column, words) in [("2", "none", "array task '2' is not one of column none's 2 cells"),
                                      ("", "none", "array task '' is not one of"), ("0", "dawn", "expected a column (none, honeytrace), found 'dawn'")] {
            r = try bash(cells, [column], environment: ["SLURM_ARRAY_TASK_ID": task, "FAKE_LOG": log])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.contains(words), r.stderr)
        }
        XCTAssertEqual(calls(log).count, 1)

        // The prepare job prepares; the finishing job waits for every record, then writes the manifest and the report.
        r = try bash(out + "/slurm/prepare.sbatch", environment: ["FAKE_LOG": log])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(calls(log).last, ["honeytrace", "experiment", "run", out + "/slurm/configuration.json", "--out", out,
                                         "--prepare-only", "--threads", "1"])
        r = try bash(out + "/slurm/finish.sbatch", environment: ["FAKE_LOG": log])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cells without a record: \(s.columns[0].cells.joined(separator: " ")) \(s.columns[1].cells[1])"), r.stderr)
        XCTAssertEqual(calls(log).count, 2)
        for id in s.columns.flatMap(\.cells) { try "{}".write(toFile: "\(out)/runs/\(id).json", atomically: true, encoding: .utf8) }
        r = try bash(out + "/slurm/finish.sbatch", environment: ["FAKE_LOG": log])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Array(calls(log).suffix(2)), [["honeytrace", "experiment", "run", out + "/slurm/configuration.json", "--out", out,
                                                      "--threads", "1"], ["honeytrace", "experiment", "report", out]])
    }

    func testBadOptionsAndAnotherGridsDirectoryAreRefusedByName() throws {
        let dir = try scratch()
        let runner = try ExperimentRunner(configuration: try ExperimentConfiguration.preset("smoke"), directory: dir + "/out")
        func refused(_ options: SlurmScripts.Options, _ words: String, line: UInt = #line) {
            XCTAssertThrowsError(try SlurmScripts(runner: runner, options: options), line: line) {
                XCTAssertTrue("\($0)".contains(words), "\($0)", line: line)
            }
        }
        refused(.init(binary: "honeytrace", threads: 1), "--binary 'honeytrace': give an absolute path")
        refused(.init(binary: dir + "/missing", threads: 1), "no executable there")
        refused(.init(binary: "/bin/true", threads: 1, time: "1:2"), "--time '1:2'")
        refused(.init(binary: "/bin/true", threads: 1, time: "01:60:00"), "--time '01:60:00'")
        refused(.init(binary: "/bin/true", threads: 1, partition: "a b"), "--partition 'a b'")
        refused(.init(binary: "/bin/true", threads: 1, cpusPerTask: 0), "--cpus-per-task 0")
        refused(.init(binary: "/bin/true", threads: 0), "--threads 0")
        XCTAssertNoThrow(try SlurmScripts(runner: runner, options: .init(binary: "/bin/true", threads: 1, time: "100:00:00")))

        try SlurmScripts(runner: runner, options: .init(binary: "/bin/true", threads: 1)).write()
        var other = try ExperimentConfiguration.preset("smoke")
        other.budget += 1
        let otherRunner = try ExperimentRunner(configuration: other, directory: dir + "/out")
        XCTAssertThrowsError(try SlurmScripts(runner: otherRunner, options: .init(binary: "/bin/true", threads: 1))) {
            XCTAssertTrue("\($0)".contains("slurm/configuration.json holds another configuration ('smoke')"), "\($0)")
        }
    }

    func testCellsAreSelectedByIndexOrIdAndAnIndexOutOfRangeIsAClearError() throws {
        let runner = try ExperimentRunner(configuration: try ExperimentConfiguration.preset("smoke"), directory: "/nonexistent")
        XCTAssertEqual(runner.cellIDs, ["none--knockoff--naive--s0", "none--knockoff--top-1--s0",
                                        "honeytrace--knockoff--naive--s0", "honeytrace--knockoff--top-1--s0"])
        XCTAssertEqual(try runner.cellIndex("2"), 2)
        XCTAssertEqual(try runner.cellIndex("none--knockoff--top-1--s0"), 1)
        for (selector, words) in [("4", "cell 4 is out of range: grid 'smoke' has 4 cells, 0…3"), ("-1", "cell -1 is out of range"),
                                  ("dawn--knockoff--naive--s0", "grid 'smoke' has no cell 'dawn--knockoff--naive--s0'")] {
            XCTAssertThrowsError(try runner.cellIndex(selector)) { XCTAssertTrue("\($0)".contains(words), "\($0)") }
        }
        XCTAssertThrowsError(try runner.runCell(7)) { XCTAssertTrue("\($0)".contains("cell 7 is out of range"), "\($0)") }
    }
}
