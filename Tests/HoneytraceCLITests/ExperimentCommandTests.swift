import Foundation
import XCTest

/// `experiment run --jobs N`: worker processes share one grid and the result is complete.
final class ExperimentCommandTests: XCTestCase {
    func testJobsRunTheGridInWorkerProcesses() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-jobs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // The smoke grid, smaller still.
        var config = try CLI.json(try CLI.succeed(["experiment", "run", "--preset", "smoke", "--print-config", "--out", scratch]))
        config["name"] = "jobs"
        config["budget"] = 400
        config["surrogateEpochs"] = 1
        config["keySize"] = 10
        config["triggerCount"] = 40
        config["testLimit"] = 400
        config["victim"] = ["architecture": "fmnist-cnn", "epochs": 1, "outlierExposure": 0, "seed": 0, "trainLimit": 1000]
        let file = scratch + "/jobs.json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: file))
        let out = scratch + "/out"

        try CLI.fail(["experiment", "run", file, "--out", out, "--jobs", "0"], mentioning: ["--jobs 0"])
        let r = try CLI.run(["experiment", "run", file, "--out", out, "--jobs", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("4 runs in"), r.stdout)
        XCTAssertTrue(r.stderr.contains("[worker 1/2]") && r.stderr.contains("[worker 2/2]"), r.stderr)
        // Each cell ran once, in one worker: "[worker i/2] [k of 4 done] <id>".
        let started = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[worker") && $0.contains(" done] ") }
            .map { String($0[$0.range(of: " done] ")!.upperBound...]) }
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
}
