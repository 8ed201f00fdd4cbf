import Foundation

/// An IDX array of unsigned bytes: its dimensions and its elements in row-major order.
public struct IDXArray: Sendable, Equatable {
    /// Dimension sizes, outermost first (e.g. `[60000, 28, 28]`).
    public var dims: [Int]
    /// The elements, row-major; `bytes.count == dims.reduce(1, *)`.
    public var bytes: [UInt8]

    public init(dims: [Int], bytes: [UInt8]) {
        self.dims = dims
        self.bytes = bytes
    }
}

/// Reader and writer for the IDX format of MNIST and Fashion-MNIST.
///
/// Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of
/// dimensions, one big-endian UInt32 per dimension, then the elements. Files may be
/// gzip-compressed; compression is detected by the gzip magic bytes.
/// Only the unsigned-byte type (0x08) is supported; the other IDX types are
/// recognised and rejected with a clear message.
public enum IDX {
    /// The only supported element type code: unsigned byte.
    public static let ubyteTypeCode: UInt8 = 0x08

    private static let typeNames: [UInt8: (name: String, size: Int)] = [
        0x08: ("unsigned byte", 1), 0x09: ("signed byte", 1), 0x0B: ("int16", 2),
        0x0C: ("int32", 4), 0x0D: ("float32", 4), 0x0E: ("float64", 8),
    ]

    /// Reads an IDX file (raw or gzip) from `path`.
    public static func read(path: String) throws -> IDXArray {
        try parse(FileIO.read(path), label: path)
    }

    /// Parses IDX bytes (raw or gzip).
    ///
    /// - Parameters:
    ///   - label: names the data in errors.
    ///   - expectedDims: when set, the magic must be `0x000008(expectedDims)`.
    /// - Throws: `FormatError` for wrong magic, unsupported type, zero dimensions,
    ///   truncated header or payload, and trailing bytes after the payload.
    public static func parse(_ data: Data, label: String, expectedDims: Int? = nil) throws -> IDXArray {
        let raw = Gzip.isGzip(data) ? try inflate(data, label: label) : data
        return try raw.withUnsafeBytes { buf in
            var cursor = ByteCursor(buf, label: label)
            let magic = try cursor.u32be("IDX header (4-byte magic)")
            let typeCode = UInt8((magic >> 8) & 0xFF)
            let dimCount = Int(magic & 0xFF)
            if let expectedDims {
                let expected = UInt32(ubyteTypeCode) << 8 | UInt32(expectedDims)
                if magic != expected {
                    throw FormatError(file: label, kind: .badMagic,
                                      problem: "IDX magic \(FileIO.hex32(expected)) expected, found \(FileIO.hex32(magic))")
                }
            }
            if magic >> 16 != 0 {
                throw FormatError(file: label, kind: .badMagic,
                                  problem: "IDX magic must start with two zero bytes (0x0000), found \(FileIO.hex32(magic))")
            }
            guard let type = typeNames[typeCode] else {
                throw FormatError(file: label, kind: .badMagic,
                                  problem: "IDX type code \(FileIO.hex8(typeCode)) unknown (magic \(FileIO.hex32(magic))); expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e")
            }
            if typeCode != ubyteTypeCode {
                throw FormatError(file: label, kind: .unsupported,
                                  problem: "IDX type code \(FileIO.hex8(typeCode)) (\(type.name)) not supported; only 0x08 (unsigned byte)")
            }
            if dimCount == 0 {
                throw FormatError(file: label, kind: .badHeader, problem: "IDX dimension count is 0; at least 1 expected")
            }
            var dims: [Int] = []
            dims.reserveCapacity(dimCount)
            for i in 0..<dimCount {
                dims.append(Int(try cursor.u32be("IDX header (dimension \(i) of \(dimCount))")))
            }
            guard let count = FileIO.product(dims) else {
                throw FormatError(file: label, kind: .invalidValue,
                                  problem: "IDX dimensions \(FileIO.shapeText(dims)) overflow the addressable size")
            }
            let payload = cursor.remaining
            if payload < count {
                throw FormatError(file: label, kind: .truncated,
                                  problem: "truncated IDX payload: dimensions \(FileIO.shapeText(dims)) need \(count) bytes, found \(payload)")
            }
            if payload > count {
                throw FormatError(file: label, kind: .trailingData,
                                  problem: "IDX payload has \(payload - count) bytes of trailing garbage: dimensions \(FileIO.shapeText(dims)) need \(count) bytes, found \(payload)")
            }
            let body = try cursor.take(count, "IDX payload")
            return IDXArray(dims: dims, bytes: [UInt8](body))
        }
    }

