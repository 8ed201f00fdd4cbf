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
    /// `git describe` of the working tree when available.
    public var codeVersion: String
    /// The machine that wrote the manifest (`ComputeEnvironment.summary`); nil in older manifests.
    public var machine: String?
    /// The data-set descriptions the grid read, with their digests (nil: built-in data only, or an older manifest).
    public var datasets: [DataSetRecord]?
    public var runs: [String: Run]

    /// The code version: `git describe --always --dirty` in the current directory, else "unknown".
    public static func codeVersion() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "describe", "--always", "--dirty"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "unknown" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
    }
}
