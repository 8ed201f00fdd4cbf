import Foundation
import XCTest

/// `experiment verify` and `experiment combine` (issue 19: the docs/results scripts as subcommands),
/// on one tiny grid of one attack row (2 cells) shared by the tests.
final class ExperimentScriptsCommandTests: XCTestCase {
    nonisolated(unsafe) static var grid: String?
    static let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-scripts-\(UUID().uuidString)").path

    /// The grid directory, run once.
    func experiment() throws -> String {
        if let grid = Self.grid { return grid }
        try FileManager.default.createDirectory(atPath: Self.scratch, withIntermediateDirectories: true)
        let file = try CLI.smallGrid(in: Self.scratch, name: "scripts", rows: 1)
        let out = Self.scratch + "/grid"
        _ = try CLI.succeed(["experiment", "run", file, "--out", out, "--threads", "1"])
        Self.grid = out
        return out
    }

    override class func tearDown() { try? FileManager.default.removeItem(atPath: scratch) }

    func scratchPath(_ name: String) -> String { Self.scratch + "/\(name)-\(UUID().uuidString)" }

    /// A copy of the grid whose cells are seed `seed` (ids, record files, surrogates and manifest renamed).
    func copy(_ grid: String, asSeed seed: Int) throws -> String {
        let fm = FileManager.default
        let dir = scratchPath("seed\(seed)")
        try fm.copyItem(atPath: grid, toPath: dir)
        for file in try fm.contentsOfDirectory(atPath: dir + "/runs") where file.hasSuffix("--s0.json") {
            let id = String(file.dropLast(5)), new = String(id.dropLast(2)) + "s\(seed)"
            try fm.moveItem(atPath: "\(dir)/runs/\(file)", toPath: "\(dir)/runs/\(new).json")
            try fm.moveItem(atPath: "\(dir)/surrogates/\(id)", toPath: "\(dir)/surrogates/\(new)")
        }
        try editManifest(dir) { m in
            var runs = m["runs"] as! [String: Any]
            for (id, run) in runs { runs[id] = nil; runs[String(id.dropLast(2)) + "s\(seed)"] = run }
            m["runs"] = runs
        }
        return dir
    }

