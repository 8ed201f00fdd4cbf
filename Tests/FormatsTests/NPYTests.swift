import Foundation
import XCTest
@testable import Formats

final class NPYTests: FormatsTestCase {
    /// Bytes written by `numpy.save` (NumPy 2.x) for small arrays.
    static let numpyF32x2x2 = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c00000000000005040"
    static let numpyU8x2x3 = "934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000102030405"
    static let numpyScalarF32 = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000e040"
    static let numpyEmptyF32 = "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028302c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a"

    static func hex(_ s: String) -> Data {
        var out = Data()
        var it = s.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    /// `\x93NUMPY`, version, header length, the header text padded to 64 and the payload.
    func npy(_ header: String, payload: [UInt8], major: UInt8 = 1, pad: Bool = true) -> Data {
        var text = header
        let prefix = major == 1 ? 10 : 12
        if pad { text += String(repeating: " ", count: 63 - (prefix + text.utf8.count) % 64) + "\n" }
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0])
        let n = text.utf8.count
        if major == 1 { out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)]) } else {
            out.append(contentsOf: [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)])
        }
        out.append(contentsOf: Array(text.utf8))
        out.append(contentsOf: payload)
        return out
    }

    func testReadsNumpyWrittenFiles() throws {
        let f = try NPY.parse(Self.hex(Self.numpyF32x2x2), label: "f.npy")
        XCTAssertEqual(f.shape, [2, 2])
        XCTAssertEqual(f.dtype, .float32)
        XCTAssertEqual(f.floats, [1.5, -2, 0, 3.25])
        XCTAssertNil(f.uint8)

        let u = try NPY.parse(Self.hex(Self.numpyU8x2x3), label: "u.npy")
        XCTAssertEqual(u.shape, [2, 3])
        XCTAssertEqual(u.dtype, .uint8)
        XCTAssertEqual(u.uint8, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(u.floats, [0, 1, 2, 3, 4, 5])

        let s = try NPY.parse(Self.hex(Self.numpyScalarF32), label: "s.npy")
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.floats, [7])

        let e = try NPY.parse(Self.hex(Self.numpyEmptyF32), label: "e.npy")
        XCTAssertEqual(e.shape, [0])
        XCTAssertEqual(e.floats, [])
    }

    func testWriterIsByteIdenticalToNumpy() throws {
        XCTAssertEqual(try NPY.encode(floats: [1.5, -2, 0, 3.25], shape: [2, 2]), Self.hex(Self.numpyF32x2x2))
        XCTAssertEqual(try NPY.encode(uint8: [0, 1, 2, 3, 4, 5], shape: [2, 3]), Self.hex(Self.numpyU8x2x3))
        XCTAssertEqual(try NPY.encode(floats: [7], shape: []), Self.hex(Self.numpyScalarF32))
        XCTAssertEqual(try NPY.encode(floats: [], shape: [0]), Self.hex(Self.numpyEmptyF32))
    }

    func testFileRoundTrip() throws {
        let floats: [Float] = (0..<60).map { Float($0) * 0.25 - 3 }
        let p = path("x.npy")
        try NPY.write(floats: floats, shape: [3, 4, 5], to: p)
        let back = try NPY.read(path: p)
        XCTAssertEqual(back.shape, [3, 4, 5])
        XCTAssertEqual(back.floats, floats)
        let q = path("y.npy")
        let pixels: [UInt8] = (0..<(2 * 28 * 28)).map { UInt8($0 % 256) }
        try NPY.write(uint8: pixels, shape: [2, 28, 28], to: q)
        let px = try NPY.read(path: q)
        XCTAssertEqual(px.dtype, .uint8)
        XCTAssertEqual(px.uint8, pixels)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: q)).count % 64, (2 * 28 * 28) % 64)
    }

    func testWriterRejectsCountMismatch() {
        assertFormatError(try NPY.encode(floats: [1, 2, 3], shape: [2, 2]), kind: .mismatch, file: "<NPY data>",
                          contains: ["[2,2] needs 4 values, got 3"])
        assertFormatError(try NPY.write(uint8: [1], shape: [-1], to: path("neg.npy")), kind: .invalidValue, file: path("neg.npy"))
    }

    func testOtherDtypesAndVersions() throws {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        let f8 = try NPY.parse(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                   payload: le(Double(0.5).bitPattern) + le(Double(-1e10).bitPattern)), label: "f8")
        XCTAssertEqual(f8.floats, [0.5, -1e10])
        let i8 = try NPY.parse(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                   payload: le(Int64(-3)) + le(Int64(1) << 40)), label: "i8")
        XCTAssertEqual(i8.int64s, [-3, 1 << 40])
        XCTAssertEqual(i8.floats, [-3, Float(1 << 40)])
        let i4 = try NPY.parse(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }",
                                   payload: le(Int32(-7)) + le(Int32(9))), label: "i4")
        XCTAssertEqual(i4.floats, [-7, 9])
        XCTAssertEqual(i4.shape, [1, 2])
        let b1 = try NPY.parse(npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", payload: [1, 0, 1]), label: "b1")
        XCTAssertEqual(b1.dtype, .bool)
        XCTAssertEqual(b1.floats, [1, 0, 1])
        // Version 2.0 and 3.0 headers, double quotes, key order and no trailing comma.
        let v2 = try NPY.parse(npy("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                                   payload: le(Float(1).bitPattern) + le(Float(2).bitPattern), major: 2), label: "v2")
        XCTAssertEqual(v2.floats, [1, 2])
        let v3 = try NPY.parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                                   payload: le(Float(4).bitPattern), major: 3), label: "v3")
        XCTAssertEqual(v3.floats, [4])
        // Fortran order with a single non-trivial axis is the same layout as C order.
        let vector = try NPY.parse(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }",
                                       payload: le(Float(1).bitPattern) + le(Float(2).bitPattern)), label: "fv")
        XCTAssertEqual(vector.floats, [1, 2])
    }

    func testBadMagicAndVersion() {
        assertFormatError(try NPY.parse(Data("PK\u{3}\u{4}abcd".utf8), label: "m.npy"), kind: .badMagic, file: "m.npy",
                          contains: ["NPY magic", "found 50 4b 03 04 61 62"])
        var v = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", payload: [0, 0, 0, 0])
        v[6] = 4
        assertFormatError(try NPY.parse(v, label: "v.npy"), kind: .unsupported, file: "v.npy", contains: ["version 4.0 not supported"])
    }

    func testTruncatedHeader() {
        let full = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", payload: [0, 0, 0, 0])
        for cut in [0, 3, 7, 9, 20] {
            assertFormatError(try NPY.parse(full.prefix(cut), label: "t.npy"), file: "t.npy", contains: [], "cut \(cut)")
        }
        assertFormatError(try NPY.parse(full.prefix(20), label: "t.npy"), kind: .truncated, file: "t.npy",
                          contains: ["truncated NPY header dictionary"])
    }

    func testTruncatedPayloadAndTrailingGarbage() {
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        assertFormatError(try NPY.parse(npy(h, payload: [UInt8](repeating: 0, count: 20)), label: "p.npy"),
                          kind: .truncated, file: "p.npy", contains: ["truncated NPY payload", "[2,3] '<f4' needs 24 bytes, found 20"])
        assertFormatError(try NPY.parse(npy(h, payload: [UInt8](repeating: 0, count: 27)), label: "p.npy"),
                          kind: .trailingData, file: "p.npy", contains: ["3 bytes of trailing garbage"])
    }

    func testRejectsBigEndianFortranAndUnknownDtypes() {
        assertFormatError(try NPY.parse(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", payload: [0, 0, 0, 0]), label: "be.npy"),
                          kind: .unsupported, file: "be.npy", contains: ["big-endian dtype '>f4'"])
        assertFormatError(try NPY.parse(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", payload: [UInt8](repeating: 0, count: 16)), label: "f.npy"),
                          kind: .unsupported, file: "f.npy", contains: ["fortran_order=True not supported"])
        assertFormatError(try NPY.parse(npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", payload: [UInt8](repeating: 0, count: 8)), label: "c.npy"),
                          kind: .unsupported, file: "c.npy", contains: ["dtype '<c8' unknown or not supported"])
        assertFormatError(try NPY.parse(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", payload: [0, 0, 0, 0]), label: "s.npy"),
                          kind: .unsupported, file: "s.npy", contains: ["structured"])
        assertFormatError(try NPY.parse(npy("{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }", payload: [7]), label: "b.npy"),
                          kind: .invalidValue, file: "b.npy", contains: ["bool element 0 is 7"])
    }

    func testMalformedHeaderDicts() {
        let cases: [(String, String)] = [
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ", "expected '}'"),
            ("{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "fortran_order must be True or False"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': 1}", "shape must be a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "non-negative integers"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}", "non-integer"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "duplicate key 'descr'"),
            ("['descr']", "must be a dict"),
            ("{'descr': '<f4', 'fortran_order': Nope, 'shape': (1,)}", "unexpected name 'Nope'"),
        ]
        for (header, fragment) in cases {
            assertFormatError(try NPY.parse(npy(header, payload: [0, 0, 0, 0]), label: "h.npy"), file: "h.npy", contains: [fragment], header)
        }
    }

    /// A 1 MB header of distinct keys (a request body's worth) is rejected in linear time: the
    /// duplicate-key check once scanned every earlier key, which took seconds per body.
    func testHeaderWithManyKeysIsRejectedQuickly() {
        var header = "{"
        for i in 0..<80_000 { header += "'k\(i)': 0, " }
        header += "'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"
        XCTAssertGreaterThan(header.utf8.count, 1_000_000)
        let start = Date()
        assertFormatError(try NPY.parse(npy(header, payload: [0, 0, 0, 0], major: 2), label: "keys.npy"),
                          kind: .badHeader, file: "keys.npy", contains: ["unexpected key 'k0'"])
        // A generous bound: linear parsing takes a fraction of it, the quadratic check far more.
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    }

    func testMissingFile() {
        assertFormatError(try NPY.read(path: path("none.npy")), kind: .fileNotFound, file: path("none.npy"), contains: ["file not found"])
    }
}
