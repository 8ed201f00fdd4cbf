import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which process is running which cell of a grid, so several worker processes on one
/// experiment directory share its cells (`experiment run --jobs N`).
///
/// A claim is a file `<runs>/<cell id>.claim` holding the claimer's process id, created with
/// `O_CREAT | O_EXCL`, so exactly one process gets each cell. A claim whose process is gone
/// (a worker that crashed or was killed) is stale: workers do not wait on it, and only the
/// coordinating process removes stale claims (`removeStale`), before it starts workers, so no
/// two processes race to replace the same claim.
struct CellClaims {
    let directory: String

    func file(_ id: String) -> String { directory + "/" + id + ".claim" }

    /// Claims `id` for this process; false when another claim exists (live or stale).
    ///
    /// - Throws: `ExperimentError` naming the file when it can be neither created nor found.
    func claim(_ id: String) throws -> Bool {
        let path = file(id)
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o644)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw ExperimentError("\(path): cannot create the claim (\(String(cString: strerror(errno))))")
        }
        let text = "\(getpid())\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        return true
    }

    /// Gives `id` back (after its record is written, or when running it failed).
    func release(_ id: String) { unlink(file(id)) }

    /// The process holding `id`'s claim, if a claim exists and names one.
    func holder(_ id: String) -> Int32? {
        guard let data = FileManager.default.contents(atPath: file(id)),
              let text = String(data: data, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether a live process holds `id`'s claim (a worker should wait for that cell).
    func isHeldByLiveProcess(_ id: String) -> Bool {
        guard let pid = holder(id), pid > 0 else { return false }
        return CellClaims.isAlive(pid)
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

    static func isAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
