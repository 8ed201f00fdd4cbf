import Foundation

/// `manifest.json` of an experiment directory: what was run, with which models and code.
public struct ExperimentManifest: Codable, Sendable {
    public struct Run: Codable, Sendable {
        public var queriesSpent: Int
        public var surrogateSHA256: String
        public var seed: UInt64
    }

    public var configuration: ExperimentConfiguration
    public var victimSHA256: String
    /// A fingerprint of the key's secret (never the secret).
    public var keyFingerprint: String
    /// The git commit the binary that wrote the manifest was built from ("-dirty" when tracked files
    /// differed from it), or "unknown" for a build outside a git checkout.
    public var codeVersion: String
    /// The machine that wrote the manifest (`ComputeEnvironment.summary`); nil in older manifests.
    public var machine: String?
    /// The data-set descriptions the grid read, with their digests (nil: built-in data only, or an older manifest).
    public var datasets: [DataSetRecord]?
    public var runs: [String: Run]

    /// The code version of this binary: the commit it was built from (the BuildCommit plugin), not
    /// the checkout the process happens to run in, which may have moved on since the build.
    public static func codeVersion() -> String { buildCommit ?? "unknown" }
}
