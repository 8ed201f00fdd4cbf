import Datasets
import Formats
import Foundation
import Honeytrace
import Prediction
import TensorEngine
import Training
import XCTest

/// Offline verification: exported queries, answers read back from files, and the verdict they
/// give against a live query of the same suspect.
final class OfflineVerificationTests: XCTestCase {
    let fixture = Fixture.shared

    /// A suspect answering t on about 80 % of triggers and on a few controls (a fixed rule on the pixels).
    func thief(_ triggers: TriggerSet) -> ScriptedSuspect {
        let size = triggers.imageSize
        let marked = Set((0..<triggers.count).filter { $0 % 5 != 0 }.map { Array(triggers.triggers[($0 * size)..<(($0 + 1) * size)]) })
        return ScriptedSuspect("thief") { img in marked.contains(img) || Int(img.reduce(0, +) * 1000) % 25 == 0 ? 9 : 4 }
    }

    /// The labels `suspect` gives the exported queries, in their order.
    func labels(_ suspect: PredictionAPI, _ queries: OfflineQueries) throws -> [Int] {
        try suspect.labels(for: Tensor(queries.pixels(), shape: [queries.count] + queries.triggers.imageShape))
    }

    func testAnswersToExportedQueriesGiveTheLiveVerdict() throws {
        let key = try fixture.key()
        let dir = try scratchDirectory(self) + "/export"
        let triggers = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 40, seed: 3)
        let queries = OfflineQueries(triggers: triggers, secret: key.secret, seed: 3)
        XCTAssertEqual(queries.count, 80)
        XCTAssertEqual(Set(queries.slots.map(\.pair)).count, 40)
        XCTAssertNotEqual(queries.slots.prefix(4).map(\.isTrigger), [true, false, true, false], "triggers and controls are shuffled")
        let manifest = try QueryExport.write(queries, key: key, heldOut: DataFingerprint(fixture.heldOut), to: dir)
        XCTAssertEqual(manifest.signed.images.count, 80)
        XCTAssertEqual(try NPY.read(path: dir + "/queries.npy").shape, [80, 1, 16, 16])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/images/q00079.png"))

        let (reopened, _) = try QueryExport.open(dir, key: key, heldOut: fixture.heldOut)
        XCTAssertEqual(reopened.slots, queries.slots)
        let verifier = try OwnershipVerifier(key: key, triggers: reopened.triggers)
        let reference = ScriptedSuspect("reference") { img in Int(img.reduce(0, +) * 1000) % 50 == 0 ? 9 : 4 }
        let refs = [try verifier.answers(of: reference)]
        let live = thief(triggers)
        let liveReport = try verifier.verify(suspect: live, references: [reference])
        XCTAssertEqual(liveReport.verdict, .stolen)

