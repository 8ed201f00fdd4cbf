import Foundation
import Honeytrace
import Prediction
import XCTest

/// The JSON object `verify --json` prints per suspect, and the exit status of a run.
final class VerdictRecordTests: XCTestCase {
    let fixture = Fixture.shared

    func testVerdictRecordsCarryTheSharedFieldsAndSetTheExitStatus() throws {
        let key = try fixture.key()
        let triggers = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 30, seed: 3)
        let size = triggers.imageSize
        let marked = Set((0..<triggers.count).map { Array(triggers.triggers[($0 * size)..<(($0 + 1) * size)]) })
        let report = try OwnershipVerifier(key: key, triggers: triggers).verify(suspect: ScriptedSuspect("oracle") { marked.contains($0) ? 9 : 4 })
        let record = VerdictRecord(suspect: "dir", evidence: report.evidence, report: report)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(record)) as? [String: Any])
        XCTAssertEqual(object["verdict"] as? String, "stolen")
        XCTAssertEqual(object["is_stolen"] as? Bool, true)
        // (JSON round trips of Foundation on Linux may move the last digit.)
        XCTAssertEqual(object["p_value"] as? Double ?? -1, report.pValue, accuracy: report.pValue * 1e-12)
        XCTAssertEqual(object["score"] as? Double ?? -1, report.specificWSR, accuracy: 1e-12)
        XCTAssertEqual(object["score_name"] as? String, "specific WSR")
        XCTAssertEqual(object["watermark"] as? String, "neural-honeytrace")
        XCTAssertEqual(object["queries"] as? Int, 60)
        XCTAssertEqual(object["pValue"] as? Double ?? -1, report.pValue, accuracy: report.pValue * 1e-12, "the report's own fields stay")
        let failed = VerdictRecord(suspect: "gone", error: "gone: no such model directory")
        let failedObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(failed)) as? [String: Any])
        XCTAssertEqual(failedObject["verdict"] as? String, "error")
        XCTAssertEqual(failedObject["error"] as? String, "gone: no such model directory")

        var clean = report
        clean.verdict = .notStolen
        let notStolen = VerdictRecord(suspect: "b", evidence: clean.evidence, report: clean)
        XCTAssertEqual(VerdictRecord.exitStatus(of: [notStolen]), 0)
        XCTAssertEqual(VerdictRecord.exitStatus(of: [notStolen, record]), 2)
        XCTAssertEqual(VerdictRecord.exitStatus(of: [record, failed]), 1, "an error takes precedence")
    }
}