    /// Decompresses a gzip IDX file no further than its header says it holds: the header is
    /// inflated first, and the rest stops one byte past the declared size, so a small file of
    /// zeros cannot expand to gigabytes before its error.
    private static func inflate(_ data: Data, label: String) throws -> Data {
        let head = try Gzip.decompressedPrefix(data, count: 4 + 4 * 255, label: label)
        // An unreadable header is reported by `parse` from these bytes alone.
        guard let declared = declaredSize(head) else { return head }
        let possible = data.count.multipliedReportingOverflow(by: Gzip.maxExpansion)
        if !possible.overflow && declared > possible.partialValue {
            throw FormatError(file: label, kind: .truncated,
                              problem: "the IDX header declares \(declared) bytes, more than \(data.count) gzip bytes can hold (at most \(possible.partialValue))")
        }
        return try Gzip.decompress(data, label: label, maxBytes: declared, limitReason: "the size its IDX header declares")
    }

    /// Header plus payload bytes of a well-formed unsigned-byte IDX header at the start of
    /// `head`, or nil when the header is incomplete, malformed or its size overflows.
    private static func declaredSize(_ head: Data) -> Int? {
        let bytes = [UInt8](head)
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0, bytes[2] == ubyteTypeCode, bytes[3] > 0 else { return nil }
        let dimCount = Int(bytes[3])
        let headerSize = 4 + 4 * dimCount
        guard bytes.count >= headerSize else { return nil }
        let dims = (0..<dimCount).map { i in
            bytes[(4 + 4 * i)..<(8 + 4 * i)].reduce(0) { $0 << 8 | Int($1) }
        }
        guard let count = FileIO.product(dims) else { return nil }
        let (total, overflow) = count.addingReportingOverflow(headerSize)
        return overflow ? nil : total
    }

    /// Serialises `array` as raw (uncompressed) IDX bytes.
    public static func encode(_ array: IDXArray, label: String = "<IDX data>") throws -> Data {
        guard (1...255).contains(array.dims.count) else {
            throw FormatError(file: label, kind: .invalidValue,
                              problem: "IDX needs 1...255 dimensions, got \(array.dims.count)")
        }
        for d in array.dims where d < 0 || d > Int(UInt32.max) {
            throw FormatError(file: label, kind: .invalidValue,
                              problem: "IDX dimension \(d) outside 0...\(UInt32.max)")
        }
        guard let count = FileIO.product(array.dims), count == array.bytes.count else {
            throw FormatError(file: label, kind: .mismatch,
                              problem: "IDX dimensions \(FileIO.shapeText(array.dims)) do not match \(array.bytes.count) bytes")
        }
        var out = Data(capacity: 4 + 4 * array.dims.count + count)
        out.appendBE(UInt32(ubyteTypeCode) << 8 | UInt32(array.dims.count))
        for d in array.dims { out.appendBE(UInt32(d)) }
        out.append(contentsOf: array.bytes)
        return out
    }

    /// Writes `array` to `path` atomically, gzip-compressed when `gzip` is true.
    public static func write(_ array: IDXArray, to path: String, gzip: Bool = false) throws {
        var data = try encode(array, label: path)
        if gzip { data = try Gzip.compress(data) }
        try AtomicFile.write(data, to: path)
    }

    /// Reads an IDX image file (3 dimensions: count × rows × cols, magic 0x00000803).
    public static func readImages(path: String) throws -> (count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
        let array = try parse(FileIO.read(path), label: path, expectedDims: 3)
        return (array.dims[0], array.dims[1], array.dims[2], array.bytes)
    }

    /// Reads an IDX label file (1 dimension, magic 0x00000801).
    public static func readLabels(path: String) throws -> [UInt8] {
        try parse(FileIO.read(path), label: path, expectedDims: 1).bytes
    }

    /// Reads an image file and its label file and checks that their counts agree.
    public static func readImagesAndLabels(imagesPath: String, labelsPath: String) throws
        -> (count: Int, rows: Int, cols: Int, pixels: [UInt8], labels: [UInt8]) {
        let images = try readImages(path: imagesPath)
        let labels = try readLabels(path: labelsPath)
        if images.count != labels.count {
            throw FormatError(file: labelsPath, kind: .mismatch,
                              problem: "\(labels.count) labels but \(imagesPath) has \(images.count) images")
        }
        return (images.count, images.rows, images.cols, images.pixels, labels)
    }
}
