import NIOCore

/// A small JSON writer (a class, so nested `object { … }` closures can write through it) straight into a `ByteBuffer`, for the hot answers (predictions, errors):
/// no intermediate `Encodable` tree. Floats are written in Swift's shortest round-trip form, so
/// a client that parses them back as `Float` gets the server's exact values.
final class JSONWriter {
    private(set) var buffer: ByteBuffer

    init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    func object(_ body: () -> Void) {
        buffer.writeInteger(UInt8(ascii: "{"))
        body()
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    func array(_ body: () -> Void) {
        buffer.writeInteger(UInt8(ascii: "["))
        body()
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    func comma() { buffer.writeInteger(UInt8(ascii: ",")) }

    func key(_ name: String) {
        string(name)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    func int(_ value: Int) { buffer.writeString(String(value)) }

    func bool(_ value: Bool) { buffer.writeString(value ? "true" : "false") }

    /// A finite float in shortest round-trip form; NaN and infinities (never produced by the
    /// defense) are written as `null` so the document stays valid JSON.
    func float(_ value: Float) {
        if value.isFinite { buffer.writeString(value.description) } else { buffer.writeString("null") }
    }

    func double(_ value: Double) {
        if value.isFinite { buffer.writeString(value.description) } else { buffer.writeString("null") }
    }

    /// A JSON string with `"`, `\` and control characters escaped.
    func string(_ value: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0xF)])
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    /// `[v0,v1,…]` of floats.
    func floats<C: Collection>(_ values: C) where C.Element == Float {
        array {
            var first = true
            for v in values {
                if !first { comma() }
                first = false
                float(v)
            }
        }
    }

    /// `[v0,v1,…]` of integers.
    func ints<C: Collection>(_ values: C) where C.Element == Int {
        array {
            var first = true
            for v in values {
                if !first { comma() }
                first = false
                int(v)
            }
        }
    }
}
