/// A problem in an extraction attack: a spent budget, a malformed query, or a bad
/// configuration. The message says what was expected and what was found.
public struct ExtractionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem this is, for callers that branch on it.
    public enum Kind: String, Sendable, Equatable {
        /// A query would take the boundary past its budget; nothing was sent.
        case budgetExceeded
        /// Images or answer rows that do not fit what the attack needs (shape, count).
        case invalidQuery
        /// A configuration value is out of range or inconsistent.
        case invalidConfiguration
        /// Data the attack needs (a pool, a test set) is missing or unusable.
        case missingData
    }

    public let kind: Kind
    public let problem: String

    public init(_ kind: Kind, _ problem: String) {
        self.kind = kind
        self.problem = problem
    }

    public var description: String { problem }
}
