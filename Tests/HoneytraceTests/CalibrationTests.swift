import Foundation
import Datasets
import Honeytrace
import TensorEngine
import Training
import XCTest

final class CalibrationTests: XCTestCase {
    let fixture = Fixture.shared

    func testCalibrationKeepsTheAccuracyDropWithinBudgetAndMatchesTheDeployedDefense() throws {
        let key = try fixture.key()
        let result = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               outOfDistribution: fixture.ood, options: .init(budgetPoints: 0.5))
        XCTAssertGreaterThanOrEqual(result.candidates.count, 17)
        XCTAssertLessThanOrEqual(result.chosen.accuracyDropPoints, 0.5 + 1e-9)
        XCTAssertTrue(result.chosen.withinBudget)
        XCTAssertTrue(result.candidates.contains { !$0.withinBudget }, "the grid should reach settings beyond the budget")
        XCTAssertEqual(result.configuration.offset, result.chosen.offset)
        // The deployed defense reproduces the calibration's figures exactly (same keyed draws).
        let defense = try HoneytraceDefense(key: key, configuration: result.configuration)
        let id = try DefenseStatistics.measure(defense: defense, model: fixture.victim, on: fixture.heldOut)
        XCTAssertEqual(id.defendedAccuracy, result.chosen.defendedAccuracy, accuracy: 1e-12)
        XCTAssertEqual(id.bareAccuracy, result.bareAccuracy, accuracy: 1e-12)
        XCTAssertLessThanOrEqual(id.bareAccuracy - id.defendedAccuracy, 0.005 + 1e-12)
        let ood = try DefenseStatistics.measure(defense: defense, model: fixture.victim, on: fixture.ood)
        XCTAssertEqual(ood.fractionFlipped, result.chosen.oodFractionFlipped!, accuracy: 1e-12)
        XCTAssertEqual(ood.fractionMixed, result.chosen.oodFractionMixed!, accuracy: 1e-12)
        XCTAssertEqual(ood.meanSimilarity, result.chosen.oodMeanSimilarity!, accuracy: 1e-6)

