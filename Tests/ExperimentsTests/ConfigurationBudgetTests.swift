import Experiments
import Foundation
import XCTest

/// The accuracy budgets of a configuration are percentage points; the fraction fields they
/// replaced are still read as fractions (×100) and named for a warning, never misread.
final class ConfigurationBudgetTests: XCTestCase {
    func json(_ configuration: ExperimentConfiguration) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(configuration)) as? [String: Any])
    }

    func decode(_ object: [String: Any]) throws -> ExperimentConfiguration {
        try JSONDecoder().decode(ExperimentConfiguration.self, from: try JSONSerialization.data(withJSONObject: object))
    }

    func testBudgetsArePointsAndOldFractionsAreConverted() throws {
        let preset = try ExperimentConfiguration.preset("heldout-fmnist-cnn-v1")
        XCTAssertEqual(preset.accuracyBudgetPoints, 0.5)
        XCTAssertEqual(preset.heavyClient?.accuracyBudgetPoints, 15)
        var object = try json(preset)
        XCTAssertEqual(object["accuracyBudgetPoints"] as? Double, 0.5)
        XCTAssertNil(object["calibrationBudget"])
        XCTAssertEqual(try decode(object), preset, "a configuration reads back as written")

        // An old configuration: fractions under the old names mean the same budgets.
        object["calibrationBudget"] = 0.005
        object["accuracyBudgetPoints"] = nil
        var heavy = try XCTUnwrap(object["heavyClient"] as? [String: Any])
        heavy["budget"] = 0.15
        heavy["accuracyBudgetPoints"] = nil
        object["heavyClient"] = heavy
        let old = try decode(object)
        XCTAssertEqual(old.accuracyBudgetPoints, 0.5)
        XCTAssertEqual(old.heavyClient?.accuracyBudgetPoints, 15)
        XCTAssertEqual(old, preset)
        let warnings = ExperimentConfiguration.deprecatedFields(in: try JSONSerialization.data(withJSONObject: object))
        XCTAssertEqual(warnings.count, 2)
        XCTAssertTrue(warnings[0].contains("'calibrationBudget'") && warnings[0].contains("\"accuracyBudgetPoints\": 0.5"), warnings[0])
        XCTAssertTrue(warnings[1].contains("heavyClient.accuracyBudgetPoints\": 15"), warnings[1])
        XCTAssertEqual(ExperimentConfiguration.deprecatedFields(in: try JSONEncoder().encode(preset)), [])

        // Both names at once, or neither: an error naming the new field.
        object["accuracyBudgetPoints"] = 0.5
        XCTAssertThrowsError(try decode(object)) { XCTAssertTrue("\($0)".contains("keep 'accuracyBudgetPoints' only"), "\($0)") }
        object["accuracyBudgetPoints"] = nil
        object["calibrationBudget"] = nil
        XCTAssertThrowsError(try decode(object)) { XCTAssertTrue("\($0)".contains("accuracyBudgetPoints"), "\($0)") }

        // Points beyond 100 (a fraction misplaced, or a typo) are refused by name.
        var wrong = preset
        wrong.accuracyBudgetPoints = 150
        XCTAssertThrowsError(try wrong.validate()) { XCTAssertTrue("\($0)".contains("accuracyBudgetPoints must lie in [0, 100)"), "\($0)") }
    }

    /// A manifest committed before the rename (docs/results) still reads, with its budget in points.
    func testCommittedManifestReadsInPoints() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/results/heldout/fmnist-cnn-v1/manifest.json")
        guard let data = FileManager.default.contents(atPath: file.standardizedFileURL.path) else { throw XCTSkip("no committed manifest") }
        let manifest = try JSONDecoder().decode(ExperimentManifest.self, from: data)
        XCTAssertEqual(manifest.configuration.accuracyBudgetPoints, 0.5)
        XCTAssertEqual(manifest.configuration.heavyClient?.accuracyBudgetPoints, 10)
    }
}
