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
                                               outOfDistribution: fixture.ood, options: .init(budget: 0.005))
        XCTAssertGreaterThanOrEqual(result.candidates.count, 17)
        XCTAssertLessThanOrEqual(result.chosen.accuracyDrop, 0.005)
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
                                              outOfDistribution: fixture.ood, options: .init(budget: 0.05))
        XCTAssertGreaterThanOrEqual(loose.chosen.oodFractionFlipped!, result.chosen.oodFractionFlipped!)
    }

    /// With a confidence, the budget binds the upper bound of the share turned wrong, so the
    /// chosen setting touches no more than the point-estimate one and its bound is within budget.
    func testConfidenceBoundIsMoreCautiousThanThePointEstimate() throws {
        let key = try fixture.key()
        let plain = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                              outOfDistribution: fixture.ood, options: .init(budget: 0.02))
        let bounded = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                                outOfDistribution: fixture.ood, options: .init(budget: 0.02, confidence: 0.95))
        XCTAssertNil(plain.chosen.accuracyDropBound)
        let bound = try XCTUnwrap(bounded.chosen.accuracyDropBound)
        XCTAssertLessThanOrEqual(bound, 0.02 + 1e-12)
        XCTAssertGreaterThanOrEqual(bound, bounded.chosen.accuracyDrop)
        XCTAssertLessThanOrEqual(bounded.chosen.fractionFlipped, plain.chosen.fractionFlipped)
        for c in bounded.candidates { XCTAssertEqual(c.withinBudget, c.accuracyDropBound! <= 0.02 + 1e-12, "d = \(c.offset)") }
        // Hand check of one bound: 0 of 400 rows turned wrong gives 1 − 0.05^(1/400).
        if let untouched = bounded.candidates.first(where: { $0.fractionMixed == 0 }) {
            XCTAssertEqual(untouched.accuracyDropBound!, 1 - pow(0.05, 1.0 / 400), accuracy: 1e-9)
        }
        assertThrows(try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               options: .init(confidence: 1.5)), mentioning: ["confidence", "1.5"])
    }

    func testOutOfDistributionGateIsKeptAndTheDeployedDefenseMatches() throws {
        var key = try fixture.key()
        key.defense.outOfDistributionGate = 0.9
        let result = try Calibration.calibrate(key: key, model: fixture.victim, inDistribution: fixture.heldOut,
                                               outOfDistribution: fixture.ood, options: .init(budget: 0.005))
        XCTAssertEqual(result.configuration.outOfDistributionGate, 0.9)
        XCTAssertLessThanOrEqual(result.chosen.accuracyDrop, 0.005)
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
        XCTAssertLessThanOrEqual(result.chosen.accuracyDrop, 0.005)
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
        XCTAssertLessThanOrEqual(result.chosen.accuracyDrop, 0.005)
    }
}