        // A looser budget never gives a weaker signal.
        let loose = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                              outOfDistribution: fixture.ood, options: .init(budgetPoints: 5))
        XCTAssertGreaterThanOrEqual(loose.chosen.oodFractionFlipped!, result.chosen.oodFractionFlipped!)
    }

    /// With a confidence, the budget binds the upper bound of the share turned wrong, so the
    /// chosen setting touches no more than the point-estimate one and its bound is within budget.
    func testConfidenceBoundIsMoreCautiousThanThePointEstimate() throws {
        let key = try fixture.key()
        let plain = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                              outOfDistribution: fixture.ood, options: .init(budgetPoints: 2))
        let bounded = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                                outOfDistribution: fixture.ood, options: .init(budgetPoints: 2, confidence: 0.95))
        XCTAssertNil(plain.chosen.accuracyDropBoundPoints)
        let bound = try XCTUnwrap(bounded.chosen.accuracyDropBoundPoints)
        XCTAssertLessThanOrEqual(bound, 2 + 1e-10)
        XCTAssertGreaterThanOrEqual(bound, bounded.chosen.accuracyDropPoints)
        XCTAssertLessThanOrEqual(bounded.chosen.fractionFlipped, plain.chosen.fractionFlipped)
        for c in bounded.candidates { XCTAssertEqual(c.withinBudget, c.accuracyDropBoundPoints! <= 2 + 1e-10, "d = \(c.offset)") }
        // Hand check of one bound: 0 of 400 rows turned wrong gives 1 − 0.05^(1/400).
        if let untouched = bounded.candidates.first(where: { $0.fractionMixed == 0 }) {
            XCTAssertEqual(untouched.accuracyDropBoundPoints!, 100 * (1 - pow(0.05, 1.0 / 400)), accuracy: 1e-7)
        }
        assertThrows(try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               options: .init(confidence: 1.5)), mentioning: ["confidence", "1.5"])
    }

    func testOutOfDistributionGateIsKeptAndTheDeployedDefenseMatches() throws {
        var key = try fixture.key()
        key.defense.outOfDistributionGate = 0.9
        let result = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               outOfDistribution: fixture.ood, options: .init(budgetPoints: 0.5))
        XCTAssertEqual(result.configuration.outOfDistributionGate, 0.9)
        XCTAssertLessThanOrEqual(result.chosen.accuracyDropPoints, 0.5 + 1e-9)
        let defense = try HoneytraceDefense(key: key, configuration: result.configuration)
        let id = try DefenseStatistics.measure(defense: defense, model: fixture.victim, on: fixture.heldOut)
        XCTAssertEqual(id.defendedAccuracy, result.chosen.defendedAccuracy, accuracy: 1e-12)
        let ood = try DefenseStatistics.measure(defense: defense, model: fixture.victim, on: fixture.ood)
        XCTAssertEqual(ood.fractionFlipped, result.chosen.oodFractionFlipped!, accuracy: 1e-12)
        // Even with d so large that every row would be touched, only held-out rows unlike the key's own
        // in-distribution features (about 10 % at the 0.9 quantile) are; the noise images all are.
        var wide = result.configuration
        wide.offset = 1e6
        let all = try HoneytraceDefense(key: key, configuration: wide)
        let gatedID = try DefenseStatistics.measure(defense: all, model: fixture.victim, on: fixture.heldOut)
        XCTAssertGreaterThan(gatedID.fractionMixed, 0.02)
        XCTAssertLessThan(gatedID.fractionMixed, 0.25)
        XCTAssertEqual(try DefenseStatistics.measure(defense: all, model: fixture.victim, on: fixture.ood).fractionMixed, 1)
    }

    func testPowerGridsAndForcing() throws {
        let key = try fixture.key()
        let result = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               outOfDistribution: fixture.ood,
                                               options: .init(mixingPowers: [1, 2], flippingPowers: [2, 3], gridSize: 5, refinementSteps: 2))
        XCTAssertEqual(Set(result.candidates.map { "\($0.mixingPower)/\($0.flippingPower)" }).count, 4)
        XCTAssertLessThanOrEqual(result.chosen.accuracyDropPoints, 0.5 + 1e-9)
        assertThrows(try Calibration.calibrate(key: key, model: fixture.independent, inDistribution: fixture.heldOut), mentioning: ["SHA-256"])
        XCTAssertNoThrow(try Calibration.calibrate(key: key, model: fixture.independent, inDistribution: fixture.heldOut,
                                                   options: .init(gridSize: 3, refinementSteps: 0), force: true))
    }

    func testDefenseStatisticsAndBenchmark() throws {
        let key = try fixture.key()
        var config = key.defense
        config.offset = -1e6  // touches nothing
        let off = try HoneytraceDefense(key: key, configuration: config)
        let stats = try DefenseStatistics.measure(defense: off, model: fixture.victim, on: fixture.heldOut, batchSize: 100)
        XCTAssertEqual(stats.rows, 400)
        XCTAssertEqual(stats.defendedAccuracy, stats.bareAccuracy)
        XCTAssertEqual(stats.fractionMixed, 0)
        XCTAssertEqual(stats.fractionChanged, 0)
        XCTAssertGreaterThan(stats.bareAccuracy, 0.5)

        config.offset = 1e6  // s = 1 everywhere: everything flipped to the target
        let all = try HoneytraceDefense(key: key, configuration: config)
        let flipped = try DefenseStatistics.measure(defense: all, model: fixture.victim, on: fixture.ood)
        XCTAssertEqual(flipped.fractionFlipped, 1)
        XCTAssertGreaterThan(flipped.defendedTargetRate, 0.9)

        let bench = try DefenseBenchmark.measure(model: fixture.victim, defense: all, batchSize: 16, iterations: 2, warmup: 0)
        XCTAssertTrue(bench.overheadPercent.isFinite && bench.overheadPercent > 0)
        XCTAssertEqual(bench.fractionMixed, 1)
    }

    /// Budgets and drops are percentage points in the library and its files; a calibration
    /// written when they were fractions reads ×100, and a file with both names is refused.
    func testCalibrationFiguresAreInPointsAndOldFractionFilesReadTimesOneHundred() throws {
        let key = try fixture.key()
        let result = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               outOfDistribution: fixture.ood, options: .init(budgetPoints: 2, confidence: 0.95))
        XCTAssertEqual(result.budgetPoints, 2)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as! [String: Any]
        XCTAssertEqual(json["budgetPoints"] as? Double, 2)
        XCTAssertNil(json["budget"])
        let chosen = try XCTUnwrap(json["chosen"] as? [String: Any])
        XCTAssertEqual(chosen["accuracyDropPoints"] as? Double, result.chosen.accuracyDropPoints)
        XCTAssertNil(chosen["accuracyDrop"])
        XCTAssertEqual(try JSONDecoder().decode(CalibrationResult.self, from: JSONEncoder().encode(result)), result)

        // The same result as an older file: fractions under the old names.
        func old(_ c: [String: Any]) -> [String: Any] {
            var c = c
            c["accuracyDrop"] = (c.removeValue(forKey: "accuracyDropPoints") as! Double) / 100
            c["accuracyDropBound"] = (c.removeValue(forKey: "accuracyDropBoundPoints") as! Double) / 100
            return c
        }
        var legacy = json
        legacy["budget"] = 0.02
        legacy.removeValue(forKey: "budgetPoints")
        legacy["chosen"] = old(chosen)
        legacy["candidates"] = (json["candidates"] as! [[String: Any]]).map(old)
        let read = try JSONDecoder().decode(CalibrationResult.self, from: JSONSerialization.data(withJSONObject: legacy))
        XCTAssertEqual(read.budgetPoints, 2)
        XCTAssertEqual(read.chosen.accuracyDropPoints, result.chosen.accuracyDropPoints, accuracy: 1e-9)
        XCTAssertEqual(read.chosen.accuracyDropBoundPoints!, result.chosen.accuracyDropBoundPoints!, accuracy: 1e-9)

        legacy["budgetPoints"] = 2
        XCTAssertThrowsError(try JSONDecoder().decode(CalibrationResult.self, from: JSONSerialization.data(withJSONObject: legacy))) {
            XCTAssertTrue("\($0)".contains("budgetPoints") && "\($0)".contains("keep"), "\($0)")
        }
        assertThrows(try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               options: .init(budgetPoints: 100)), mentioning: ["100", "points"])
    }

    /// The progress hook sees every step once, in order, ending at the total.
    func testCalibrationReportsProgressToTheEnd() throws {
        final class Steps: @unchecked Sendable { var seen: [(Int, Int)] = [] }
        let steps = Steps()
        _ = try Calibration.calibrate(key: try fixture.key(), model: fixture.victim, inDistribution: fixture.heldOut, outOfDistribution: fixture.ood,
                                      options: .init(mixingPowers: [1, 2], flippingPowers: [2, 3], gridSize: 5, refinementSteps: 1,
                                                     progress: { steps.seen.append(($0, $1)) }))
        XCTAssertEqual(steps.seen.map(\.0), Array(0...6))
        XCTAssertTrue(steps.seen.allSatisfy { $0.1 == 6 })
    }
}


