import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which process is running which cell of a grid, so several worker processes on one
/// experiment directory share its cells (`experiment run --jobs N`).
///
/// A claim is a file `<runs>/<cell id>.claim` naming the claimer: its process id and the time
/// the process started (field 22 of /proc/<pid>/stat), so a pid reused after a restart does not
/// pass for the claimer. It is written to a private file first and linked into place, which
/// fails when the claim exists: exactly one process gets each cell, and a claim is never seen
/// half written. A claim whose process is gone (a worker that crashed or was killed) is stale:
/// workers do not wait on it, and only the coordinating process removes stale claims
/// (`removeStale`), before it starts workers, so no two processes race to replace one.
struct CellClaims {
    let directory: String

    func file(_ id: String) -> String { directory + "/" + id + ".claim" }

    /// Claims `id` for this process; false when another claim exists (live or stale).
    ///
    /// - Throws: `ExperimentError` naming the file when the claim can be neither made nor found.
    func claim(_ id: String) throws -> Bool {
        let path = file(id), pid = getpid()
        let draft = "\(path).\(pid).draft"
        let text = "\(pid) \(CellClaims.startTime(of: pid) ?? 0)\n"
        do { try text.write(toFile: draft, atomically: false, encoding: .utf8) } catch {
            throw ExperimentError("\(draft): cannot write the claim (\(error.localizedDescription))")
        }
        defer { unlink(draft) }
        if link(draft, path) == 0 { return true }
        if errno == EEXIST { return false }
        throw ExperimentError("\(path): cannot create the claim (\(String(cString: strerror(errno))))")
    }

    /// Gives `id` back (after its record is written, or when running it failed).
    func release(_ id: String) { unlink(file(id)) }

    /// The process holding `id`'s claim and its start time, if a claim exists and names one.
    func holder(_ id: String) -> (pid: Int32, started: UInt64)? {
        guard let data = FileManager.default.contents(atPath: file(id)) else { return nil }
        let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let pid = Int32(fields[0]), let started = UInt64(fields[1]) else { return nil }
        return (pid, started)
    }

    /// Whether the process that made `id`'s claim is still running (a worker should wait for
    /// that cell). A claim that cannot be read counts as stale.
    func isHeldByLiveProcess(_ id: String) -> Bool {
        guard let h = holder(id), h.pid > 0 else { return false }
        return CellClaims.startTime(of: h.pid) == h.started
    }

    /// Removes the claims whose process is gone; returns their cell ids.
    @discardableResult
    func removeStale() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names.sorted() where name.hasSuffix(".claim") {
            let id = String(name.dropLast(".claim".count))
            if !isHeldByLiveProcess(id) {
                release(id)
                removed.append(id)
            }
        }
        return removed
    }

    /// When process `pid` started (clock ticks after boot), or nil when there is no such process.
    static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces) start at field 3; 22 is the start time.
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        return rest.count > 19 ? UInt64(rest[19]) : nil
    }
}
