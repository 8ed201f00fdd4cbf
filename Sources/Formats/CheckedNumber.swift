/// Conversions of numbers read from outside (options, files, headers, a server's replies) that
/// report a value out of range instead of trapping: `Int(_:)` on a `Double` stops the process on
/// NaN, on infinities and on values beyond `Int`, and `*` stops it on overflow.
public enum CheckedNumber {
    /// `value` rounded by `rule` when it is finite and the result lies in `range`; nil otherwise.
    public static func int(_ value: Double, rounding rule: FloatingPointRoundingRule = .towardZero,
                           in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard value.isFinite, let n = Int(exactly: value.rounded(rule)), range.contains(n) else { return nil }
        return n
    }

    /// `value` when it is a whole number in `range`; nil for fractions, NaN, infinities and values out of range.
    public static func wholeInt(_ value: Double, in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard value.isFinite, value == value.rounded() else { return nil }
        return int(value, in: range)
    }

    /// The product of `values`, or nil when one is negative or the product overflows `Int`.
    public static func product(_ values: [Int]) -> Int? { FileIO.product(values) }
}
