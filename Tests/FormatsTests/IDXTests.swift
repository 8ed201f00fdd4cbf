import Foundation
import XCTest
@testable import Formats

final class IDXTests: FormatsTestCase {
    /// Hand-built: 2 images of 2×3 pixels.
    private let imageFixture: [UInt8] = [0, 0, 8, 3] + .be32(2) + .be32(2) + .be32(3) + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]
    private let labelFixture: [UInt8] = [0, 0, 8, 1] + .be32(2) + [7, 3]

    func testHandBuiltImagesAndLabels() throws {
        let images = try writeRaw(imageFixture, "images.idx")
        let labels = try writeRaw(labelFixture, "labels.idx")
        let read = try IDX.readImages(path: images)
        XCTAssertEqual(read.count, 2)
        XCTAssertEqual(read.rows, 2)
        XCTAssertEqual(read.cols, 3)
        XCTAssertEqual(read.pixels, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255])
        XCTAssertEqual(try IDX.readLabels(path: labels), [7, 3])
        let both = try IDX.readImagesAndLabels(imagesPath: images, labelsPath: labels)
        XCTAssertEqual(both.count, 2)
        XCTAssertEqual(both.labels, [7, 3])
        XCTAssertEqual(both.pixels.count, 12)
    }

    func testGzipDetected() throws {
        let p = try writeRaw(Gzip.compress(Data(imageFixture)), "images.idx.gz")
        XCTAssertEqual(try IDX.read(path: p), IDXArray(dims: [2, 2, 3], bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]))
    }

    func testWriterRoundTrip() throws {
        let array = IDXArray(dims: [3, 4, 5, 2], bytes: (0..<120).map { UInt8($0) })
        for gzip in [false, true] {
            let p = path("round-\(gzip).idx")
            try IDX.write(array, to: p, gzip: gzip)
            XCTAssertEqual(try IDX.read(path: p), array)
        }
        XCTAssertEqual(Array(try IDX.encode(array).prefix(8)), [0, 0, 8, 4, 0, 0, 0, 3])
        let empty = IDXArray(dims: [0, 28, 28], bytes: [])
        XCTAssertEqual(try IDX.parse(IDX.encode(empty), label: "empty"), empty)
    }

    func testWriterRejectsMismatch() {
        assertFormatError(try IDX.encode(IDXArray(dims: [2, 2], bytes: [1, 2, 3]), label: "w.idx"),
                          kind: .mismatch, file: "w.idx", contains: ["[2,2]", "3 bytes"])
        assertFormatError(try IDX.encode(IDXArray(dims: [], bytes: [1])), kind: .invalidValue, file: "<IDX data>")
    }

    func testWrongMagicForImages() throws {
        let p = path("train-images.gz")
        try Gzip.compress(Data([0x12, 0x34, 0x56, 0x78] + .be32(1))).write(to: URL(fileURLWithPath: p))
        assertFormatError(try IDX.readImages(path: p), kind: .badMagic, file: p,
                          contains: ["IDX magic 0x00000803 expected, found 0x12345678"])
    }

    func testWrongDimsForImagesAndLabels() throws {
        let labels = try writeRaw(labelFixture, "labels.idx")
        let images = try writeRaw(imageFixture, "images.idx")
        assertFormatError(try IDX.readImages(path: labels), kind: .badMagic, file: labels,
                          contains: ["0x00000803 expected, found 0x00000801"])
        assertFormatError(try IDX.readLabels(path: images), kind: .badMagic, file: images,
                          contains: ["0x00000801 expected, found 0x00000803"])
    }

    func testGenericMagicChecks() throws {
        let notZero = try writeRaw([1, 0, 8, 1] + .be32(1) + [0], "a.idx")
        assertFormatError(try IDX.read(path: notZero), kind: .badMagic, file: notZero, contains: ["two zero bytes"])
        let unknown = try writeRaw([0, 0, 0x42, 1] + .be32(1) + [0], "b.idx")
        assertFormatError(try IDX.read(path: unknown), kind: .badMagic, file: unknown, contains: ["type code 0x42 unknown"])
        let float = try writeRaw([0, 0, 0x0D, 1] + .be32(1) + [0, 0, 0, 0], "c.idx")
        assertFormatError(try IDX.read(path: float), kind: .unsupported, file: float, contains: ["0x0d (float32) not supported"])
        let zeroDims = try writeRaw([0, 0, 8, 0], "d.idx")
        assertFormatError(try IDX.read(path: zeroDims), kind: .badHeader, file: zeroDims, contains: ["dimension count is 0"])
    }

    func testTruncatedHeader() throws {
        let p = try writeRaw([0, 0, 8], "short.idx")
        assertFormatError(try IDX.read(path: p), kind: .truncated, file: p, contains: ["truncated IDX header"])
        let q = try writeRaw([0, 0, 8, 3] + .be32(2) + .be32(2), "dims.idx")
        assertFormatError(try IDX.read(path: q), kind: .truncated, file: q, contains: ["dimension 2 of 3"])
        let empty = try writeRaw([], "empty.idx")
        assertFormatError(try IDX.read(path: empty), kind: .truncated, file: empty)
    }

    func testTruncatedPayload() throws {
        let p = try writeRaw(Array(imageFixture.dropLast(2)), "trunc.idx")
        assertFormatError(try IDX.readImages(path: p), kind: .truncated, file: p,
                          contains: ["truncated IDX payload", "[2,2,3] need 12 bytes, found 10"])
    }

    func testTrailingGarbage() throws {
        let p = try writeRaw(labelFixture + [9, 9, 9], "tail.idx")
        assertFormatError(try IDX.readLabels(path: p), kind: .trailingData, file: p,
                          contains: ["3 bytes of trailing garbage", "need 2 bytes, found 5"])
    }

    func testHugeDimensionsDoNotCrash() throws {
        let p = try writeRaw([0, 0, 8, 3] + .be32(0xFFFF_FFFF) + .be32(0xFFFF_FFFF) + .be32(0xFFFF_FFFF), "huge.idx")
        assertFormatError(try IDX.read(path: p), file: p, contains: ["[4294967295,4294967295,4294967295]"])
    }

    func testCountMismatch() throws {
        let images = try writeRaw(imageFixture, "images.idx")
        let labels = try writeRaw([0, 0, 8, 1] + .be32(3) + [1, 2, 3], "labels.idx")
        assertFormatError(try IDX.readImagesAndLabels(imagesPath: images, labelsPath: labels),
                          kind: .mismatch, file: labels, contains: ["3 labels but \(images) has 2 images"])
    }

    func testMissingFile() {
        let p = path("nope.idx")
        assertFormatError(try IDX.readLabels(path: p), kind: .fileNotFound, file: p, contains: ["file not found"])
        assertFormatError(try IDX.read(path: tempDir), kind: .io, file: tempDir, contains: ["directory"])
    }

    func testCorruptGzipNamesFile() throws {
        var packed = try Gzip.compress(Data(imageFixture))
        packed = packed.prefix(packed.count - 3)
        let p = try writeRaw(packed, "images.gz")
        assertFormatError(try IDX.readImages(path: p), kind: .truncated, file: p, contains: ["gzip"])
    }

    /// A gzip bomb: a valid header for 2×2×3 bytes followed by 64 MiB of zeros. Inflating stops one
    /// byte past the size the header declares instead of expanding everything before the error.
    func testGzipBombStopsAtTheDeclaredSize() throws {
        var bomb = Data(imageFixture)
        bomb.append(Data(count: 64 << 20))
        let p = try writeRaw(try Gzip.compress(bomb, level: 9), "bomb.idx.gz")
        assertFormatError(try IDX.readImages(path: p), kind: .invalidValue, file: p,
                          contains: ["more than \(imageFixture.count) bytes", "the size its IDX header declares"])
        // A header declaring more than the compressed bytes can expand to is refused before inflating.
        let claims = try writeRaw(try Gzip.compress(Data([0, 0, 8, 3] + .be32(100_000) + .be32(1000) + .be32(1000))), "claims.idx.gz")
        assertFormatError(try IDX.readImages(path: claims), kind: .truncated, file: claims,
                          contains: ["declares 100000000016 bytes", "gzip bytes can hold"])
        // The limit leaves a well-formed file alone.
        let fine = try writeRaw(try Gzip.compress(Data(imageFixture)), "fine.idx.gz")
        XCTAssertEqual(try IDX.readImages(path: fine).pixels, Array(imageFixture.suffix(12)))
    }

    func testRealFashionMNISTTestLabels() throws {
        let dir = "/usr/share/datasets/fashion-mnist"
        let labels = dir + "/t10k-labels-idx1-ubyte.gz"
        guard FileManager.default.fileExists(atPath: labels) else {
            throw XCTSkip("\(labels) not installed (Debian package dataset-fashion-mnist)")
        }
        let read = try IDX.readLabels(path: labels)
        XCTAssertEqual(read.count, 10_000)
        XCTAssertTrue(read.allSatisfy { $0 < 10 })
        let images = dir + "/t10k-images-idx3-ubyte.gz"
        if FileManager.default.fileExists(atPath: images) {
            let both = try IDX.readImagesAndLabels(imagesPath: images, labelsPath: labels)
            XCTAssertEqual(both.count, 10_000)
            XCTAssertEqual(both.rows, 28)
            XCTAssertEqual(both.cols, 28)
            XCTAssertEqual(both.pixels.count, 10_000 * 784)
        }
    }

    func testRealFashionMNISTTrainImagesAreFast() throws {
        let images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
        guard FileManager.default.fileExists(atPath: images) else {
            throw XCTSkip("\(images) not installed (Debian package dataset-fashion-mnist)")
        }
        let start = Date()
        let read = try IDX.readImages(path: images)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(read.count, 60_000)
        XCTAssertEqual(read.pixels.count, 60_000 * 28 * 28)
        XCTAssertLessThan(seconds, 2.0, "47 MB of IDX images took \(seconds) s")
    }
}