    func editManifest(_ dir: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: dir + "/manifest.json")
        var m = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&m)
        try JSONSerialization.data(withJSONObject: m).write(to: url)
    }

    func testVerifyTablesEverySurrogateAgainstItsReference() throws {
        let grid = try experiment()
        let md = scratchPath("table") + ".md", csv = scratchPath("table") + ".csv"
        let r = try CLI.run(["experiment", "verify", grid, "--pairs", "40", "--threads", "1", "--out", md, "--csv", csv])
        XCTAssertTrue([0, 2].contains(r.status), r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "| surrogate | verdict | queries | p binomial | p McNemar | WSR raw | WSR specific |")
        XCTAssertEqual(lines.count, 4, r.stdout)
        XCTAssertTrue(lines[2].hasPrefix("| honeytrace--knockoff--naive--s0 | ") && lines[3].hasPrefix("| none--knockoff--naive--s0 | "), r.stdout)
        XCTAssertEqual(try String(contentsOfFile: md, encoding: .utf8), r.stdout)
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 3)
        XCTAssertTrue(rows[1].hasPrefix("honeytrace--knockoff--naive--s0,\(grid)/surrogates/none--knockoff--naive--s0,"), "\(rows[1])")
        XCTAssertTrue(rows[2].hasPrefix("none--knockoff--naive--s0,\(grid)/victim,"), "\(rows[2])")
        // The sequential test spends at most the pairs' queries; --json gives one record per surrogate.
        let j = try CLI.run(["experiment", "verify", grid, "--pairs", "40", "--threads", "1", "--sequential", "--json"])
        XCTAssertTrue([0, 2].contains(j.status), j.stderr)
        let records = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(records.map { $0["surrogate"] as? String }, ["honeytrace--knockoff--naive--s0", "none--knockoff--naive--s0"])
        for record in records { XCTAssertLessThanOrEqual(try XCTUnwrap(record["queriesSpent"] as? Int), 80) }
        XCTAssertEqual(j.status, records.contains { $0["verdict"] as? String == "stolen" } ? 2 : 0)
    }

    func testVerifyRefusesWhatIsNoExperiment() throws {
        let grid = try experiment()
        try CLI.fail(["experiment", "verify", scratchPath("missing")], mentioning: ["no such experiment directory"])
        let bare = scratchPath("bare")
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        try CLI.fail(["experiment", "verify", bare], mentioning: ["\(bare)/key.htkey: no key"])
        try CLI.fail(["experiment", "verify", grid, "--pairs", "0"], mentioning: ["--pairs must be at least 1"])
        // An unreadable reference is its row's error; the other surrogate is still verified.
        let r = try CLI.run(["experiment", "verify", grid, "--pairs", "40", "--threads", "1", "--victim", bare])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stdout.contains("| none--knockoff--naive--s0 | error |") && r.stderr.contains("is not a model directory"), r.stdout + r.stderr)
        XCTAssertFalse(r.stdout.contains("| honeytrace--knockoff--naive--s0 | error |"), r.stdout)
    }

    func testCombineGathersSeedsAndRefusesClashes() throws {
        let grid = try experiment()
        let seed1 = try copy(grid, asSeed: 1)
        let out = scratchPath("src")
        let text = try CLI.succeed(["experiment", "combine", "--out", out, grid, seed1 + ":none--*"])
        XCTAssertTrue(text.contains("wrote \(out): 3 cells"), text)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/runs").sorted(),
                       ["honeytrace--knockoff--naive--s0.json", "none--knockoff--naive--s0.json", "none--knockoff--naive--s1.json"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/surrogates").count, 3)
        let manifest = try CLI.json(try String(contentsOfFile: out + "/manifest.json", encoding: .utf8))
        XCTAssertEqual((manifest["runs"] as? [String: Any])?.keys.sorted(),
                       ["honeytrace--knockoff--naive--s0", "none--knockoff--naive--s0", "none--knockoff--naive--s1"])
        // The same cells twice are fine; OUT must be new or empty.
        _ = try CLI.succeed(["experiment", "combine", "--out", scratchPath("twice"), grid, grid])
        try CLI.fail(["experiment", "combine", "--out", out, grid], mentioning: ["\(out) exists and is not empty"])

        // A clashing cell: the same id, another record.
        let clash = try copy(grid, asSeed: 1)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: clash + "/runs/none--knockoff--naive--s1.json"))
        let refused = scratchPath("refused")
        try CLI.fail(["experiment", "combine", "--out", refused, seed1, clash],
                     mentioning: ["cell none--knockoff--naive--s1 clashes", "\(clash)/runs/none--knockoff--naive--s1.json", seed1])
        XCTAssertFalse(FileManager.default.fileExists(atPath: refused), "a refused combination writes nothing")
        // Another victim; another key with defended cells (an undefended cell alone ignores the key).
        let other = try copy(grid, asSeed: 2)
        try editManifest(other) { $0["victimSHA256"] = String(repeating: "0", count: 64) }
        try CLI.fail(["experiment", "combine", "--out", refused, grid, other], mentioning: [other, "differs from \(grid) in victim"])
        let rekeyed = try copy(grid, asSeed: 3)
        try editManifest(rekeyed) { $0["keyFingerprint"] = "another" }
        try CLI.fail(["experiment", "combine", "--out", refused, grid, rekeyed], mentioning: [rekeyed, "in key"])
        _ = try CLI.succeed(["experiment", "combine", "--out", refused, grid + ":none--*", rekeyed + ":none--*"])
        // Missing directories and empty selections.
        try CLI.fail(["experiment", "combine", "--out", scratchPath("x"), grid, scratchPath("missing")], mentioning: ["no such experiment directory"])
        try CLI.fail(["experiment", "combine", "--out", scratchPath("x"), grid + ":dawn--*"], mentioning: [grid, "no cell matches dawn--*"])
        try CLI.fail(["experiment", "combine", "--out", scratchPath("x")], mentioning: ["<sources>"])
    }
}
