/// A problem in a baseline watermark: a bad setting, data that cannot serve it (too few images
/// of a class, an attacker pool), or a watermark that did not take. The message says what was
/// expected and what was found.
public struct BaselineError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem this is, for callers that branch on it.
    public enum Kind: String, Sendable, Equatable {
        /// A setting is out of range or inconsistent.
        case invalidConfiguration
        /// The data given cannot serve the baseline (wrong role, too few images, wrong shape).
        case unusableData
        /// A file (trigger set, watermark log) is malformed.
        case malformedFile
        /// The watermark could not be made (e.g. too few triggers survive a filter).
        case watermarkFailed
    }

    public let kind: Kind
    public let problem: String

    public init(_ kind: Kind, _ problem: String) {
        self.kind = kind
        self.problem = problem
    }

    public var description: String { problem }
}