        let given = try labels(live, queries)
        let csv = "index,label\n" + given.enumerated().reversed().map { "\($0),\($1)" }.joined(separator: "\n")
        let probabilities = "[" + given.map { l in "[" + (0..<10).map { $0 == l ? "0.91" : "0.01" }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        for (name, text) in [("labels.json", "\(given)"), ("answers.csv", csv), ("probabilities.json", probabilities),
                             ("predict.json", "{\"labels\": \(given)}")] {
            let answers = try AnswerFile.parse(text, path: name, count: 80, classes: 10)
            let suspect = try reopened.recordedSuspect(answers, classes: 10)
            var offline = try verifier.analyze(suspect: try verifier.answers(of: suspect), references: refs)
            XCTAssertEqual(offline.suspect, name)
            offline.suspect = liveReport.suspect
            XCTAssertEqual(offline, liveReport, name)
            var sequential = try verifier.verifySequential(suspect: suspect, answered: refs)
            sequential.suspect = "thief"
            XCTAssertEqual(sequential, try verifier.verifySequential(suspect: thief(triggers), answered: refs), name)
        }
        // Answers recorded for other queries are refused, not guessed.
        let otherTriggers = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 40, seed: 4)
        let stranger = try reopened.recordedSuspect(try AnswerFile.parse("\(given)", path: "a.json", count: 80, classes: 10), classes: 10)
        assertThrows(try OwnershipVerifier(key: key, triggers: otherTriggers).verify(suspect: stranger), mentioning: ["a.json", "no answer for this query"])
    }

    func testAChangedExportIsRefusedNamingWhatChanged() throws {
        let key = try fixture.key()
        let root = try scratchDirectory(self)
        let dir = root + "/export"
        let triggers = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 5, seed: 1)
        try QueryExport.write(OfflineQueries(triggers: triggers, secret: key.secret, seed: 1), key: key, heldOut: DataFingerprint(fixture.heldOut), to: dir)
        // Nothing already written is overwritten.
        assertThrows(try QueryExport.write(OfflineQueries(triggers: triggers, secret: key.secret, seed: 1), key: key,
                                           heldOut: DataFingerprint(fixture.heldOut), to: dir), mentioning: [dir, "not empty"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["export"], "no temporary directory is left behind")

        let other = try fixture.key(seed: 6)
        assertThrows(try QueryExport.open(dir, key: other, heldOut: fixture.heldOut), mentioning: ["manifest.json", "fingerprint"])
        let png = dir + "/images/q00003.png"
        let original = try Data(contentsOf: URL(fileURLWithPath: png))
        try Data(original.dropLast()).write(to: URL(fileURLWithPath: png))
        assertThrows(try QueryExport.open(dir, key: key, heldOut: fixture.heldOut), mentioning: ["q00003.png", "changed since the export"])
        try original.write(to: URL(fileURLWithPath: png))
        let manifestPath = dir + "/manifest.json"
        let signed = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
        var changed = try QueryManifest.load(manifestPath)
        changed.signed.seed = 2
        try changed.encoded().write(to: URL(fileURLWithPath: manifestPath))
        assertThrows(try QueryExport.open(dir, key: key, heldOut: fixture.heldOut), mentioning: ["manifest.json", "signature does not hold"])
        try signed.write(to: URL(fileURLWithPath: manifestPath))
        XCTAssertNoThrow(try QueryExport.open(dir, key: key, heldOut: fixture.heldOut))
        try Data(#"{"signature": {}}"#.utf8).write(to: URL(fileURLWithPath: root + "/manifest.json"))
        assertThrows(try QueryManifest.load(root + "/manifest.json"), mentioning: ["manifest.json", "field signed is missing"])
        // The same key and seed on other held-out data make other queries.
        assertThrows(try QueryExport.open(dir, key: key, heldOut: fixture.train), mentioning: ["queries.npy", "now give other queries"])
    }

    func testMalformedAnswersNameTheirPlace() {
        func refused(_ text: String, _ words: [String], line: UInt = #line) {
            assertThrows(try AnswerFile.parse(text, path: "ans.csv", count: 3, classes: 10), mentioning: ["ans.csv"] + words, line: line)
        }
        refused("0,1\n1,2", ["3 answers expected", "found 2", "no answer for index 2"])
        refused("[1, 2]", ["3 answers expected", "found 2"])
        refused("0,1\n1,12\n2,3", ["line 2, field 2", "label 0…9", "'12'"])
        refused("[1, 10, 2]", ["[1]", "label 0…9", "found 10"])
        refused("[1, 2.5, 2]", ["[1]", "found 2.5"])
        refused("0,1\n1,2\n0,3", ["line 3", "index 0 answered twice", "line 1"])
        refused("0,1\n1,2\n3,3", ["line 3, field 1", "index 0…2", "'3'"])
        refused("0,1\n1;2\n2,3", ["line 2", "rows before have 2"])
        refused("0,1,2,3\n", ["line 1", "found 4 fields"])
        let row = (0..<10).map { _ in "0.1" }
        refused("0,\(row.joined(separator: ","))\n1,\(row.joined(separator: ","))\n2,nan,\(row.dropFirst().joined(separator: ","))",
                ["line 3, field 2", "finite probability", "'nan'"])
        refused("[[\(row.joined(separator: ","))], [\(row.joined(separator: ","))], [NaN, \(row.dropFirst().joined(separator: ","))]]",
                ["[2][0]", "finite probability", "NaN"])
        refused("[[0.5, 0.5], [1], [2]]", ["[0]", "row of 10 probabilities", "an array of 2"])
        refused("{\"scores\": [1]}", ["\"labels\"", "scores"])
        refused("[1, 2", ["not valid JSON"])
        XCTAssertEqual(try AnswerFile.parse("# predict\n4\n\n9\n4\n", path: "p.txt", count: 3, classes: 10).rows.map(ProbabilityRow.argmax), [4, 9, 4])
        assertThrows(try AnswerFile.load("/nonexistent/answers.csv", count: 3, classes: 10), mentioning: ["/nonexistent/answers.csv", "no such answers file"])
    }
}
