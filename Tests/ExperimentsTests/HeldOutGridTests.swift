import Baselines
import Datasets
import Experiments
import Foundation
import Honeytrace
import Prediction
import TensorEngine
import Training
import XCTest

/// The held-out protocol end to end on real data (`smoke-heldout`): a victim that never saw the
/// owner validation split, a key and calibration built from that split alone, the strong and the
/// mixed thief, and every verdict measured against a null pool.
final class HeldOutGridTests: XCTestCase {
    func testHeldOutGridUsesOnlyOwnerDataAndCountsNullClaims() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-heldout-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        // A tiny null pool: three independent models of two recipes.
        let members = (0..<3).map { i in
            NullPool.Member(name: "null-\(i)", architecture: .fmnistCNN, seed: 500 + UInt64(i), trainImages: 1_500 + 500 * i,
                            epochs: 1, learningRate: 0.05, augment: i != 1)
        }
        let pool = try NullPool(directory: out + "/null", members: members)
        XCTAssertEqual(try pool.build(), 3)
        XCTAssertEqual(try pool.build(), 0, "a built pool trains nothing")
        XCTAssertEqual(try NullPool.existing(directory: out + "/null", count: 2).members, Array(members.prefix(2)))
        XCTAssertThrowsError(try NullPool.existing(directory: out + "/null", count: 4)) { XCTAssertTrue("\($0)".contains("3 models, 4 requested"), "\($0)") }

