import Datasets
import Foundation
import Honeytrace
import XCTest

/// `verify` for scripts: exit statuses, several suspects in one run, the shared JSON fields, and
/// offline verification (exported queries, answers read back) against a live query.
final class VerifyCommandTests: CLITestCase {
    /// Answers a perfect thief would give the queries exported with `pairs` pairs and `seed`:
    /// the target on every trigger, another class on every control.
    func thiefAnswers(key: String, pairs: Int, seed: UInt64) throws -> String {
        let k = try WatermarkKey.load(key)
        let triggers = try TriggerSet.make(key: k, heldOut: try FashionMNIST.load(split: .test), count: pairs, seed: seed)
        let slots = OfflineQueries(triggers: triggers, secret: k.secret, seed: seed).slots
        return "index,label\n" + slots.enumerated().map { "\($0),\($1.isTrigger ? k.target : (k.target + 1) % k.classes)" }.joined(separator: "\n")
    }

    func testExportedQueriesAnsweredOfflineGiveTheLiveVerdict() throws {
        let key = try syntheticModelsAndKey()
        let export = path("export")
        let wrote = try CLI.succeed(["verify", "--key", key, "--export-queries", export, "--pairs", "40", "--seed", "5"])
        XCTAssertTrue(wrote.contains("80 queries"), wrote)
        XCTAssertTrue(FileManager.default.fileExists(atPath: export + "/images/q00079.png"))
        let manifest = try CLI.json(try String(contentsOfFile: export + "/manifest.json", encoding: .utf8))
        let signed = try XCTUnwrap(manifest["signed"] as? [String: Any])
        XCTAssertEqual(signed["seed"] as? Int, 5)
        XCTAssertEqual((signed["images"] as? [Any])?.count, 80)
        XCTAssertEqual((manifest["signature"] as? [String: Any])?["algorithm"] as? String, "HMAC-SHA256")
        try CLI.fail(["verify", "--key", key, "--export-queries", export], mentioning: [export, "not empty"])

        // The suspect's operator runs its model on the queries: labels, and rows of probabilities.
        try Data(try CLI.succeed(["predict", path("b"), "--input", export + "/queries.npy", "--json"]).utf8)
            .write(to: URL(fileURLWithPath: export + "/labels.json"))
        let probabilities = try CLI.succeed(["predict", path("b"), "--input", export + "/queries.npy", "--output", "probabilities", "--json"])
        try Data(probabilities.utf8).write(to: URL(fileURLWithPath: path("probabilities.json")))
        let labels = try XCTUnwrap(try CLI.json(try String(contentsOfFile: export + "/labels.json", encoding: .utf8))["labels"] as? [Int])
        try Data(("index,label\n" + labels.enumerated().map { "\($0),\($1)" }.joined(separator: "\n")).utf8)
            .write(to: URL(fileURLWithPath: path("labels.csv")))

        let live = try CLI.verifyJSON(["verify", "--key", key, path("b"), "--pairs", "40", "--seed", "5", "--json"])
        XCTAssertGreaterThan(live["triggerHits"] as? Int ?? 0, 0, "the comparison needs answers of the target class")
        let offline = [
            try CLI.verifyJSON(["verify", "--key", key, "--answers", export + "/labels.json", "--json"]),  // the manifest beside it
            try CLI.verifyJSON(["verify", "--key", key, "--answers", path("probabilities.json"), "--queries", export, "--json"]),
            try CLI.verifyJSON(["verify", "--key", key, "--answers", path("labels.csv"), "--queries", export, "--json"]),
        ]
        for report in offline {
            for field in ["verdict", "is_stolen", "p_value", "score", "pValue", "binomialPValue", "mcnemarPValue", "triggerHits", "controlHits",
                          "queriesSpent", "nullRate"] {
                XCTAssertEqual("\(report[field] ?? "missing")", "\(live[field] ?? "missing")", "\(field): offline \(report["suspect"] ?? "") vs live")
            }
        }
        // A thief's answers: "stolen", exit status 2; the export's seed and pairs are used, and others refused.
        try Data(try thiefAnswers(key: key, pairs: 40, seed: 5).utf8).write(to: URL(fileURLWithPath: path("thief.csv")))
        let thief = try CLI.verify(["verify", "--key", key, "--answers", path("thief.csv"), "--queries", export], verdict: "stolen")
        XCTAssertTrue(thief.contains("WSR raw          100.00 %"), thief)
        try CLI.fail(["verify", "--key", key, "--answers", path("thief.csv"), "--queries", export, "--seed", "6"], mentioning: ["--seed 6", "seed 5"])
        try CLI.fail(["verify", "--key", key, "--answers", path("thief.csv")], mentioning: [scratch.lastPathComponent, "manifest.json", "no such file"])

        // Malformed answers name the file, the place, expected and found.
        try Data("index,label\n0,3\n1,10\n".utf8).write(to: URL(fileURLWithPath: path("bad.csv")))
        try CLI.fail(["verify", "--key", key, "--answers", path("bad.csv"), "--queries", export], mentioning: ["bad.csv", "line 3, field 2", "label 0…9", "'10'"])
        try Data("[1, 2]".utf8).write(to: URL(fileURLWithPath: path("short.json")))
        try CLI.fail(["verify", "--key", key, "--answers", path("short.json"), "--queries", export], mentioning: ["short.json", "80 answers expected", "found 2"])
        // A changed query file is named.
        try Data([0x89]).write(to: URL(fileURLWithPath: export + "/images/q00007.png"))
        try CLI.fail(["verify", "--key", key, "--answers", path("thief.csv"), "--queries", export], mentioning: ["q00007.png", "changed since the export"])
    }

