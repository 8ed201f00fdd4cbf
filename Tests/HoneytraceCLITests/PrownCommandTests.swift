import Foundation
import XCTest

/// `prown create` and `verify --prown`: the argument checks and the errors on bad trigger-set files
/// (the measured path runs in Baselines' tests and docs/results/prown).
final class PrownCommandTests: CLITestCase {
    func testVerifyWithPrownNeedsASuspect() throws {
        try CLI.fail(["verify", "--prown", path("t.json")], mentioning: ["at least one suspect"])
        try CLI.fail(["verify", "--prown", path("t.json"), path("a"), "--false-claim-rate", "1.5"], mentioning: ["--false-claim-rate"])
        // Several suspects are taken (one result each); the missing trigger set is the error here.
        try CLI.fail(["verify", "--prown", path("t.json"), path("a"), "--suspect", path("b")], mentioning: ["t.json", "no such PROWN trigger-set file"])
    }

    func testBadTriggerSetFilesAreNamedWithTheirField() throws {
        try CLI.fail(["verify", "--prown", path("missing.json"), path("a")], mentioning: ["missing.json", "no such PROWN trigger-set file"])
        try Data(#"{"format":"honeytrace-prown-trigger-set"}"#.utf8).write(to: URL(fileURLWithPath: path("bad.json")))
        try CLI.fail(["verify", "--prown", path("bad.json"), path("a")], mentioning: ["bad.json", "field formatVersion is missing"])
        try Data("not json".utf8).write(to: URL(fileURLWithPath: path("text.json")))
        try CLI.fail(["verify", "--prown", path("text.json"), path("a")], mentioning: ["text.json", "JSON"])
    }

    func testCreateRefusesBadSettingsBeforeLoadingAnything() throws {
        try CLI.fail(["prown", "create", path("no-model"), "--out", path("t.json"), "--proxies", "0"], mentioning: ["proxies"])
        try CLI.fail(["prown", "create", path("no-model"), "--out", path("t.json"), "--alpha", "2"], mentioning: ["alpha"])
        try CLI.fail(["prown", "create", path("no-model"), "--out", path("t.json")], mentioning: ["no-model"])
    }
}
