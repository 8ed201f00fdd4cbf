import Foundation
import XCTest

/// `experiment slurm` on a real one-node Slurm cluster: the generated scripts run a grid whose
/// records and surrogates are those of a local `experiment run`, bit for bit. Skips where Slurm
/// cannot start; with HONEYTRACE_REQUIRE_SLURM=1 (set by .ci/run, which installs it) it fails instead.
final class SlurmEndToEndTests: XCTestCase {
    func testGridThroughSlurmMatchesALocalRun() throws {
        let cluster: SlurmCluster
        switch SlurmCluster.start() {
        case .success(let started): cluster = started
        case .failure(let why):
            if ProcessInfo.processInfo.environment["HONEYTRACE_REQUIRE_SLURM"] == "1" {
                return XCTFail("HONEYTRACE_REQUIRE_SLURM=1, but a Slurm cluster cannot start: \(why)")
            }
            throw XCTSkip("a Slurm cluster cannot start here (\(why)); .ci/run installs slurm-wlm and munge and requires this test")
        }
        defer { cluster.stop() }
        // A name that needs quoting all the way into the job scripts.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace slurm e2e \(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // The smallest grid with an undefended and a defended cell.
        let file = try CLI.smallGrid(in: scratch, name: "slurm", rows: 1)
        let grid = scratch + "/slurm grid", local = scratch + "/local"

        // The local run goes alongside the cluster's jobs (one engine thread each, two cores).
        let localRun = Process()
        localRun.executableURL = CLI.executable
        localRun.arguments = ["experiment", "run", file, "--out", local, "--threads", "1"]
        let localLog = scratch + "/local.log"
        FileManager.default.createFile(atPath: localLog, contents: nil)
        localRun.standardError = FileHandle(forWritingAtPath: localLog)
        localRun.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try localRun.run()

        let wrote = try CLI.succeed(["experiment", "slurm", file, "--out", grid, "--threads", "1", "--time", "00:30:00"])
        XCTAssertTrue(wrote.contains("none: 1 array tasks") && wrote.contains("honeytrace: 1 array tasks"), wrote)
        let submitted = try cluster.run("/bin/bash", [grid + "/slurm/submit.sh"])
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        let jobs = submitted.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: #"job (\d+)"#, options: .regularExpression) else { return nil }
            return String(line[r].dropFirst(4))
        }
        XCTAssertEqual(jobs.count, 4, "prepare, two arrays, finish: \(submitted.stdout)")
        defer { _ = try? cluster.run("scancel", jobs) }
        let states = try cluster.wait(for: jobs, seconds: 720)
        localRun.waitUntilExit()
        let logs = { () -> String in
            let dir = grid + "/slurm/logs"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().map {
                "== \($0)\n" + ((try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8)) ?? "").split(separator: "\n").suffix(20).joined(separator: "\n")
            }.joined(separator: "\n") + "\n" + cluster.logs()
        }
        let finished = try XCTUnwrap(states, "the jobs did not finish in 12 minutes\n\(logs())")
        XCTAssertEqual(finished.count, 4, "\(finished)")
        XCTAssertEqual(Set(finished.values), ["COMPLETED"], "\(finished)\n\(logs())")
        XCTAssertEqual(localRun.terminationStatus, 0, (try? String(contentsOfFile: localLog, encoding: .utf8)) ?? "")

        // The same records (but for the wall time) and the same surrogates, bit for bit.
        let ids = ["none--knockoff--naive--s0", "honeytrace--knockoff--naive--s0"]
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: grid + "/runs").filter { $0.hasSuffix(".json") }.sorted(),
                       ids.map { $0 + ".json" }.sorted())
        for id in ids {
            var records: [[String: Any]] = []
            for dir in [local, grid] {
                var record = try CLI.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(dir)/runs/\(id).json")), as: UTF8.self))
                XCTAssertEqual(record["threads"] as? Int, 1, "\(dir): \(id)")
                record["seconds"] = nil
                records.append(record)
            }
            XCTAssertEqual(records[0] as NSDictionary, records[1] as NSDictionary, id)
            XCTAssertEqual(try sha256("\(local)/surrogates/\(id)/model.safetensors"), try sha256("\(grid)/surrogates/\(id)/model.safetensors"), id)
        }
        // The finishing job wrote the complete manifest and the report.
        let manifests = try [local, grid].map { try CLI.json(String(decoding: try Data(contentsOf: URL(fileURLWithPath: $0 + "/manifest.json")), as: UTF8.self)) }
        XCTAssertEqual(manifests[0]["runs"] as? NSDictionary, manifests[1]["runs"] as? NSDictionary)
        XCTAssertEqual((manifests[1]["runs"] as? [String: Any])?.count, 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: grid + "/table.md"), logs())
    }

    /// The SHA-256 of a file, by `sha256sum`.
    func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, path)
        return String(text.prefix(64))
    }
}