    func testSeveralSuspectsGiveOneResultEachAndTheExitStatusSummarizesThem() throws {
        let key = try syntheticModelsAndKey()
        let export = path("export")
        _ = try CLI.succeed(["verify", "--key", key, "--export-queries", export, "--pairs", "30"])
        try Data(try thiefAnswers(key: key, pairs: 30, seed: 1).utf8).write(to: URL(fileURLWithPath: export + "/thief.csv"))

        // Not stolen: exit 0, one object per suspect in order.
        let r = try CLI.run(["verify", "--key", key, path("b"), path("a"), "--pairs", "30", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let both = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], r.stdout)
        XCTAssertEqual(both.map { $0["suspect"] as? String }, [path("b"), path("a")])
        for object in both {
            XCTAssertEqual(object["verdict"] as? String, "not stolen")
            XCTAssertEqual(object["is_stolen"] as? Bool, false)
            XCTAssertEqual(object["watermark"] as? String, "neural-honeytrace")
            XCTAssertNotNil(object["p_value"] as? Double)
            XCTAssertNotNil(object["score"] as? Double)
            XCTAssertEqual(object["queries"] as? Int, 60)
        }
        // One stolen among them: exit 2; the table has a row per suspect.
        let mixed = try CLI.run(["verify", "--key", key, path("b"), "--answers", export + "/thief.csv", "--pairs", "30"])
        XCTAssertEqual(mixed.status, 2, mixed.stderr)
        let rows = mixed.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 3, mixed.stdout)
        XCTAssertTrue(rows[0].hasPrefix("suspect") && rows[1].contains("not stolen") && rows[2].contains("thief.csv") && rows[2].contains(" stolen"),
                      mixed.stdout)
        // --markdown: the false-claim table of docs/results/verify-foreign.sh, one row per suspect.
        let md = try CLI.run(["verify", "--key", key, path("b"), "--answers", export + "/thief.csv", path("missing"), "--pairs", "30", "--markdown"])
        XCTAssertEqual(md.status, 1, md.stderr)
        let table = md.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(table[0], "| suspect | verdict | p binomial | p McNemar | WSR raw | controls → t | null rate | WSR specific | queries |")
        XCTAssertEqual(table[1], "|---|---|---|---|---|---|---|---|---|")
        XCTAssertTrue(table[2].hasPrefix("| \(path("b")) | not stolen | ") && table[2].hasSuffix(" |") && !table[2].contains("—"), md.stdout)
        XCTAssertTrue(table[3].hasPrefix("| \(path("missing")) | error | — |"), md.stdout)
        XCTAssertTrue(table[4].hasPrefix("| \(export)/thief.csv | stolen | ") && table[4].hasSuffix(" | 60 |"), md.stdout)
        // The row's figures are the report's own: specific WSR = raw WSR − control rate.
        let cells = table[4].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        let number = { (i: Int) in Double(cells[i].replacingOccurrences(of: " %", with: ""))! }
        XCTAssertEqual(number(7), number(4) - number(5), accuracy: 0.11, table[4])
        XCTAssertTrue(md.stdout.contains("- error: ") && md.stdout.contains(path("missing")), md.stdout)
        // A suspect that cannot be verified is reported and the others still are; the error decides the exit status.
        let failed = try CLI.run(["verify", "--key", key, path("missing"), "--answers", export + "/thief.csv", "--pairs", "30", "--json"])
        XCTAssertEqual(failed.status, 1, failed.stderr)
        XCTAssertTrue(failed.stderr.contains(path("missing")), failed.stderr)
        let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [[String: Any]], failed.stdout)
        XCTAssertEqual(results.map { $0["verdict"] as? String }, ["error", "stolen"])
        XCTAssertTrue((results[0]["error"] as? String ?? "").contains(path("missing")), "\(results[0])")
        XCTAssertEqual(results[1]["is_stolen"] as? Bool, true)
        // One suspect that cannot be verified: the command's error, exit 1.
        try CLI.fail(["verify", "--key", key, path("missing")], mentioning: [path("missing")])
    }

    func testArgumentsAreCheckedBeforeAnythingRuns() throws {
        try CLI.fail(["verify", "--key", path("k.htkey")], mentioning: ["at least one suspect", "--suspect", "--endpoint", "--answers"])
        try CLI.fail(["verify", "--prown", path("t.json"), "--answers", path("a.csv")], mentioning: ["--answers goes with --key"])
        try CLI.fail(["verify", "--dawn-log", path("d.json"), "--export-queries", path("x")], mentioning: ["--export-queries goes with --key"])
        try CLI.fail(["verify", "--key", path("k.htkey"), "--export-queries", path("x"), path("b")], mentioning: ["verifies nothing"])
        try CLI.fail(["verify", "--key", path("k.htkey"), path("b"), "--queries", path("x")], mentioning: ["--queries DIR goes with --answers"])
        try CLI.fail(["verify", "--key", path("k.htkey"), path("b"), "--pairs", "0"], mentioning: ["--pairs"])
        try CLI.fail(["verify", "--key", path("k.htkey"), path("b"), "--json", "--markdown"], mentioning: ["--json and --markdown"])
    }

    func testVersionNamesThePackageVersion() throws {
        let r = try CLI.run(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(r.stdout.range(of: #"^\d+\.\d+\.\d+"#, options: .regularExpression), r.stdout)
    }
}
