import Foundation
import XCTest

/// `prown create` and `verify --prown`: the argument checks and the errors on bad trigger-set files
/// (the measured path runs in Baselines' tests and docs/results/prown).
final class PrownCommandTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("prown-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    func testVerifyWithPrownNeedsExactlyOneSuspect() throws {
        try CLI.fail(["verify", "--prown", path("t.json")], mentioning: ["exactly one suspect"])
        try CLI.fail(["verify", "--prown", path("t.json"), path("a"), "--suspect", path("b")], mentioning: ["exactly one suspect"])
        try CLI.fail(["verify", "--prown", path("t.json"), path("a"), "--false-claim-rate", "1.5"], mentioning: ["--false-claim-rate"])
    }

    func testAPositionalSuspectNeedsPrown() throws {
        try CLI.fail(["verify", "--key", path("k.htkey"), path("a")], mentioning: ["--prown"])
    }

    func testBadTriggerSetFilesAreNamedWithTheirField() throws {
        try CLI.fail(["verify", "--prown", path("missing.json"), path("a")], mentioning: ["missing.json", "no such PROWN trigger-set file"])
        try Data(#"{"format":"honeytrace-prown-trigger-set"}"#.utf8).write(to: URL(fileURLWithPath: path("bad.json")))
        try CLI.fail(["verify", "--prown", path("bad.json"), path("a")], mentioning: ["bad.json", "'formatVersion'", "missing"])
        try Data("not json".utf8).write(to: URL(fileURLWithPath: path("text.json")))
        try CLI.fail(["verify", "--prown", path("text.json"), path("a")], mentioning: ["text.json", "JSON"])
    }

    func testCreateRefusesBadSettingsBeforeLoadingAnything() throws {
        try CLI.fail(["prown", "create", path("no-model"), "--out", path("t.json"), "--proxies", "0"], mentioning: ["proxies"])
        try CLI.fail(["prown", "create", path("no-model"), "--out", path("t.json"), "--alpha", "2"], mentioning: ["alpha"])
        try CLI.fail(["prown", "create", path("no-model"), "--out", path("t.json")], mentioning: ["no-model"])
    }
}
