import Datasets
import Honeytrace
import Prediction
import Stats
import TensorEngine
import Training
import XCTest

/// A suspect that answers by a rule on each image: a one-hot row of the rule's label, or, for a
/// label outside the classes, a malformed row of that many values.
final class ScriptedSuspect: PredictionAPI {
    let name: String
    let inputShape: [Int]
    let classes: Int
    let rule: ([Float]) -> Int
    private(set) var queries = 0

    init(_ name: String, inputShape: [Int] = [1, 16, 16], classes: Int = 10, rule: @escaping ([Float]) -> Int) {
        self.name = name
        self.inputShape = inputShape
        self.classes = classes
        self.rule = rule
    }

    var answerMode: AnswerMode { .label }

    func answer(_ pixels: Tensor) throws -> [[Float]] {
        let size = pixels.count / max(pixels.shape[0], 1), values = pixels.scalars
        queries += pixels.shape[0]
        return (0..<pixels.shape[0]).map {
            let label = rule(Array(values[($0 * size)..<(($0 + 1) * size)]))
            var row = [Float](repeating: 0, count: (0..<classes).contains(label) ? classes : max(label, 0))
            if row.indices.contains(label) { row[label] = 1 }
            return row
        }
    }
}

final class VerificationTests: XCTestCase {
    let fixture = Fixture.shared

