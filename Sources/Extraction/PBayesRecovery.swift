import Prediction
import TensorEngine

/// The p-Bayes adaptive attack (docs/algorithms.md §5, after ModelGuard's table recovery): a look-up table of
/// (clean, perturbed) output pairs, used to replace every observed answer by the mean of the
/// clean entries that the attacker's simulation of the defense maps near it.
///
/// Exactly:
/// 1. **Table.** Clean entries are Dirichlet samples centred on estimation rows e (the answers
///    the attacker has observed, as the reference's estimation set): α = concentration·K·e,
///    each α clamped to ≥ 1e-6; the table's `size` entries are spread evenly over the rows
///    (`concentration` = 8 is the value of docs/algorithms.md §5, the reference's `concentration_factor`). Perturbed
///    entries are `simulated.apply(clean)`.
/// 2. **Recovery of an answer y.** Among entries whose clean argmax equals argmax(y), those
///    with L1(y, perturbed) ≤ `tolerance` (0.01) vote; y is replaced by the mean of their clean
///    rows, renormalised. With no entry within tolerance, y is kept (deviation: the reference
///    then takes the single nearest entry, however far; a far entry is no evidence about y).
///
/// **Input-dependent defenses** (every watermark, Neural Honeytrace included) cannot be
/// simulated from the output alone, so `simulated` is `.none`: perturbed entries equal clean
/// ones and the table maps y → y, up to averaging within the L1 tolerance, exactly as in the
/// reference code. The attack then only helps against a known output perturbation.
public struct PBayesRecovery: Sendable {
    public struct Settings: Codable, Sendable, Equatable {
        /// Dirichlet concentration factor (α = concentration·K·estimate).
        public var concentration: Double
        /// L1 radius within which table entries vote.
        public var tolerance: Float
        /// Number of table entries.
        public var tableSize: Int
        /// The defense the attacker simulates; `.none` for input-dependent defenses.
        public var simulated: OutputPerturbation

        public init(concentration: Double = 8, tolerance: Float = 0.01, tableSize: Int = 50_000,
                    simulated: OutputPerturbation = .none) {
            self.concentration = concentration
            self.tolerance = tolerance
            self.tableSize = tableSize
            self.simulated = simulated
        }

        public func validate() throws {
            guard concentration > 0, concentration.isFinite else {
                throw ExtractionError(.invalidConfiguration, "p-Bayes concentration must be positive, found \(concentration)")
            }
            guard tolerance >= 0, tolerance.isFinite else {
                throw ExtractionError(.invalidConfiguration, "p-Bayes tolerance must be ≥ 0, found \(tolerance)")
            }
            guard tableSize >= 1 else { throw ExtractionError(.invalidConfiguration, "p-Bayes table size must be ≥ 1, found \(tableSize)") }
            try simulated.validate()
        }

        private enum CodingKeys: String, CodingKey { case concentration, tolerance, tableSize, simulated }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Settings()
            self.init(concentration: try c.decodeIfPresent(Double.self, forKey: .concentration) ?? d.concentration,
                      tolerance: try c.decodeIfPresent(Float.self, forKey: .tolerance) ?? d.tolerance,
                      tableSize: try c.decodeIfPresent(Int.self, forKey: .tableSize) ?? d.tableSize,
                      simulated: try c.decodeIfPresent(OutputPerturbation.self, forKey: .simulated) ?? d.simulated)
        }
    }

    public let settings: Settings
    public let classes: Int
    /// `[size, K]` clean entries, row-major.
    public let clean: [Float]
    /// `[size, K]` perturbed entries, row-major.
    public let perturbed: [Float]
    /// Table rows grouped by the argmax of their clean entry.
    private let byClass: [[Int]]

    /// Builds the table from estimation rows (each a probability row of K values).
    public init(settings: Settings, estimates: [[Float]], classes: Int, seed: UInt64) throws {
        try settings.validate()
        guard classes >= 1 else { throw ExtractionError(.invalidConfiguration, "p-Bayes needs at least one class") }
        guard !estimates.isEmpty else { throw ExtractionError(.missingData, "p-Bayes needs at least one estimation row") }
        if let bad = estimates.first(where: { $0.count != classes }) {
            throw ExtractionError(.invalidConfiguration, "a p-Bayes estimation row has \(bad.count) values, expected \(classes)")
        }
        var g = SeededGenerator(seed: seed)
        var clean = [Float](), perturbed = [Float]()
        clean.reserveCapacity(settings.tableSize * classes)
        perturbed.reserveCapacity(settings.tableSize * classes)
        var byClass = [[Int]](repeating: [], count: classes)
        let scale = settings.concentration * Double(classes)
        for e in 0..<settings.tableSize {
            let estimate = ProbabilityRow.normalized(estimates[e % estimates.count])
            let alpha = estimate.map { Swift.max(Double($0) * scale, 1e-6) }
            let c = Dirichlet.sample(alpha: alpha, generator: &g)
            let p = settings.simulated.apply(c, generator: &g)
            byClass[ProbabilityRow.argmax(c)].append(e)
            clean += c
            perturbed += p
        }
        self.settings = settings
        self.classes = classes
        self.clean = clean
        self.perturbed = perturbed
        self.byClass = byClass
    }

    /// The recovered row for an observed answer, and how many table entries voted (0 = kept).
    public func recover(_ y: [Float]) -> (row: [Float], votes: Int) {
        precondition(y.count == classes, "p-Bayes recovery of a row of \(y.count) values, table has \(classes) classes")
        let k = classes, tol = settings.tolerance
        var sum = [Double](repeating: 0, count: k)
        var votes = 0
        clean.withUnsafeBufferPointer { cp in
            perturbed.withUnsafeBufferPointer { pp in
                for e in byClass[ProbabilityRow.argmax(y)] {
                    let base = e * k
                    var d: Float = 0
                    for j in 0..<k {
                        d += abs(y[j] - pp[base + j])
                        if d > tol { break }
                    }
                    guard d <= tol else { continue }
                    votes += 1
                    for j in 0..<k { sum[j] += Double(cp[base + j]) }
                }
            }
        }
        guard votes > 0 else { return (y, 0) }
        return (ProbabilityRow.normalized(sum.map { Float($0 / Double(votes)) }), votes)
    }

    /// Recovers every row; also returns the fraction of rows some entry voted on.
    public func recover(_ rows: [[Float]]) -> (rows: [[Float]], matchedFraction: Double) {
        var matched = 0
        let out = rows.map { y -> [Float] in
            let r = recover(y)
            if r.votes > 0 { matched += 1 }
            return r.row
        }
        return (out, rows.isEmpty ? 0 : Double(matched) / Double(rows.count))
    }
}
