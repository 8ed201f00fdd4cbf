import Crypto
import Formats
import Foundation

/// The Ed25519 key pair an owner signs evidence bundles with (`honeytrace ledger keygen`).
///
/// Files (JSON, keys as lower-case hex):
/// - signing key, written `0600`: `{"format": "honeytrace-signing-key", "algorithm": "Ed25519",
///   "private_key": "<64 hex digits>", "public_key": "<64 hex digits>"}`;
/// - public key, beside it as `FILE.pub`: `{"format": "honeytrace-public-key", "algorithm": "Ed25519",
///   "public_key": "<64 hex digits>"}` — what a checker needs, and all that may be shared.
public struct LedgerSigningKey {
    public let privateKey: Curve25519.Signing.PrivateKey

    public init(privateKey: Curve25519.Signing.PrivateKey) { self.privateKey = privateKey }

    /// A fresh key from the system's random source (the one unseeded random choice: a key must not be predictable).
    public static func generate() -> LedgerSigningKey { LedgerSigningKey(privateKey: Curve25519.Signing.PrivateKey()) }

    /// The public key, hex.
    public var publicKeyHex: String { Hex.encode(privateKey.publicKey.rawRepresentation) }

    static let privateFormat = "honeytrace-signing-key", publicFormat = "honeytrace-public-key", algorithm = "Ed25519"

    private struct File: Codable {
        var format: String
        var algorithm: String
        var private_key: String?
        var public_key: String
    }

    /// Writes the signing key to `path` (`0600`) and its public key to `path.pub`, each atomically.
    ///
    /// - Throws: `ServerError(.evidence)` when `path` exists (unless `overwrite`: a signing key
    ///   that is lost cannot sign again), or a write fails.
    public func save(to path: String, overwrite: Bool = false) throws {
        guard overwrite || !FileManager.default.fileExists(atPath: path) else {
            throw ServerError(file: path, .evidence, "already exists; a signing key is not overwritten (move it aside, or pass --force)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let secret = File(format: Self.privateFormat, algorithm: Self.algorithm, private_key: Hex.encode(privateKey.rawRepresentation),
                          public_key: publicKeyHex)
        let shared = File(format: Self.publicFormat, algorithm: Self.algorithm, private_key: nil, public_key: publicKeyHex)
        do {
            try AtomicFile.write(try encoder.encode(secret) + Data("\n".utf8), to: path, permissions: 0o600)
            try AtomicFile.write(try encoder.encode(shared) + Data("\n".utf8), to: path + ".pub", permissions: 0o644)
        } catch let error as FormatError {
            throw ServerError(file: error.file, .evidence, error.problem)
        }
    }

    /// Reads a signing key file.
    ///
    /// - Throws: `ServerError(.evidence)` naming the file and field: unreadable, not JSON, a
    ///   public key file, a key that is not 32 bytes of hex, or a public key that is not the private key's.
    public static func load(_ path: String) throws -> LedgerSigningKey {
        let file = try read(path)
        guard file.format == privateFormat else {
            throw ServerError(file: path, .evidence, file.format == publicFormat
                              ? "is a public key file; signing needs the signing key file (from `honeytrace ledger keygen --out FILE`)"
                              : "field format is '\(file.format.prefix(60))', expected '\(privateFormat)'")
        }
        guard let hex = file.private_key else { throw ServerError(file: path, .evidence, "field private_key is missing") }
        let key: Curve25519.Signing.PrivateKey
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: try bytes(hex, field: "private_key", path: path)) } catch let e as ServerError {
            throw e
        } catch {
            throw ServerError(file: path, .evidence, "field private_key is not an Ed25519 private key: \(error)")
        }
        let signing = LedgerSigningKey(privateKey: key)
        guard signing.publicKeyHex == file.public_key.lowercased() else {
            throw ServerError(file: path, .evidence, "field public_key is not the public key of private_key (the file was edited or mixed up)")
        }
        return signing
    }

    /// Reads a public key file (or takes the public key out of a signing key file).
    ///
    /// - Throws: `ServerError(.evidence)` naming the file and field.
    public static func loadPublicKey(_ path: String) throws -> Curve25519.Signing.PublicKey {
        let file = try read(path)
        guard file.format == publicFormat || file.format == privateFormat else {
            throw ServerError(file: path, .evidence, "field format is '\(file.format.prefix(60))', expected '\(publicFormat)'")
        }
        return try publicKey(file.public_key, field: "public_key", path: path)
    }

    /// An Ed25519 public key from 64 hex digits in `field` of `path`.
    static func publicKey(_ hex: String, field: String, path: String) throws -> Curve25519.Signing.PublicKey {
        do { return try Curve25519.Signing.PublicKey(rawRepresentation: try bytes(hex, field: field, path: path)) } catch let e as ServerError {
            throw e
        } catch {
            throw ServerError(file: path, .evidence, "field \(field) is not an Ed25519 public key: \(error)")
        }
    }

    /// `count` bytes from the hex text in `field`, or an error naming the file and field.
    static func bytes(_ hex: String, field: String, path: String, count: Int = 32) throws -> [UInt8] {
        guard let b = Hex.decode(hex), b.count == count else {
            throw ServerError(file: path, .evidence, "field \(field) must be \(2 * count) hex digits (\(count) bytes), found \(hex.count) characters")
        }
        return b
    }

    private static func read(_ path: String) throws -> File {
        let data = try EvidenceFile.contents(path, what: "key file", maxBytes: 64 << 10)
        do { return try JSONDecoder().decode(File.self, from: data) } catch {
            throw ServerError(file: path, .evidence, "not a honeytrace key file: \(DecodingProblem.describe(error))")
        }
    }
}