        var configuration = try ExperimentConfiguration.preset("smoke-heldout")
        configuration.nullPool = .init(directory: out + "/null", count: 3)
        var heavyDefense = DefenseConfiguration.recommended
        heavyDefense.outOfDistributionGate = nil
        heavyDefense.score = .pixelMark
        heavyDefense.flippingPower = 0.05
        configuration.heavyClient = .init(afterQueries: 500, accuracyBudgetPoints: 5, defense: heavyDefense)
        let grid = out + "/grid"
        let records = try ExperimentRunner(configuration: configuration, directory: grid).run()
        XCTAssertEqual(records.map(\.id).sorted(), [
            "honeytrace--fmnist-attacker--knockoff--naive--s0", "honeytrace--mixed--knockoff--naive--s0",
            "none--fmnist-attacker--knockoff--naive--s0", "none--mixed--knockoff--naive--s0"])
        for r in records {
            XCTAssertEqual(r.ownerData, "held-out")
            XCTAssertEqual(r.nullModels, 3)
            XCTAssertEqual(r.victimArchitecture, "fmnist-cnn")
            XCTAssertEqual(r.victimSeed, 0)
            XCTAssertEqual(r.keySeed, configuration.keySeed)
            XCTAssertEqual(r.pool, r.id.contains("mixed") ? "mixed" : "fmnist-attacker")
            XCTAssertNotNil(r.sequentialVerdict)
            XCTAssertLessThanOrEqual(r.sequentialQueries ?? .max, 2 * configuration.triggerCount)
            XCTAssertGreaterThanOrEqual(r.nullRate ?? 0, 0.1, "the null rate never falls below chance")
            XCTAssertEqual(r.queriesSpent, configuration.budget)
            if r.defense == "none" { XCTAssertNil(r.heavyClientAccuracy) } else {
                let heavy = try XCTUnwrap(r.heavyClientAccuracy)
                XCTAssertLessThan(heavy, r.protectedAccuracy, "the heavy-client defense flips more")
            }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: grid + "/heavy-calibration.json"))
        // The victim trained on the owner's training split only; the key on the owner validation split.
        let victim = try ModelDirectory.load(grid + "/victim")
        let splits = try FashionMNIST.heldOutSplits()
        XCTAssertEqual(victim.manifest.data?.sha256, DataFingerprint(splits.ownerTraining.subset(0..<6_000)).sha256)
        let key = try WatermarkKey.load(grid + "/key.htkey")
        XCTAssertEqual(key.creation.heldOut?.sha256, DataFingerprint(splits.ownerValidation).sha256)
        XCTAssertEqual(key.creation.heldOut?.name, "fashion-mnist/owner-validation")
        // A client is answered by the heavy-client defense from its threshold on, per batch.
        let heavyCalibration = try JSONDecoder().decode(CalibrationResult.self, from: Data(contentsOf: URL(fileURLWithPath: grid + "/heavy-calibration.json")))
        XCTAssertEqual(heavyCalibration.configuration.score, .pixelMark)
        let honest = try DefendedModel(model: victim, key: key), heavy = try DefendedModel(model: victim, key: key, configuration: heavyCalibration.configuration)
        // The key carries the policy the grid measured, so `serve` applies it.
        XCTAssertEqual(key.heavyClient, HeavyClientPolicy(afterQueries: 500, defense: heavyCalibration.configuration))
        // The protected accuracy is an honest client's: the heavy-client switch never counts in it.
        let test = splits.test.subset(0..<1_000)
        let honestLabels = try honest.labels(for: Tensor(test.pixels, shape: [test.count] + test.imageShape))
        let honestAccuracy = Double(zip(honestLabels, test.labels).filter { $0 == $1 }.count) / Double(test.count)
        for r in records where r.defense == "honeytrace" { XCTAssertEqual(r.protectedAccuracy, honestAccuracy, accuracy: 1e-12, r.id) }
        let api = DefendedClient(defended: honest, heavy: .init(afterQueries: 200, defended: heavy), batchSize: 100)
        let images = splits.test.subset(0..<300)
        let x = Tensor(images.pixels, shape: [300, 1, 28, 28])
        let answered = try api.answer(x)
        let wantHonest = try honest.query(x.slice(0..<200)), wantHeavy = try heavy.query(x.slice(200..<300))
        // (Batches of 100 against one of 200: the same answers up to GEMM rounding.)
        func assertClose(_ a: [Float], _ b: [Float], _ row: Int) {
            for j in 0..<10 { XCTAssertEqual(a[j], b[j], accuracy: 1e-5, "row \(row) class \(j)") }
        }
        for r in 0..<200 { assertClose(answered[r], wantHonest.probabilities(row: r), r) }
        for r in 0..<100 { assertClose(answered[200 + r], wantHeavy.probabilities(row: r), 200 + r) }
        // The two defenses answer these rows differently, so the switch is observable.
        XCTAssertGreaterThan(try heavy.query(x).flippedCount, try honest.query(x).flippedCount)
        XCTAssertEqual(api.rowsAnswered, 300)

        // Each null model verified against the others; their false claims counted.
        let verdicts = try JSONDecoder().decode(NullPoolVerdicts.self, from: Data(contentsOf: URL(fileURLWithPath: grid + "/null-pool.json")))
        XCTAssertEqual(verdicts.members.count, 3)
        XCTAssertEqual(verdicts.falseClaims, verdicts.members.filter { $0.verdict == "stolen" }.count)
        XCTAssertEqual(verdicts.alpha, configuration.alpha)
        XCTAssertGreaterThanOrEqual(verdicts.specificWSRThreshold, verdicts.specificWSRMean)
        // Rows name their thief when a table holds several.
        let table = ResultTable(records: records)
        XCTAssertEqual(Set(table.rows), ["fmnist-attacker / KnockoffNet / naive", "mixed / KnockoffNet / naive"])

        // The training-time baselines and PROWN as columns of the same grid: each baseline trains its
        // own victim once from the victim's recipe on the owner's training split, answers the thief
        // with it and judges the copy by its own fresh triggers; PROWN's trigger accuracy is measured
        // on every copy, with a trigger set per served model.
        var columns = configuration
        columns.attacks = [configuration.attacks[0]]
        columns.defenses = ["none", "composite", "mea-defender", "ewe"]
        columns.victim.directory = grid + "/victim"
        columns.heavyClient = nil
        columns.prown = PrownSettings(seed: 3, proxies: 4, triggers: 20, mixesPerPair: 8, pairsPerRound: 64, maxPairs: 4_000)
        let baselineGrid = out + "/baselines"
        let columnRunner = try ExperimentRunner(configuration: columns, directory: baselineGrid)
        columnRunner.attackSource = grid
        columnRunner.undefendedOnly = true
        let columnRecords = try columnRunner.run()
        XCTAssertEqual(columnRecords.map(\.defense).sorted(), ["composite", "ewe", "mea-defender", "none"])
        for r in columnRecords {
            let prown = try XCTUnwrap(r.evidence?.first { $0.watermark == "prown" }, r.id)
            XCTAssertEqual(prown.queries, 20)
            XCTAssertEqual(prown.nullModels, 3)
            XCTAssertNotNil(prown.threshold)
            XCTAssertEqual(r.queriesSpent, configuration.budget, r.id)
            guard r.defense != "none" else {
                XCTAssertNil(r.defenseTrainingSeconds)
                XCTAssertEqual(r.evidence?.count, 1, "the undefended column has PROWN's evidence only")
                continue
            }
            let baseline = try BaselineRecord.load(directory: baselineGrid + "/baselines/" + r.defense)
            XCTAssertEqual(r.protectedAccuracy, baseline.testAccuracy, accuracy: 1e-12, "\(r.id): the column serves its own victim")
            XCTAssertEqual(r.defenseTrainingSeconds, baseline.trainSeconds)
            XCTAssertEqual(r.watermarkRateBeforeTheft, baseline.watermarkRate)
            XCTAssertEqual(baseline.trainingData, victim.manifest.data?.name, "trained on the owner's training split")
            let own = try XCTUnwrap(r.evidence?.first { $0.watermark == r.defense }, r.id)
            XCTAssertEqual(own.statistic, "trigger accuracy")
            XCTAssertEqual(own.nullModels, 3)
            XCTAssertEqual(own.stolen, own.value > (own.threshold ?? .infinity), r.id)
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(baselineGrid)/prown/\(r.defense).json"))
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: baselineGrid + "/prown/victim.json"))
        let columnReport = try ExperimentReport.render(directory: baselineGrid)
        for needle in ["PROWN (verification only)", "Training-time columns before any theft", "mea-defender"] {
            XCTAssertTrue(columnReport.contains(needle), needle)
        }
        XCTAssertTrue(ResultTable(records: columnRecords).csv().contains("prown_value"))
        // A grid under the test-set protocol cannot train a baseline on the owner's splits.
        var testSetProtocol = columns
        testSetProtocol.ownerData = .testSet
        XCTAssertThrowsError(try testSetProtocol.validate()) { XCTAssertTrue("\($0)".contains("held-out"), "\($0)") }

        // A victim that saw the owner validation split is refused under this protocol.
        var leaky = configuration
        leaky.victim.directory = out + "/null/null-0"
        XCTAssertThrowsError(try ExperimentRunner(configuration: leaky, directory: out + "/leaky").run()) {
            XCTAssertTrue("\($0)".contains("must not have seen the owner validation split"), "\($0)")
        }
    }
}
