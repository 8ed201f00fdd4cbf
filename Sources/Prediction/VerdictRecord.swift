/// One suspect's result as `honeytrace verify --json` prints it, whatever the watermark: the
/// watermark's own report with the fields scripts branch on added beside its own (`suspect`,
/// `watermark`, `verdict`, `is_stolen`, `p_value`, `score`, `score_name`, `threshold`, `queries`),
/// or, when the suspect could not be verified, its name, `"verdict": "error"` and the `error`.
/// The exit status of a run over several suspects also follows from these records.
public struct VerdictRecord: Encodable {
    /// The suspect as it was given (a model directory, a URL, an answers file).
    public let suspect: String
    /// The watermark's conclusion; nil when verification failed.
    public let evidence: WatermarkEvidence?
    /// Why verification failed; nil when it completed.
    public let error: String?
    private let report: (any Encodable)?

    /// A completed verification: `report` is the watermark's own result (its fields come first).
    public init(suspect: String, evidence: WatermarkEvidence, report: any Encodable) {
        self.suspect = suspect; self.evidence = evidence; self.error = nil; self.report = report
    }

    /// A verification that could not run.
    public init(suspect: String, error: String) {
        self.suspect = suspect; self.evidence = nil; self.error = error; self.report = nil
    }

    /// The watermark's own report, when it is of type `T`.
    public func report<T>(as type: T.Type) -> T? { report as? T }

    /// "stolen", "not stolen" or "error".
    public var verdict: String { evidence?.verdict ?? "error" }

    private enum Keys: String, CodingKey {
        case suspect, watermark, verdict, isStolen = "is_stolen", pValue = "p_value", score, scoreName = "score_name", threshold, queries, error
    }

    public func encode(to encoder: Encoder) throws {
        try report?.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(suspect, forKey: .suspect)
        try c.encode(verdict, forKey: .verdict)
        guard let e = evidence else {
            try c.encode(error ?? "unknown error", forKey: .error)
            return
        }
        try c.encode(e.watermark, forKey: .watermark)
        try c.encode(e.stolen, forKey: .isStolen)
        try c.encode(e.pValue, forKey: .pValue)
        try c.encode(e.value, forKey: .score)
        try c.encode(e.statistic, forKey: .scoreName)
        try c.encode(e.threshold, forKey: .threshold)
        try c.encode(e.queries, forKey: .queries)
    }

    // MARK: Exit status

    /// Exit status when no suspect is "stolen" and every verification completed.
    public static let exitNotStolen: Int32 = 0
    /// Exit status when a verification could not run (takes precedence over "stolen").
    public static let exitError: Int32 = 1
    /// Exit status when some suspect is "stolen" and every verification completed.
    public static let exitStolen: Int32 = 2

    /// The exit status of a run: 1 if any suspect could not be verified (its result is then
    /// incomplete, as grep's is on an error), else 2 if any is "stolen", else 0.
    public static func exitStatus(of records: [VerdictRecord]) -> Int32 {
        if records.contains(where: { $0.evidence == nil }) { return exitError }
        return records.contains(where: { $0.evidence?.stolen == true }) ? exitStolen : exitNotStolen
    }
}
