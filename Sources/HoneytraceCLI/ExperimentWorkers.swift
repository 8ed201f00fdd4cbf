import Dispatch
import Experiments
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts worker processes of this executable (`experiment run … --worker i/N`) that share an
/// experiment directory's cells through claim files, and waits for all of them.
enum ExperimentWorkers {
    /// This executable.
    static var executable: URL { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }

    /// Gives every thread of this worker its parent's nice value. Foundation starts the workers at
    /// the default priority even when the grid runs under `nice` (it spawns from a thread of its
    /// own), so a niced grid's training would otherwise compete with everything else at full
    /// priority. Linux keeps a nice value per thread: each thread of /proc/self/task is set, and
    /// threads started later inherit it. Only ever lowers the priority; silent where it cannot.
    static func adoptParentPriority() {
        errno = 0
        let parent = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getppid()))
        guard errno == 0 else { return }
        errno = 0
        let own = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        guard errno == 0, parent > own else { return }
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for tid in threads.compactMap({ id_t($0) }) {
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, parent)
        }
    }

    /// Runs `count` workers with `arguments` and waits; each worker's log lines carry its number.
    /// Ctrl-C or SIGTERM to this process stops the workers too (their running cells are left
    /// unfinished; the next run resumes).
    ///
    /// - Throws: `ExperimentError` naming every worker that failed (the finished records stay;
    ///   running the command again resumes).
    static func run(count: Int, arguments: [String], log: @escaping @Sendable (String) -> Void) throws {
        var started: [Process] = []
        for i in 1...count {
            let p = Process()
            p.executableURL = executable
            p.arguments = arguments + ["--worker", "\(i)/\(count)"]
            do { try p.run() } catch {
                for q in started { q.terminate(); q.waitUntilExit() }
                throw ExperimentError("cannot start worker \(i) (\(executable.path)): \(error)")
            }
            started.append(p)
        }
        let processes = started, pids = started.map(\.processIdentifier)
        log("\(count) workers started (pids \(pids.map(String.init).joined(separator: ", ")))")
        let forwarding = [SIGINT, SIGTERM].map { signalNumber -> DispatchSourceSignal in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                log("stopping the workers (signal \(signalNumber))")
                for pid in pids { kill(pid, SIGTERM) }
            }
            source.resume()
            return source
        }
        for p in processes { p.waitUntilExit() }
        forwarding.forEach { $0.cancel() }
        let failed = processes.enumerated().compactMap { i, p -> String? in
            if p.terminationReason == .uncaughtSignal { return "worker \(i + 1) (killed by signal \(p.terminationStatus))" }
            return p.terminationStatus == 0 ? nil : "worker \(i + 1) (exit status \(p.terminationStatus))"
        }
        guard failed.isEmpty else {
            throw ExperimentError("\(failed.joined(separator: ", ")) stopped early; finished records are kept, run the command again to resume")
        }
    }
}
