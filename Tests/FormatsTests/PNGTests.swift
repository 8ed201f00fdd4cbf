#if canImport(CZlibHT)
import CZlibHT
#else
import CZlib
#endif
import Foundation
import XCTest
@testable import Formats

final class PNGTests: FormatsTestCase {
    /// The chunks of a PNG: type and body, each CRC checked.
    func chunks(_ png: Data) throws -> [(type: String, body: Data)] {
        let bytes = [UInt8](png)
        XCTAssertEqual(Array(bytes.prefix(8)), PNG.signature)
        var out: [(String, Data)] = [], at = 8
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        while at < bytes.count {
            let length = u32(at)
            let typed = Array(bytes[(at + 4)..<(at + 8 + length)])
            let crc = typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            XCTAssertEqual(UInt32(truncatingIfNeeded: crc), UInt32(u32(at + 8 + length)), "CRC of chunk at \(at)")
            out.append((String(decoding: typed.prefix(4), as: UTF8.self), Data(typed.dropFirst(4))))
            at += 12 + length
        }
        return out
    }

    func inflate(_ body: Data, size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var length = uLong(size)
        let status = [UInt8](body).withUnsafeBufferPointer { uncompress(&out, &length, $0.baseAddress, uLong($0.count)) }
        XCTAssertEqual(status, Z_OK)
        XCTAssertEqual(Int(length), size)
        return out
    }

    func testGrayImageRoundTripsThroughItsChunks() throws {
        let pixels: [UInt8] = (0..<12).map { UInt8($0 * 20) }
        let png = try PNG.encode(pixels: pixels, width: 4, height: 3, channels: 1)
        let parts = try chunks(png)
        XCTAssertEqual(parts.map(\.type), ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual([UInt8](parts[0].body), [0, 0, 0, 4, 0, 0, 0, 3, 8, 0, 0, 0, 0])
        let raw = inflate(parts[1].body, size: 3 * 5)
        XCTAssertEqual(raw, [0, 0, 20, 40, 60, 0, 80, 100, 120, 140, 0, 160, 180, 200, 220])
    }

    func testUnitPixelsBecomeBytesAndRGBIsInterleaved() throws {
        // [3, 1, 2]: red (1, 0), green (0, 0.5), blue (0.2, 2 → clamped)
        let values: [Float] = [1, 0, 0, 0.5, 0.2, 2]
        let png = try values.withUnsafeBufferPointer { try PNG.encode(unitPixels: $0, shape: [3, 1, 2]) }
        let parts = try chunks(png)
        XCTAssertEqual(parts[0].body[parts[0].body.startIndex + 9], 2, "colour type RGB")
        XCTAssertEqual(inflate(parts[1].body, size: 7), [0, 255, 0, 51, 0, 128, 255])
        // Two channels: stacked into one gray image twice as tall.
        let two = try [Float](repeating: 0.5, count: 8).withUnsafeBufferPointer { try PNG.encode(unitPixels: $0, shape: [2, 2, 2]) }
        XCTAssertEqual([UInt8](try chunks(two)[0].body.prefix(8)), [0, 0, 0, 2, 0, 0, 0, 4])
    }

    func testBadShapesAreRefused() {
        assertFormatError(try PNG.encode(pixels: [1, 2], width: 1, height: 1, channels: 1, label: "x.png"),
                          kind: .invalidValue, file: "x.png", contains: ["found 2"])
        assertFormatError(try PNG.encode(pixels: [1, 2], width: 1, height: 1, channels: 2, label: "x.png"),
                          kind: .invalidValue, file: "x.png", contains: ["found 2"])
        assertFormatError(try PNG.encode(pixels: [], width: 0, height: 1, channels: 1), kind: .invalidValue, file: "<png>", contains: ["0×1"])
    }
}
