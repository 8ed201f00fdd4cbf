/// The byte string that ledger entries and evidence bundles are hashed and signed over: fixed-width
/// integers big-endian, floats as their IEEE 754 bits big-endian, text as a 4-byte big-endian byte
/// count followed by its UTF-8. Anyone can rebuild it from the fields (docs/server.md, "Evidence ledger").
struct CanonicalBytes {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// A fixed tag, written without a length (it opens every encoding of one kind).
    mutating func tag(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }

    mutating func f32(_ value: Float) {
        let bits = value.bitPattern
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }

    /// `u32(byte count) ‖ UTF-8`.
    mutating func text(_ value: String) {
        let utf8 = value.utf8
        let n = UInt32(truncatingIfNeeded: utf8.count)
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: n >> UInt32(shift))) }
        bytes.append(contentsOf: utf8)
    }

    /// Raw bytes of a known width (digests), without a length.
    mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }
}
