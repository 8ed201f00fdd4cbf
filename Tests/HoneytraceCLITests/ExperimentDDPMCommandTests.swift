import Foundation
import XCTest

/// `experiment ddpm`: settings it cannot run are refused by name before any data is read.
final class ExperimentDDPMCommandTests: XCTestCase {
    func testRefusesSettingsItCannotRun() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-ddpm-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        try CLI.fail(["experiment", "ddpm", "--out", out, "--alpha", "2"], mentioning: ["α must lie in [0, 1]", "2.0"])
        try CLI.fail(["experiment", "ddpm", "--out", out, "--verification-steps", "200,x"], mentioning: ["--verification-steps '200,x'"])
        try CLI.fail(["experiment", "ddpm", "--out", out, "--thief-queries", "0"], mentioning: ["the thieves need ≥ 1 query"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/victim.safetensors"))
    }
}
