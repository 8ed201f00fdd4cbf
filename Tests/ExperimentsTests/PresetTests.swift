import Experiments
import Foundation
import XCTest

/// The presets' settings against the tables committed under docs/results: `--preset fmnist` must
/// rerun exactly the grid whose table is published, or the published numbers no longer describe it.
final class PresetTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testFashionMNISTPresetIsThePublishedTable2Grid() throws {
        let manifestURL = Self.repositoryRoot.appendingPathComponent("docs/results/fmnist-timed/manifest.json")
        let manifest = try JSONDecoder().decode(ExperimentManifest.self, from: Data(contentsOf: manifestURL))
        var preset = try ExperimentConfiguration.preset("fmnist")
        preset.victim.directory = manifest.configuration.victim.directory  // the run named its victim with --victim
        XCTAssertEqual(preset, manifest.configuration)
        XCTAssertEqual(preset.attacks.count, 10)
        XCTAssertEqual(preset.defense?.flippingPower, 1)
        XCTAssertEqual(preset.defense?.outOfDistributionGate, 0.97)
        XCTAssertEqual(preset.budget, 20_000)
        XCTAssertNoThrow(try preset.validate())
    }

    func testEveryPresetValidatesAndAnUnknownNameIsRefused() throws {
        for name in ["smoke", "demo", "fmnist", "fmnist-quick"] {
            XCTAssertNoThrow(try ExperimentConfiguration.preset(name).validate(), name)
        }
        XCTAssertThrowsError(try ExperimentConfiguration.preset("fmnist-full")) { error in
            XCTAssertTrue("\(error)".contains("unknown preset 'fmnist-full'"), "\(error)")
        }
    }
}
