/// The defense a client gets once it has been answered `afterQueries` images: a thief needs
/// thousands of queries, an honest client rarely does, so a stronger defense (with a larger
/// accuracy budget) can answer only the heavy clients. Stored in the key so that `serve`, which
/// counts each client's queries in its ledger, applies what the experiments measured.
public struct HeavyClientPolicy: Codable, Sendable, Equatable {
    /// Images a client is answered by the key's own defense before this one takes over.
    public var afterQueries: Int
    /// The heavy-client defense's settings (d calibrated to its own budget).
    public var defense: DefenseConfiguration
    /// True: a heavy client's row keeps the key's defense's answer where that defense flipped it
    /// (the flips of both); false: the heavy defense alone.
    public var union: Bool

    public init(afterQueries: Int, defense: DefenseConfiguration, union: Bool = false) {
        self.afterQueries = afterQueries
        self.defense = defense
        self.union = union
    }

    enum CodingKeys: String, CodingKey { case afterQueries = "after_queries", defense, union }

    /// The heavy-client defense chosen on the development seeds, from a key's defense: without the
    /// out-of-distribution gate, flipping almost every query it scores (β = 0.05); where the base
    /// reads the key's mark probe, the probe alone scores (s > 0 only where it reads above 1 − d)
    /// and the unconfident boost is off, so flips go to the queries most like a marked image
    /// rather than to every unusual one.
    public static func recommendedDefense(from base: DefenseConfiguration) -> DefenseConfiguration {
        var heavy = base
        heavy.outOfDistributionGate = nil
        heavy.flippingPower = 0.05
        if base.score.needsProbe {
            heavy.score = .markProbe
            heavy.unconfidentThreshold = nil
        }
        return heavy
    }

    /// The accuracy budget, in percentage points, the recommended heavy-client defense is
    /// calibrated to by default.
    public static let recommendedBudgetPoints = 15.0

    /// Throws `invalidArgument` unless the threshold is ≥ 0 and the defense is valid.
    public func validate() throws {
        guard afterQueries >= 0 else {
            throw HoneytraceError(.invalidArgument, "heavy-client policy: after_queries must be ≥ 0, found \(afterQueries)")
        }
        try defense.validate()
    }
}