    func setup(count: Int = 200) throws -> (WatermarkKey, TriggerSet, ScriptedSuspect, ScriptedSuspect, ScriptedSuspect, [ScriptedSuspect]) {
        let key = try fixture.key()
        let triggers = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: count, seed: 17)
        let triggerImages = Set((0..<count).map { Array(triggers.triggers[($0 * 256)..<(($0 + 1) * 256)]) })
        let oracle = ScriptedSuspect("oracle") { triggerImages.contains($0) ? 9 : 4 }
        let never = ScriptedSuspect("never") { _ in 4 }
        let biased = ScriptedSuspect("biased") { _ in 9 }
        // References answer t on about 1 % of images, by a fixed rule on the pixels.
        let references = (0..<2).map { r in
            ScriptedSuspect("reference-\(r)") { img in Int(img.reduce(0, +) * 1000 + Float(r)) % 100 == 0 ? 9 : 4 }
        }
        return (key, triggers, oracle, never, biased, references)
    }

    func testTriggersAvoidTheKeysImages() throws {
        let key = try fixture.key()
        let triggers = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 100, seed: 1)
        let used = Set(key.creation.sourceIndices)
        XCTAssertFalse(used.isEmpty)
        XCTAssertTrue(Set(triggers.baseIndices + triggers.donorIndices + triggers.controlDonorIndices).isDisjoint(with: used))
        // verify --pairs 1e12: refused before allocating the pairs.
        assertThrows(try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 1_000_000_000_000, seed: 1),
                     mentioning: ["1000000000000 trigger/control pairs", "ask for fewer"])
    }

    func testAlwaysTargetOnTriggersIsStolenAndNeverIsNot() throws {
        let (key, triggers, oracle, never, biased, references) = try setup()
        let verifier = try OwnershipVerifier(key: key, triggers: triggers)
        let stolen = try verifier.verify(suspect: oracle, references: references)
        XCTAssertEqual(stolen.verdict, .stolen)
        XCTAssertEqual(stolen.rawWSR, 1)
        XCTAssertEqual(stolen.controlRate, 0)
        XCTAssertEqual(stolen.specificWSR, 1)
        XCTAssertLessThanOrEqual(stolen.pValue, 1e-4)
        XCTAssertEqual(stolen.queriesSpent, 400)
        XCTAssertEqual(oracle.queries, 400)
        XCTAssertEqual(stolen.pairs, 200)
        XCTAssertEqual(stolen.references.count, 2)
        XCTAssertNotNil(stolen.welchPValue)
        XCTAssertLessThan(stolen.welchPValue!, 1e-10)
        let refRate = try XCTUnwrap(stolen.referenceRate)
        XCTAssertLessThan(refRate, 0.1)
        XCTAssertEqual(stolen.exclusiveWSR!, 1 - refRate, accuracy: 0.1)
        XCTAssertNotNil(stolen.queriesNeededEq2)
        XCTAssertNotNil(stolen.queriesNeededExact)

        let clean = try verifier.verify(suspect: never, references: references)
        XCTAssertEqual(clean.verdict, .notStolen)
        XCTAssertEqual(clean.rawWSR, 0)
        XCTAssertEqual(clean.binomialPValue, 1, accuracy: 1e-9)
        XCTAssertNil(clean.queriesNeededEq2)

        // A model merely biased toward t answers t on controls too: the McNemar test refuses the claim.
        let bias = try verifier.verify(suspect: biased, references: references)
        XCTAssertEqual(bias.rawWSR, 1)
        XCTAssertLessThan(bias.binomialPValue, 1e-4)
        XCTAssertEqual(bias.mcnemarPValue, 1)
        XCTAssertEqual(bias.specificWSR, 0)
        XCTAssertEqual(bias.verdict, .notStolen)

        // Without references the null rate is chance, and a perfect watermark still wins.
        let alone = try verifier.verify(suspect: oracle)
        XCTAssertEqual(alone.verdict, .stolen)
        XCTAssertEqual(alone.nullRate, 0.1, accuracy: 1e-12)
        XCTAssertNil(alone.exclusiveWSR)
    }

    func testReportedPValuesFollowTheDocumentedRule() throws {
        let (key, triggers, _, _, _, _) = try setup(count: 10)
        let verifier = try OwnershipVerifier(key: key, triggers: triggers)
        let hits = [true, true, true, true, true, false, false, false, false, false]
        let report = try verifier.analyze(suspect: "s", triggerHits: hits, controlHits: [Bool](repeating: false, count: 10),
                                          references: [("r", [Bool](repeating: false, count: 10), [Bool](repeating: false, count: 10))])
        let gamma = 1e-5
        let p0 = clopperPearsonUpperBound(successes: 0, trials: 10, confidence: 1 - gamma)
        XCTAssertEqual(report.nullRate, p0, accuracy: 1e-12)
        XCTAssertEqual(p0, 1 - pow(gamma, 0.1), accuracy: 1e-9)
        XCTAssertEqual(report.binomialPValue, try exactBinomialTest(successes: 5, trials: 10, nullRate: p0).pValue + gamma, accuracy: 1e-12)
        XCTAssertEqual(report.mcnemarPValue, 1.0 / 32, accuracy: 1e-12)
        XCTAssertEqual(report.pValue, max(report.binomialPValue, report.mcnemarPValue))
        XCTAssertEqual(report.verdict, .notStolen)
        XCTAssertEqual(report.exclusiveWSR, 0.5)
        XCTAssertEqual(report.queriesNeededEq2, QueriesNeeded.paperEq2(wsr: 0.5))
        XCTAssertEqual(report.queriesSpent, 20)
    }

    /// A clean model the mark itself nudges toward t (40 of 500 triggers, 0 controls; fmnist-cnn
    /// models answered 9 on 25 of 500 7×7 white-block triggers) against a reference that never
    /// answers t: McNemar rejects, and only the chance floor of the null rate keeps the verdict
    /// from a false claim.
    func testNullRateFloorKeepsAMarkSensitiveCleanModelFromAFalseClaim() throws {
        let (key, triggers, _, _, _, _) = try setup(count: 500)
        var verifier = try OwnershipVerifier(key: key, triggers: triggers)
        XCTAssertEqual(verifier.nullRateFloor, 0.1)
        let hits = (0..<500).map { $0 < 40 }, none = [Bool](repeating: false, count: 500)
        let floored = try verifier.analyze(suspect: "clean", triggerHits: hits, controlHits: none, references: [("r", none, none)])
        XCTAssertLessThan(floored.mcnemarPValue, 1e-4)
        XCTAssertEqual(floored.nullRate, 0.1)
        XCTAssertTrue(floored.nullRateRule.contains("floor"), floored.nullRateRule)
        XCTAssertEqual(floored.verdict, .notStolen)
        verifier.nullRateFloor = 0  // docs/algorithms.md §4's reference-only rule
        let bare = try verifier.analyze(suspect: "clean", triggerHits: hits, controlHits: none, references: [("r", none, none)])
        XCTAssertEqual(bare.nullRate, clopperPearsonUpperBound(successes: 0, trials: 500, confidence: 1 - 1e-5), accuracy: 1e-12)
        XCTAssertEqual(bare.verdict, .stolen)
    }

    func testSequentialModeStopsEarlyOnAStrongSuspect() throws {
        let (key, triggers, oracle, never, _, references) = try setup(count: 500)
        let verifier = try OwnershipVerifier(key: key, triggers: triggers)
        let strong = try verifier.verifySequential(suspect: oracle, references: references, batchSize: 20)
        XCTAssertEqual(strong.verdict, .stolen)
        XCTAssertEqual(strong.mode, .sequential)
        XCTAssertEqual(strong.pairs, 20)
        XCTAssertEqual(strong.queriesSpent, 40)
        XCTAssertEqual(oracle.queries, 40)
        XCTAssertLessThanOrEqual(strong.pValue, 1e-4)

        let weak = try verifier.verifySequential(suspect: never, references: references, batchSize: 20, maxPairs: 300)
        XCTAssertEqual(weak.verdict, .notStolen)
        XCTAssertEqual(weak.pairs, 300)
        XCTAssertEqual(never.queries, 600)
    }

    func testSuspectWithWrongShapeOrClassCountIsRefused() throws {
        let (key, triggers, _, _, _, _) = try setup(count: 10)
        let verifier = try OwnershipVerifier(key: key, triggers: triggers)
        let big = ScriptedSuspect("big-images", inputShape: [1, 28, 28]) { _ in 0 }
        assertThrows(try verifier.verify(suspect: big), mentioning: ["big-images", "[1, 28, 28]", "[1, 16, 16]"])
        let five = ScriptedSuspect("five-classes", classes: 5) { _ in 0 }
        assertThrows(try verifier.verify(suspect: five), mentioning: ["five-classes", "5 classes", "10"])
        assertThrows(try verifier.verifySequential(suspect: five), mentioning: ["5 classes"])
        // A real model directory of another shape.
        let other = ModelAPI(model: Fixture.trainModel(on: SyntheticData.make(count: 32, height: 28, width: 28), seed: 3), answerMode: .label, name: "dir-28")
        assertThrows(try verifier.verify(suspect: other), mentioning: ["dir-28", "[1, 28, 28]"])
        // A suspect answering garbage.
        let liar = ScriptedSuspect("liar") { _ in 42 }
        assertThrows(try verifier.verify(suspect: liar), mentioning: ["liar", "42 values", "expected 10 classes"])
    }

    func testLocalModelsRunThroughTheVerifier() throws {
        let key = try fixture.key()
        let triggers = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 60, seed: 2)
        let verifier = try OwnershipVerifier(key: key, triggers: triggers)
        let suspect = ModelAPI(model: fixture.victim, answerMode: .label, name: "victim")
        let reference = ModelAPI(model: fixture.independent, answerMode: .label, name: "independent")
        let report = try verifier.verify(suspect: suspect, references: [reference])
        XCTAssertEqual(report.pairs, 60)
        XCTAssertEqual(report.queriesSpent, 120)
        XCTAssertEqual(suspect.queriesAnswered, 120)
        XCTAssertEqual(report.references.first?.pairs, 60)
        XCTAssertEqual(report.specificWSR, report.rawWSR - report.controlRate, accuracy: 1e-12)
        // The defended API itself, at a large offset, answers t on its watermarks' neighbours.
        var config = key.defense
        config.offset = 1e6
        let defended = try DefendedModel(model: fixture.victim, key: key, configuration: config)
        let own = try verifier.verify(suspect: defended, references: [reference])
        XCTAssertGreaterThan(own.rawWSR, 0.5)
    }
}
