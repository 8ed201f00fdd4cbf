/// Byte comparison whose running time does not depend on where two inputs first differ, so a
/// client guessing an API key learns nothing from how long a refusal takes.
enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes. Every byte is visited whatever the contents;
    /// only the lengths (never secret here: both are SHA-256 digests) end it early.
    @inline(never)
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
