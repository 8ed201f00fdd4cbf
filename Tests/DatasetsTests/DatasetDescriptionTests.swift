import Formats
import Foundation
import XCTest
@testable import Datasets

/// Data-set descriptions: every format's parts load with their roles, ranges slice, relative file
/// names resolve against the description, and every wrong field is named.
final class DatasetDescriptionTests: DatasetsTestCase {
    func write(_ json: String, to name: String = "dataset.json") throws {
        try Data(json.utf8).write(to: URL(fileURLWithPath: path(name)))
    }

    func testNPYAndIDXPartsLoadWithRolesAndRanges() throws {
        try NPY.write(uint8: (0..<(12 * 4 * 4)).map { UInt8($0 % 256) }, shape: [12, 1, 4, 4], to: path("x.npy"))
        try NPY.write(uint8: (0..<12).map { UInt8($0 % 3) }, shape: [12], to: path("y.npy"))
        try write(#"""
            {"name": "tiny", "format": "npy", "input_shape": [1, 4, 4], "class_names": ["a", "b", "c"],
             "train": {"images": "x.npy", "labels": "y.npy", "range": [0, 8]},
             "owner_validation": {"images": "x.npy", "labels": "y.npy", "range": [8, 12]}}
            """#)
        let d = try DatasetDescription.load(tempDir)  // a directory holding dataset.json
        let train = try d.load(.train), validation = try d.load(.ownerValidation)
        XCTAssertEqual(train.count, 8)
        XCTAssertEqual(validation.count, 4)
        XCTAssertEqual(validation.labels, [2, 0, 1, 2])
        XCTAssertEqual(train.role, .victimTraining)
        XCTAssertEqual(validation.role, .ownerValidation)
        XCTAssertEqual(validation.name, "tiny/owner-validation")
        XCTAssertEqual(validation.pixels[0], Float(8 * 16 % 256) / 255, accuracy: 1e-6, "the slice starts at image 8")
        XCTAssertEqual(try d.normalization(train: train), train.channelStatistics())
        assertDatasetError(try d.load(.test), kind: .missingData, contains: ["tiny", "no 'test' part"])

        try IDX.write(IDXArray(dims: [5, 3, 3], bytes: (0..<45).map { UInt8($0) }), to: path("img.idx"), gzip: true)
        try IDX.write(IDXArray(dims: [5], bytes: [0, 1, 0, 1, 1]), to: path("lab.idx"))
        try write(#"{"name": "i", "format": "idx", "normalization": {"mean": [0.5], "std": [0.25]}, "train": {"images": "img.idx", "labels": "lab.idx"}}"#,
                  to: "idx.json")
        let idx = try DatasetDescription.load(path("idx.json"))
        let loaded = try idx.load(.train)
        XCTAssertEqual(loaded.imageShape, [1, 3, 3])
        XCTAssertEqual(loaded.classCount, 2)
        XCTAssertEqual(try idx.normalization(train: loaded), Normalization(mean: 0.5, std: 0.25))
    }

    func testWrongFieldsAreNamed() throws {
        let cases: [(String, [String])] = [
            (#"{"format": "npy", "train": {"images": "x", "labels": "y"}}"#, ["'name' is missing"]),
            (#"{"name": "n", "format": "png", "train": {"files": ["a"]}}"#, ["format", "cifar-10"]),
            (#"{"name": "n", "format": "npy", "train": {"files": ["a"]}}"#, ["'train'", "'images' and 'labels'"]),
            (#"{"name": "n", "format": "cifar-10", "train": {"files": []}}"#, ["'train'", "non-empty 'files'"]),
            (#"{"name": "n", "format": "cifar-10", "train": {"files": ["a"], "range": [5, 2]}}"#, ["'train.range'", "[5, 2]"]),
            (#"{"name": "n", "format": "cifar-10", "input_shape": [3, 32], "train": {"files": ["a"]}}"#, ["'input_shape'"]),
            (#"{"name": "n", "format": "cifar-10", "normalization": {"mean": [0.5], "std": [0]}, "train": {"files": ["a"]}}"#, ["'normalization'"]),
            (#"{"name": "n", "format": "cifar-10", "train": {"files": "a"}}"#, ["'train.files'", "wrong type"]),
            ("{", ["not valid JSON"]),
        ]
        for (i, (json, words)) in cases.enumerated() {
            try write(json, to: "bad\(i).json")
            assertDatasetError(try DatasetDescription.load(path("bad\(i).json")), kind: .invalidData, contains: ["bad\(i).json"] + words)
        }
        assertDatasetError(try DatasetDescription.load(path("absent.json")), kind: .missingData, contains: ["absent.json", "no such"])
        // A range past the images, and labels that disagree with the class names, fail on load.
        try NPY.write(uint8: [UInt8](repeating: 1, count: 4 * 4), shape: [4, 2, 2], to: path("x.npy"))
        try NPY.write(uint8: [0, 1, 2, 3], shape: [4], to: path("y.npy"))
        try write(#"{"name": "n", "format": "npy", "train": {"images": "x.npy", "labels": "y.npy", "range": [0, 9]}}"#, to: "r.json")
        assertDatasetError(try DatasetDescription.load(path("r.json")).load(.train), kind: .invalidData, contains: ["[0, 9]", "4 images"])
        try write(#"{"name": "n", "format": "npy", "input_shape": [1, 3, 3], "train": {"images": "x.npy", "labels": "y.npy"}}"#, to: "s.json")
        assertDatasetError(try DatasetDescription.load(path("s.json")).load(.train), kind: .mismatch, contains: ["[1, 2, 2]", "[1, 3, 3]"])
    }
}
