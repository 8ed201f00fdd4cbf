/// A problem at the prediction-API boundary: a query the API cannot take, an answer that is not
/// one valid row per image, an API that does not match what the caller needs, or a bad setting
/// of an answer-shaping wrapper. The message says what was expected and what was found.
public struct PredictionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem this is, for callers that branch on it.
    public enum Kind: String, Sendable, Equatable {
        /// The images sent do not fit the API (shape, pixel range).
        case invalidQuery
        /// The API returned something other than one valid row per image.
        case malformedAnswer
        /// The API takes other inputs or answers with other classes than the caller needs.
        case incompatible
        /// A setting of an answer-shaping wrapper is out of range or inconsistent.
        case invalidConfiguration
    }

    public let kind: Kind
    public let problem: String

    public init(_ kind: Kind, _ problem: String) {
        self.kind = kind
        self.problem = problem
    }

    public var description: String { problem }
}
