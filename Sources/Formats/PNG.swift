// The project's zlib module (see Gzip.swift for why it has its own name).
#if canImport(CZlibHT)
import CZlibHT
#else
import CZlib
#endif
import Foundation

/// A minimal PNG writer (8-bit grayscale or RGB, no interlacing, filter 0 on every row): enough
/// to hand images to people and to tools that take only image files.
public enum PNG {
    /// The 8-byte PNG signature.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes `pixels` (row-major, `channels` interleaved values per pixel, 0–255) as a PNG.
    ///
    /// - Parameter channels: 1 (grayscale) or 3 (RGB).
    /// - Throws: `FormatError(.invalidValue)` for a channel count other than 1 or 3, empty or
    ///   oversized sides, or a pixel count that does not match; `.io` when zlib fails.
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int, label: String = "<png>") throws -> Data {
        guard channels == 1 || channels == 3 else {
            throw FormatError(file: label, kind: .invalidValue, problem: "PNG images need 1 (gray) or 3 (RGB) channels, found \(channels)")
        }
        guard width >= 1, height >= 1, width <= 1 << 24, height <= 1 << 24 else {
            throw FormatError(file: label, kind: .invalidValue, problem: "PNG sides must lie in 1…\(1 << 24), found \(width)×\(height)")
        }
        guard let count = CheckedNumber.product([width, height, channels]), count == pixels.count else {
            throw FormatError(file: label, kind: .invalidValue,
                              problem: "\(width)×\(height)×\(channels) image needs \(width * height * channels) values, found \(pixels.count)")
        }
        // Each scanline is preceded by its filter type (0: none).
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        for y in 0..<height {
            raw.replaceSubrange((y * (stride + 1) + 1)..<((y + 1) * (stride + 1)), with: pixels[(y * stride)..<((y + 1) * stride)])
        }
        var header = Data()
        appendBigEndian(UInt32(width), to: &header)
        appendBigEndian(UInt32(height), to: &header)
        header.append(contentsOf: [8, channels == 1 ? 0 : 2, 0, 0, 0])  // depth 8, colour type, deflate, filter 0, no interlace
        var out = Data(signature)
        appendChunk("IHDR", header, to: &out)
        appendChunk("IDAT", try deflate(raw, label: label), to: &out)
        appendChunk("IEND", Data(), to: &out)
        return out
    }

    /// Encodes one `[C, H, W]` image of values in [0, 1] (rounded to 0–255, clamped): 1 channel
    /// as gray, 3 as RGB, any other count as its channels stacked top to bottom in one gray image.
    public static func encode(unitPixels values: UnsafeBufferPointer<Float>, shape: [Int], label: String = "<png>") throws -> Data {
        guard shape.count == 3, let count = CheckedNumber.product(shape), count == values.count else {
            throw FormatError(file: label, kind: .invalidValue, problem: "expected one [C, H, W] image, found \(values.count) values of shape \(shape)")
        }
        let (c, h, w) = (shape[0], shape[1], shape[2])
        func byte(_ v: Float) -> UInt8 { v.isNaN ? 0 : UInt8((min(max(v, 0), 1) * 255).rounded()) }
        if c == 3 {
            var rgb = [UInt8](repeating: 0, count: count)
            for p in 0..<(h * w) { for k in 0..<3 { rgb[p * 3 + k] = byte(values[k * h * w + p]) } }
            return try encode(pixels: rgb, width: w, height: h, channels: 3, label: label)
        }
        return try encode(pixels: values.map(byte), width: w, height: c * h, channels: 1, label: label)
    }

    private static func appendBigEndian(_ value: UInt32, to data: inout Data) {
        withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) }
    }

    /// Length, type, data and the CRC-32 of type and data.
    private static func appendChunk(_ type: String, _ body: Data, to out: inout Data) {
        appendBigEndian(UInt32(body.count), to: &out)
        var typed = Data(type.utf8)
        typed.append(body)
        out.append(typed)
        let crc = typed.withUnsafeBytes { raw in
            crc32(0, raw.bindMemory(to: Bytef.self).baseAddress, uInt(raw.count))
        }
        appendBigEndian(UInt32(truncatingIfNeeded: crc), to: &out)
    }

    /// A zlib stream (RFC 1950) of `bytes` at the default compression level.
    private static func deflate(_ bytes: [UInt8], label: String) throws -> Data {
        var capacity = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = bytes.withUnsafeBufferPointer { src in
            compress2(&out, &capacity, src.baseAddress, uLong(src.count), Z_DEFAULT_COMPRESSION)
        }
        guard status == Z_OK else { throw FormatError(file: label, kind: .io, problem: "zlib compress2 failed with status \(status)") }
        return Data(out.prefix(Int(capacity)))
    }
}
