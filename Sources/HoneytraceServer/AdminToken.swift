import Crypto
import Foundation

/// The admin port's bearer token (`serve --admin-token-file`). Only its SHA-256 is kept; a
/// presented token is hashed and compared in constant time, like API keys.
public struct AdminToken: Sendable {
    private let digest: [UInt8]

    /// The token `token` (16–256 printable ASCII characters without spaces).
    public init(token: String) throws {
        guard (16...256).contains(token.count), token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ServerError(.invalidConfiguration, "the admin token must be 16–256 printable ASCII characters without spaces")
        }
        digest = Array(SHA256.hash(data: Data(token.utf8)))
    }

    /// Reads the token from `path`, which only its owner may read or write (mode 0600 or 0400):
    /// anyone else who can read it can read every client's statistics. Surrounding white space
    /// (a trailing newline) is ignored.
    public static func load(_ path: String) throws -> AdminToken {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw ServerError(file: path, .invalidConfiguration, "cannot read the admin token file: \(error.localizedDescription)")
        }
        let mode = (attributes[.posixPermissions] as? Int) ?? (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
        guard mode & 0o077 == 0 else {
            throw ServerError(file: path, .invalidConfiguration,
                              "the admin token file has mode \(String(mode, radix: 8, uppercase: false).leftPadded(to: 4)); "
                              + "it must be readable by its owner only (chmod 600 \(path))")
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ServerError(file: path, .invalidConfiguration, "cannot read the admin token file: \(error.localizedDescription)")
        }
        do { return try AdminToken(token: text.trimmingCharacters(in: .whitespacesAndNewlines)) } catch let error as ServerError {
            throw ServerError(file: path, .invalidConfiguration, error.problem)
        }
    }

    /// Whether `presented` is the token; the time taken does not depend on how much of it matches.
    public func accepts(_ presented: String) -> Bool {
        ConstantTime.equal(Array(SHA256.hash(data: Data(presented.utf8))), digest)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
