import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe creation of a directory of files: they are written into a temporary sibling
/// directory, which is renamed into place only when all are complete. Readers see either no
/// directory (or the empty one that was there) or all of it, and an existing non-empty
/// directory is never touched.
public enum AtomicDirectory {
    /// Creates `path` with the files `fill` writes into the temporary directory it is given.
    ///
    /// - Throws: `FormatError(.invalidValue)` when `path` exists and is a file or a non-empty
    ///   directory (nothing is written then); `.io` naming the failing step; whatever `fill`
    ///   throws (the temporary directory is removed).
    public static func create(_ path: String, fill: (String) throws -> Void) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw FormatError(file: path, kind: .invalidValue, problem: "exists and is a file; expected a new or empty directory")
            }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            guard entries.isEmpty else {
                throw FormatError(file: path, kind: .invalidValue,
                                  problem: "is not empty (\(entries.count) entries); expected a new or empty directory, so that nothing in it is overwritten")
            }
        }
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        let temp = FileIO.dirname(trimmed) + "/.\(FileIO.basename(trimmed)).tmp-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        do {
            try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: false)
        } catch {
            throw FormatError(file: path, kind: .io, problem: "cannot create the temporary directory '\(temp)': \(error.localizedDescription)")
        }
        var done = false
        defer { if !done { try? FileManager.default.removeItem(atPath: temp) } }
        try fill(temp)
        // rename(2) replaces an empty directory atomically and refuses a non-empty one.
        guard rename(temp, trimmed) == 0 else {
            throw FormatError(file: path, kind: .io, problem: "rename into place failed: \(FileIO.errnoText(errno))")
        }
        done = true
    }
}
