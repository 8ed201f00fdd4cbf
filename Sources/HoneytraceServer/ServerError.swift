import Foundation

/// A problem that stops the server from starting (or the client from reaching one): a bad
/// configuration, clients file or database, a model or key that cannot be loaded, or an HTTP
/// endpoint that answers badly. Names the file or URL concerned and what is wrong.
public struct ServerError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
    /// Broad category, for callers (and tests) that branch on it.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// A configuration value is out of range or inconsistent.
        case invalidConfiguration
        /// The clients file is missing, not JSON, or has an invalid entry.
        case invalidClientsFile
        /// The query database cannot be opened: corrupted, locked, not a database, unwritable.
        case database
        /// The model directory or the watermark key cannot be loaded or do not fit together.
        case model
        /// An HTTP endpoint could not be reached or answered with an error or a malformed body.
        case endpoint
        /// An evidence ledger, evidence bundle or signing key cannot be read, or does not hold what it should.
        case evidence
    }

    /// The file or URL concerned, when there is one.
    public let file: String?
    public let kind: Kind
    /// What is wrong, without the file name.
    public let problem: String

    public init(file: String? = nil, _ kind: Kind, _ problem: String) {
        self.file = file
        self.kind = kind
        self.problem = problem
    }

    /// `"<file>: <problem>"`, or the problem alone.
    public var description: String { file.map { "\($0): \(problem)" } ?? problem }
    public var errorDescription: String? { description }
}
