/// Neural Cleanse's outlier test over a model's classes (Wang et al., S&P 2019): the anomaly index
/// of class c is (median − v_c) / (1.4826 · MAD) over the classes' values v (their smallest trigger
/// masks' L1 norms), MAD the median absolute deviation from the median; 1.4826 makes MAD estimate a
/// normal distribution's standard deviation. A class whose index exceeds 2 (a mask unusually small,
/// below the median) is flagged as a backdoor's target.
public enum AnomalyIndex {
    /// MAD's consistency constant for normally distributed values.
    public static let consistency = 1.4826
    /// NC's rule: flagged when the index exceeds 2.
    public static let threshold = 2.0

    /// The median (the mean of the two middle values for an even count).
    public static func median(_ values: [Double]) throws -> Double {
        guard !values.isEmpty else { throw StatsError.insufficientData("the median needs at least one value") }
        guard values.allSatisfy(\.isFinite) else { throw StatsError.invalidArgument("the median needs finite values, found \(values)") }
        let sorted = values.sorted(), n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// The median absolute deviation from the median.
    public static func medianAbsoluteDeviation(_ values: [Double]) throws -> Double {
        let m = try median(values)
        return try median(values.map { abs($0 - m) })
    }

    /// Each value's anomaly index (median − v) / (1.4826 · MAD). With MAD = 0 (more than half the
    /// values equal), a value at the median gets 0, one below +∞ and one above −∞.
    public static func indices(_ values: [Double]) throws -> [Double] {
        guard values.count >= 3 else { throw StatsError.insufficientData("anomaly indices need at least 3 values, found \(values.count)") }
        let m = try median(values)
        let scale = consistency * (try medianAbsoluteDeviation(values))
        return values.map { v in
            if scale > 0 { return (m - v) / scale }
            return v == m ? 0 : (v < m ? .infinity : -.infinity)
        }
    }

    /// The positions whose index exceeds `threshold`.
    public static func flagged(_ indices: [Double], threshold: Double = AnomalyIndex.threshold) -> [Int] {
        indices.indices.filter { indices[$0] > threshold }
    }
}
