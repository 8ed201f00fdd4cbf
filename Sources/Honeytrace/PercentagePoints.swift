/// Reading a figure that files now hold in percentage points (0.5 = half a point) but older files
/// held as a fraction (0.005) under another name: accuracy budgets and drops. One unit everywhere,
/// and no old file read wrong by a factor of 100.
public enum PercentagePoints {
    /// The value under `new`, or the one under `old` times 100 (rounded to 9 decimals, so that
    /// 0.005 reads as 0.5, not 0.5000000000000001). Both at once is refused, as neither may win
    /// silently; neither is refused naming `what` the field holds.
    public static func decode<K: CodingKey>(_ c: KeyedDecodingContainer<K>, new: K, old: K, what: String) throws -> Double {
        let points = try c.decodeIfPresent(Double.self, forKey: new)
        let fraction = try c.decodeIfPresent(Double.self, forKey: old)
        switch (points, fraction) {
        case (let p?, nil): return p
        case (nil, let f?): return (f * 100 * 1e9).rounded() / 1e9
        case (.some, .some):
            throw DecodingError.dataCorruptedError(forKey: old, in: c, debugDescription:
                "both '\(new.stringValue)' (percentage points) and the deprecated '\(old.stringValue)' (a fraction) are set; keep '\(new.stringValue)' only")
        case (nil, nil):
            throw DecodingError.keyNotFound(new, .init(codingPath: c.codingPath, debugDescription:
                "field '\(new.stringValue)' (\(what) in percentage points, e.g. 0.5) is missing"))
        }
    }
}
