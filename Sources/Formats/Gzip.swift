// The project's own zlib module map. On Linux ZIPFoundation also ships a module named
// `CZlib`; two modules of one name cannot coexist, so the project's is expected under a
// distinct name (CZlibHT). Falls back to `CZlib` when only one of them is present.
#if canImport(CZlibHT)
import CZlibHT
#else
import CZlib
#endif
import Foundation

/// gzip (RFC 1952) compression and decompression through the system zlib.
///
/// The data sets of the project ship gzip-compressed (IDX files, the MNIST-5k CSV);
/// the compressor exists so that writers and tests can produce the same kind of files.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes `1f 8b`.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// Most bytes one compressed byte can expand to: deflate's limit, about 1032:1.
    public static let maxExpansion = 1032

    /// Decompresses a gzip stream, including several concatenated gzip members.
    ///
    /// - Parameters:
    ///   - label: names the data in errors (usually its file path).
    ///   - maxBytes: when set, decompression stops one byte past it and throws, so a small
    ///     stream cannot expand to gigabytes (a gzip bomb) before the caller sees its size.
    ///   - limitReason: what `maxBytes` is, for the error (e.g. "the size its IDX header declares").
    /// - Throws: `FormatError` for a missing gzip magic (`.badMagic`), a stream that
    ///   ends early (`.truncated`), damaged data or a CRC/length mismatch (`.corrupt`),
    ///   bytes after the last member (`.trailingData`), or more than `maxBytes` of output (`.invalidValue`).
    public static func decompress(_ data: Data, label: String = "<gzip data>", maxBytes: Int? = nil,
                                  limitReason: String = "the limit") throws -> Data {
        try inflateAll(data, label: label, maxBytes: maxBytes, limitReason: limitReason, stopAtLimit: false)
    }

    /// The first `count` decompressed bytes of a gzip stream (all of them when it holds fewer),
    /// without inflating the rest: enough to read a header before trusting the whole stream.
    public static func decompressedPrefix(_ data: Data, count: Int, label: String = "<gzip data>") throws -> Data {
        try inflateAll(data, label: label, maxBytes: max(count, 0), limitReason: "", stopAtLimit: true)
    }

    private static func inflateAll(_ data: Data, label: String, maxBytes: Int?, limitReason: String,
                                   stopAtLimit: Bool) throws -> Data {
        guard isGzip(data) else {
            let found = data.prefix(2).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw FormatError(file: label, kind: .badMagic,
                              problem: "gzip magic 1f 8b expected, found \(found.isEmpty ? "empty data" : found)")
        }
        // ISIZE (the last member's length mod 2^32) is a good first guess for the output size.
        var capacity = 1 << 16
        if data.count >= 18 {
            let isize = data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $0.count - 4, as: UInt32.self)) }
            // Deflate cannot expand more than ~1032:1, so a corrupt ISIZE cannot force a huge buffer.
            capacity = max(capacity, min(Int(isize), data.count * 1032, 1 << 30) + 1)
        }
        capacity = max(capacity, min(data.count, 1 << 28) * 2)
        // One byte past the limit is room enough to tell that the stream exceeds it.
        let cap = maxBytes.map { $0 < Int.max ? $0 + 1 : $0 }
        if let cap { capacity = min(capacity, cap) }
        var output = Data(count: capacity)
        var produced = 0
        var stoppedAtLimit = false

        var stream = z_stream()
        var status = inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw FormatError(file: label, kind: .io, problem: "zlib inflateInit2 failed with code \(status)")
        }
        defer { inflateEnd(&stream) }

        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let inBase = input.baseAddress else { return }
            let total = input.count
            var fed = 0  // bytes handed to zlib so far
            var members = 1
            func consumed() -> Int { fed - Int(stream.avail_in) }

            while true {
                if stream.avail_in == 0 && fed < total {
                    let chunk = min(total - fed, 1 << 30)
                    stream.next_in = UnsafeMutablePointer(mutating: (inBase + fed).assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(chunk)
                    fed += chunk
                }
                if produced == output.count {
                    output.count = cap.map { min(output.count * 2, $0) } ?? output.count * 2
                }
                let room = min(output.count - produced, 1 << 30)
                status = output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Int32 in
                    stream.next_out = (out.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(room)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                produced += room - Int(stream.avail_out)
                if let maxBytes, produced > maxBytes {
                    if stopAtLimit {
                        stoppedAtLimit = true
                        return
                    }
                    throw FormatError(file: label, kind: .invalidValue,
                                      problem: "gzip stream decompresses to more than \(maxBytes) bytes, \(limitReason); stopped there")
                }

                switch status {
                case Z_STREAM_END:
                    let rest = total - consumed()
                    if rest == 0 { return }
                    let next = consumed()
                    if rest >= 2 && input[next] == 0x1F && input[next + 1] == 0x8B {
                        members += 1
                        inflateReset(&stream)
                        continue
                    }
                    throw FormatError(file: label, kind: .trailingData,
                                      problem: "\(rest) bytes of trailing garbage after gzip member \(members) (ends at offset \(next) of \(total))")
                case Z_OK, Z_BUF_ERROR:
                    if stream.avail_in == 0 && fed == total && stream.avail_out > 0 {
                        throw FormatError(file: label, kind: .truncated,
                                          problem: "truncated gzip stream: input ended after \(total) bytes (\(produced) bytes decompressed) before the end of member \(members)")
                    }
                case Z_DATA_ERROR, Z_NEED_DICT:
                    let message = stream.msg.map { String(cString: $0) } ?? "invalid data"
                    throw FormatError(file: label, kind: .corrupt,
                                      problem: "corrupt gzip stream in member \(members) near input offset \(consumed()): \(message)")
                case Z_MEM_ERROR:
                    throw FormatError(file: label, kind: .io, problem: "zlib ran out of memory while decompressing")
                default:
                    throw FormatError(file: label, kind: .corrupt, problem: "zlib inflate failed with code \(status)")
                }
            }
        }
        output.count = stoppedAtLimit ? (maxBytes ?? produced) : produced
        return output
    }

    /// Compresses `data` into a single gzip member.
    ///
    /// - Parameter level: zlib level 0 (store) ... 9 (best); 6 is zlib's default.
    public static func compress(_ data: Data, level: Int = 6) throws -> Data {
        guard (0...9).contains(level) else {
            throw FormatError(file: "<gzip data>", kind: .invalidValue, problem: "compression level \(level) outside 0...9")
        }
        var stream = z_stream()
        var status = deflateInit2_(&stream, Int32(level), Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw FormatError(file: "<gzip data>", kind: .io, problem: "zlib deflateInit2 failed with code \(status)")
        }
        defer { deflateEnd(&stream) }

        var output = Data(count: Int(deflateBound(&stream, uLong(data.count))) + 64)
        var produced = 0
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            let total = input.count
            var fed = 0
            while true {
                if stream.avail_in == 0 && fed < total, let inBase = input.baseAddress {
                    let chunk = min(total - fed, 1 << 30)
                    stream.next_in = UnsafeMutablePointer(mutating: (inBase + fed).assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(chunk)
                    fed += chunk
                }
                if produced == output.count { output.count *= 2 }
                let room = min(output.count - produced, 1 << 30)
                let flush = (fed == total) ? Z_FINISH : Z_NO_FLUSH
                status = output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Int32 in
                    stream.next_out = (out.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(room)
                    return deflate(&stream, flush)
                }
                produced += room - Int(stream.avail_out)
                if status == Z_STREAM_END { return }
                if status != Z_OK && status != Z_BUF_ERROR {
                    throw FormatError(file: "<gzip data>", kind: .io, problem: "zlib deflate failed with code \(status)")
                }
            }
        }
        output.count = produced
        return output
    }
}
