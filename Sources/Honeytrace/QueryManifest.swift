import Crypto
import Formats
import Foundation
import Training

/// `manifest.json` of an export of verification queries (`verify --export-queries`): which files
/// hold the queries, in which order they are answered, the trigger seed and the key's
/// fingerprint, signed with HMAC-SHA256 under a key derived from the watermark key's secret.
/// Only the key's holder can make or check the signature; a valid one shows that neither the
/// manifest nor (through their SHA-256 in it) the files were changed since the export.
public struct QueryManifest: Codable, Sendable, Equatable {
    /// One exported file and its SHA-256 (hex).
    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var sha256: String
    }

    /// Everything the signature covers.
    public struct Signed: Codable, Sendable, Equatable {
        public var format = QueryManifest.format
        public var version = 1
        /// First 16 hex digits of SHA-256 of the watermark key's secret.
        public var keyFingerprint: String
        /// SHA-256 of the protected model's weights the key belongs to.
        public var modelSHA256: String
        public var target: Int
        public var seed: UInt64
        public var pairs: Int
        public var queries: Int
        public var imageShape: [Int]
        public var classes: Int
        /// The owner's held-out data the triggers were made from.
        public var heldOut: DataFingerprint
        /// `[queries, C, H, W]` float32 pixels in [0, 1]: the exact values to answer.
        public var batch: File
        /// One PNG per query, in query order (8-bit: a rendering of the exact values).
        public var images: [File]
        /// How the queries are ordered and how to answer them, in words.
        public var order: String
        public var answers: String

        enum CodingKeys: String, CodingKey {
            case format, version, keyFingerprint = "key_fingerprint", modelSHA256 = "model_sha256", target, seed, pairs, queries
            case imageShape = "image_shape", classes, heldOut = "held_out", batch, images, order, answers
        }
    }

    /// The signature of `signed`.
    public struct Signature: Codable, Sendable, Equatable {
        public var algorithm = "HMAC-SHA256"
        /// How the HMAC key comes from the watermark key, in words.
        public var key = "HKDF-SHA256 of the watermark key's secret, info \"\(OfflineQueries.domain)\""
        /// Over `signed` encoded as JSON with sorted keys and no whitespace.
        public var covers = "the 'signed' object as compact JSON with sorted keys"
        public var value: String
    }

    public static let format = "honeytrace-verification-queries"

    public var signed: Signed
    public var signature: Signature

    /// `signed`, signed under the key derived from `secret`.
    public init(signing signed: Signed, secret: [UInt8]) throws {
        self.signed = signed
        self.signature = Signature(value: try QueryManifest.tag(signed, secret: secret).map { String(format: "%02x", $0) }.joined())
    }

    /// Whether the signature is the one `secret` gives (compared in constant time).
    public func isValid(secret: [UInt8]) throws -> Bool {
        guard signature.algorithm == "HMAC-SHA256", signature.value.count == 64 else { return false }
        var bytes = [UInt8]()
        var i = signature.value.startIndex
        while i < signature.value.endIndex {
            let next = signature.value.index(i, offsetBy: 2)
            guard let b = UInt8(signature.value[i..<next], radix: 16) else { return false }
            bytes.append(b)
            i = next
        }
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: try QueryManifest.canonical(signed),
                                                      using: OfflineQueries.derivedKey(secret: secret))
    }

    private static func canonical(_ signed: Signed) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(signed)
    }

    private static func tag(_ signed: Signed, secret: [UInt8]) throws -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: try canonical(signed), using: OfflineQueries.derivedKey(secret: secret)))
    }

    /// The manifest as written: pretty JSON with sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Reads a manifest; errors name the file and the field.
    public static func load(_ path: String) throws -> QueryManifest {
        func fail(_ problem: String) -> HoneytraceError { HoneytraceError(file: path, .invalidArgument, problem) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail(FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file (the manifest an --export-queries directory holds)")
        }
        let manifest: QueryManifest
        do { manifest = try JSONDecoder().decode(QueryManifest.self, from: data) } catch { throw fail(DecodingProblem.describe(error)) }
        guard manifest.signed.format == format, manifest.signed.version == 1 else {
            throw fail("format '\(manifest.signed.format)' version \(manifest.signed.version); expected '\(format)' version 1")
        }
        return manifest
    }
}
