import Datasets
import Experiments
import Foundation
import Honeytrace
import TestSupport
import Training
import XCTest

/// A grid on an owner's own data set, named by a data-set description (CIFAR-10 batches generated
/// here, 3×32×32): the victim trains on its train part, the key on its owner_validation part,
/// figures come from its test part, and the thief queries a slice of the same file, disjoint from the owner's.
final class DescribedGridTests: XCTestCase {
    var out = ""

    override func setUpWithError() throws {
        out = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-described-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: out + "/data", withIntermediateDirectories: true)
        try CIFARBatches.write(out + "/data/data_batch_1.bin", count: 500, seed: 1)
        try CIFARBatches.write(out + "/data/data_batch_2.bin", count: 400, seed: 2)
        try CIFARBatches.write(out + "/data/test_batch.bin", count: 200, seed: 3)
        // One file holds two parts: owner_validation is data_batch_2[0..<200]; the thief's own
        // description names the whole file, and the grid gives it [200..<400].
        try Data("""
            {"name": "tiny", "format": "cifar-10", "input_shape": [3, 32, 32],
             "train": {"files": ["data_batch_1.bin"]},
             "owner_validation": {"files": ["data_batch_2.bin"], "range": [0, 200]},
             "test": {"files": ["test_batch.bin"]}}
            """.utf8).write(to: URL(fileURLWithPath: out + "/data/dataset.json"))
        try Data(#"{"name": "thief", "format": "cifar-10", "train": {"files": ["data_batch_2.bin"]}}"#.utf8)
            .write(to: URL(fileURLWithPath: out + "/data/thief.json"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: out) }

    func configuration() -> ExperimentConfiguration {
        var c = ExperimentConfiguration(
            name: "described", victim: .init(architecture: .fmnistCNN, seed: 1, epochs: 2),
            attacks: [.init(.knockoff, .naive, pool: .described)], defenses: ["none", "honeytrace"], pool: .described,
            budget: 300, surrogateEpochs: 1, recipe: .whiteBlock(), keySize: 10, accuracyBudgetPoints: 5,
            defense: .recommended, triggerCount: 20)
        c.ownerDataset = ExperimentDataSet(path: out + "/data")
        c.attackerDataset = ExperimentDataSet(path: out + "/data/thief.json", range: [200, 400])
        return c
    }

    func testGridRunsOnADescribedDataSetAndNamesItInTheManifest() throws {
        let c = configuration()
        XCTAssertEqual(c.ownerDataInEffect, .described)
        let grid = out + "/grid"
        let records = try ExperimentRunner(configuration: c, directory: grid).run()
        XCTAssertEqual(records.map(\.id).sorted(), ["honeytrace--described--knockoff--naive--s0", "none--described--knockoff--naive--s0"])
        for r in records {
            XCTAssertEqual(r.ownerData, "described")
            XCTAssertEqual(r.pool, "described")
            XCTAssertEqual(r.queriesSpent, 300)
            XCTAssertEqual(r.verificationQueries, 2 * c.triggerCount)
        }
        let victim = try ModelDirectory.load(grid + "/victim")
        XCTAssertEqual(victim.manifest.inputShape, [3, 32, 32])
        XCTAssertEqual(victim.manifest.data?.name, "tiny/train")
        XCTAssertEqual(victim.manifest.normalization.mean.count, 3, "the train part's per-channel statistics")
        XCTAssertGreaterThan(records[0].victimAccuracy, 0.5, "colour and stripe make the classes easy")
        let key = try WatermarkKey.load(grid + "/key.htkey")
        XCTAssertEqual(key.creation.heldOut?.name, "tiny/owner-validation")
        XCTAssertEqual(key.creation.heldOut?.count, 200)

        // The manifest names the data: the description's path and digests of it and of its files.
        let manifest = try JSONDecoder().decode(ExperimentManifest.self, from: Data(contentsOf: URL(fileURLWithPath: grid + "/manifest.json")))
        let owner = try XCTUnwrap(manifest.datasets?.first { $0.role == "owner" })
        XCTAssertEqual(owner.path, out + "/data")
        XCTAssertEqual(owner.descriptionSHA256, try Hashing.sha256(file: out + "/data/dataset.json"))
        XCTAssertEqual(Set(owner.files.keys), ["data_batch_1.bin", "data_batch_2.bin", "test_batch.bin"])
        XCTAssertEqual(owner.files["test_batch.bin"], try Hashing.sha256(file: out + "/data/test_batch.bin"))
        XCTAssertEqual(manifest.datasets?.map(\.role), ["owner", "attacker"])
    }

    func testDataSetFieldsAreCheckedWithClearErrors() throws {
        func refused(_ c: ExperimentConfiguration, _ words: [String], line: UInt = #line) {
            XCTAssertThrowsError(try ExperimentRunner(configuration: c, directory: out + "/refused-\(line)").prepareShared(), line: line) { error in
                for w in words { XCTAssertTrue("\(error)".contains(w), "\(error) lacks \(w)", line: line) }
            }
        }
        var c = configuration()
        c.attackerDataset?.range = [150, 300]
        refused(c, ["attackerDataset", "[150, 300) overlap the owner's 'owner_validation' part [0, 200)"])
        c = configuration()
        c.attackerDataset = ExperimentDataSet(path: out + "/data", part: "train")
        refused(c, ["overlap the owner's 'train' part"])
        c = configuration()
        c.attackerDataset = nil
        refused(c, ["uses the \"described\" pool", "attackerDataset"])
        c = configuration()
        c.attackerDataset?.part = "validation"
        refused(c, ["part 'validation'", "owner_validation"])
        c = configuration()
        c.attackerDataset?.range = [200, 900]
        refused(c, ["range [200, 900]", "exceeds its 400 images"])
        c = configuration()
        c.ownerData = .heldOut
        refused(c, ["\"ownerData\": \"held-out\"", "ownerDataset"])
        c = configuration()
        c.ownerDataset?.part = "test"
        refused(c, ["\"ownerDataset\" takes only \"path\""])
        // A pool of another shape than the owner's images: named with both shapes.
        c = configuration()
        c.attacks = [.init(.knockoff, .naive, pool: .fashionAttacker)]
        c.attackerDataset = nil
        refused(c, ["fmnist-attacker pool", "[1, 28, 28]", "[3, 32, 32]"])
        // A description without the owner's parts: the file and the field.
        try Data(#"{"name": "t", "format": "cifar-10", "train": {"files": ["data_batch_1.bin"]}, "test": {"files": ["test_batch.bin"]}}"#.utf8)
            .write(to: URL(fileURLWithPath: out + "/data/no-validation.json"))
        c = configuration()
        c.ownerDataset = ExperimentDataSet(path: out + "/data/no-validation.json")
        refused(c, ["no-validation.json", "field 'owner_validation' is missing"])
    }

    /// `experiment null-pool --data`: null models of the owner's own task train on the
    /// description's train part, the pool records the description, and a described grid judges
    /// its verdicts against them; members of another data set are refused in the same directory.
    func testNullPoolOnTheDescribedDataSetJudgesTheGrid() throws {
        let data = ExperimentDataSet(path: out + "/data")
        let members = (0..<3).map { i in
            NullPool.Member(name: "null-\(i)", architecture: .fmnistCNN, seed: 700 + UInt64(i), trainImages: 300 + 100 * i,
                            epochs: 2, learningRate: 0.05, augment: false)
        }
        let poolDirectory = out + "/null"
        XCTAssertEqual(try NullPool(directory: poolDirectory, members: members, dataSet: data).build(), 3)
        let model = try ModelDirectory.load(poolDirectory + "/null-1")
        XCTAssertEqual(model.manifest.inputShape, [3, 32, 32])
        XCTAssertEqual(model.manifest.data?.count, 400)
        XCTAssertTrue(model.manifest.data?.name.hasPrefix("tiny/train[400 of 500") == true, "\(String(describing: model.manifest.data))")
        XCTAssertEqual(model.manifest.normalization.mean.count, 3)
        let record = try XCTUnwrap(try NullPool.dataRecord(directory: poolDirectory))
        XCTAssertEqual(record.descriptionSHA256, try Hashing.sha256(file: out + "/data/dataset.json"))

        // The same directory with Fashion-MNIST members, or another description: refused before any training.
        XCTAssertThrowsError(try NullPool(directory: poolDirectory, members: members).build()) { error in
            XCTAssertTrue("\(error)".contains("trained on the data set \(self.out)/data") && "\(error)".contains("not on the built-in Fashion-MNIST"), "\(error)")
        }
        XCTAssertThrowsError(try NullPool(directory: poolDirectory, members: members, dataSet: ExperimentDataSet(path: out + "/data/thief.json")).build()) { error in
            XCTAssertTrue("\(error)".contains("thief.json") && "\(error)".contains("another directory"), "\(error)")
        }

        var c = configuration()
        c.nullPool = .init(directory: poolDirectory, count: 3)
        let grid = out + "/grid-null"
        let records = try ExperimentRunner(configuration: c, directory: grid).run()
        XCTAssertEqual(records.count, 2)
        let verdicts = try JSONDecoder().decode(NullPoolVerdicts.self, from: Data(contentsOf: URL(fileURLWithPath: grid + "/null-pool.json")))
        XCTAssertEqual(verdicts.members.count, 3)
        XCTAssertEqual(verdicts.falseClaims, verdicts.members.filter { $0.verdict == "stolen" }.count)
    }
}