/// The owner builds keys and calibrations only from its own data.
final class OwnerDataTests: XCTestCase {
    let fixture = Fixture.shared

    func testKeyCreationAndCalibrationRefuseAnAttackersPool() throws {
        let pool = fixture.heldOut.withRole(.attackerPool)
        assertThrows(try WatermarkKey.create(model: fixture.victim, heldOut: pool, seed: 1),
                     mentioning: ["synthetic-held-out", "attacker", "watermark key"])
        assertThrows(try WatermarkKey.create(model: fixture.victim, heldOut: fixture.heldOut, bankData: pool, seed: 1),
                     mentioning: ["attacker", "bank"])
        let key = try fixture.key()
        assertThrows(try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: pool, outOfDistribution: fixture.ood),
                     mentioning: ["attacker", "calibration"])
        assertThrows(try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               outOfDistribution: fixture.ood.withRole(.attackerPool)),
                     mentioning: ["noise", "attacker", "out-of-distribution"])
        // The owner's own generated outliers are accepted.
        let owner = fixture.heldOut.withRole(.ownerValidation)
        let outliers = try GeneratedOutliers.make(from: owner, count: 100, seed: 3)
        let result = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: owner, outOfDistribution: outliers)
        XCTAssertLessThanOrEqual(result.chosen.accuracyDropPoints, 0.5 + 1e-9)
    }
}
