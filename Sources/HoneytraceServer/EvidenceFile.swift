import Foundation

/// Reads the files the evidence commands take (bundles, key files) with errors that name the file:
/// missing, a directory, unreadable, or larger than such a file can be.
enum EvidenceFile {
    /// The bytes of `path`, a `what` (e.g. "key file") of at most `maxBytes` bytes.
    ///
    /// - Throws: `ServerError(.evidence)` naming the file and the problem.
    static func contents(_ path: String, what: String, maxBytes: Int) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ServerError(file: path, .evidence, "no such \(what)")
        }
        guard !isDirectory.boolValue else { throw ServerError(file: path, .evidence, "is a directory, not a \(what)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= maxBytes else {
            throw ServerError(file: path, .evidence, "is \(size) bytes, more than a \(what) can be (\(maxBytes)); is it the right file?")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServerError(file: path, .evidence, "cannot be read (permissions?)")
        }
        return data
    }
}
