import Foundation
import XCTest
@testable import Formats

final class GzipTests: FormatsTestCase {
    func testRoundTrip() throws {
        let original = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) })
        let packed = try Gzip.compress(original)
        XCTAssertTrue(Gzip.isGzip(packed))
        XCTAssertLessThan(packed.count, original.count)
        XCTAssertEqual(try Gzip.decompress(packed), original)
    }

    func testEmptyRoundTripAndLevels() throws {
        XCTAssertEqual(try Gzip.decompress(Gzip.compress(Data())), Data())
        let text = Data(String(repeating: "honeytrace ", count: 500).utf8)
        for level in [0, 1, 9] {
            XCTAssertEqual(try Gzip.decompress(Gzip.compress(text, level: level)), text)
        }
        assertFormatError(try Gzip.compress(text, level: 12), kind: .invalidValue, file: "<gzip data>", contains: ["level 12"])
    }

    func testMaxBytesStopsInflatingOnePastTheLimit() throws {
        let original = Data(count: 1 << 20)
        let packed = try Gzip.compress(original)
        XCTAssertEqual(try Gzip.decompress(packed, maxBytes: original.count), original)
        assertFormatError(try Gzip.decompress(packed, label: "z.gz", maxBytes: 1000, limitReason: "the test's limit"),
                          kind: .invalidValue, file: "z.gz", contains: ["more than 1000 bytes", "the test's limit"])
        XCTAssertEqual(try Gzip.decompressedPrefix(packed, count: 10), Data(count: 10))
        XCTAssertEqual(try Gzip.decompressedPrefix(try Gzip.compress(Data([1, 2, 3])), count: 10), Data([1, 2, 3]))
    }

    func testIsGzip() {
        XCTAssertTrue(Gzip.isGzip(Data([0x1F, 0x8B, 0x08])))
        XCTAssertFalse(Gzip.isGzip(Data([0x1F])))
        XCTAssertFalse(Gzip.isGzip(Data([0x00, 0x00, 0x08, 0x03])))
        XCTAssertFalse(Gzip.isGzip(Data()))
        // A slice with a non-zero start index.
        let slice = Data([0x00, 0x1F, 0x8B]).dropFirst()
        XCTAssertTrue(Gzip.isGzip(slice))
    }

    func testConcatenatedMembers() throws {
        let a = Data("first part,".utf8), b = Data("second part".utf8)
        let joined = try Gzip.compress(a) + Gzip.compress(b)
        XCTAssertEqual(try Gzip.decompress(joined, label: "two.gz"), a + b)
    }

    func testKnownStreamFromGzipTool() throws {
        // `printf 'hi\n' | gzip -n` (GNU gzip 1.12).
        let bytes: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xCB, 0xC8, 0xE4, 0x02,
                              0x00, 0x7A, 0x7A, 0x6F, 0xED, 0x03, 0x00, 0x00, 0x00]
        XCTAssertEqual(try Gzip.decompress(Data(bytes)), Data("hi\n".utf8))
    }

    func testWrongMagic() {
        assertFormatError(try Gzip.decompress(Data([0x50, 0x4B, 0x03, 0x04]), label: "x.gz"),
                          kind: .badMagic, file: "x.gz", contains: ["gzip magic 1f 8b expected, found 50 4b"])
        assertFormatError(try Gzip.decompress(Data(), label: "empty.gz"),
                          kind: .badMagic, file: "empty.gz", contains: ["empty data"])
    }

    func testTruncatedStream() throws {
        let packed = try Gzip.compress(Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) }))
        for cut in [3, 10, 20, packed.count / 2, packed.count - 4, packed.count - 1] {
            assertFormatError(try Gzip.decompress(packed.prefix(cut), label: "cut.gz"),
                              file: "cut.gz", contains: [], "cut at \(cut)")
        }
        assertFormatError(try Gzip.decompress(packed.prefix(packed.count / 2), label: "cut.gz"),
                          kind: .truncated, file: "cut.gz", contains: ["truncated gzip stream"])
    }

    func testCorruptStream() throws {
        var packed = try Gzip.compress(Data(repeating: 65, count: 10_000))
        // Damage the CRC32 in the trailer.
        packed[packed.count - 6] ^= 0xFF
        assertFormatError(try Gzip.decompress(packed, label: "crc.gz"),
                          kind: .corrupt, file: "crc.gz", contains: ["corrupt gzip stream", "incorrect data check"])
        // Invalid deflate block type right after the header.
        var bad = try Gzip.compress(Data(repeating: 1, count: 100))
        bad[10] = 0xFF
        assertFormatError(try Gzip.decompress(bad, label: "bad.gz"), kind: .corrupt, file: "bad.gz", contains: ["corrupt gzip stream"])
    }

    func testTrailingGarbage() throws {
        let packed = try Gzip.compress(Data("abc".utf8)) + Data([1, 2, 3, 4, 5])
        assertFormatError(try Gzip.decompress(packed, label: "tail.gz"),
                          kind: .trailingData, file: "tail.gz", contains: ["5 bytes of trailing garbage"])
    }
}
