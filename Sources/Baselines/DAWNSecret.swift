import Crypto
import Formats
import Foundation

/// DAWN's 32-byte HMAC secret. Its file is one line of 64 hex digits, written `0600`; only its
/// fingerprint (SHA-256 of a domain tag and the secret, first 16 hex digits) ever leaves it, so
/// logs and databases can say which secret marked them without revealing it.
public struct DAWNSecret: Sendable, Equatable {
    public let bytes: [UInt8]

    /// - Throws: `invalidConfiguration` unless the secret is 32 bytes.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw BaselineError(.invalidConfiguration, "a DAWN secret is 32 bytes, found \(bytes.count)") }
        self.bytes = bytes
    }

    /// A fresh secret from the system's random source.
    public static func generate() -> DAWNSecret {
        var g = SystemRandomNumberGenerator()
        return try! DAWNSecret(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// Names the secret without revealing it.
    public var fingerprint: String {
        var hasher = SHA256()
        hasher.update(data: Array("honeytrace/baseline/dawn/fingerprint".utf8))
        hasher.update(data: bytes)
        return Hex.encode(hasher.finalize().prefix(8))
    }

    /// Reads a secret file.
    ///
    /// - Throws: `malformedFile` naming the file when it cannot be read or is not 64 hex digits.
    public static func load(_ path: String) throws -> DAWNSecret {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw BaselineError(.malformedFile, "\(path): cannot read the DAWN secret: \(error.localizedDescription)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count == 64, let bytes = Hex.decode(text) else {
            throw BaselineError(.malformedFile, "\(path): a DAWN secret file holds one line of 64 hex digits (32 bytes); found \(text.count) characters\(text.count == 64 ? " that are not all hex digits" : "")")
        }
        return try DAWNSecret(bytes: bytes)
    }

    /// Writes the secret atomically, readable by its owner only.
    public func save(to path: String) throws {
        try AtomicFile.write(Data((Hex.encode(bytes) + "\n").utf8), to: path, permissions: 0o600)
    }
}
