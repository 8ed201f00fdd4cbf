import Experiments
import Foundation

/// Starts worker processes of this executable (`experiment run … --worker i/N`) that share an
/// experiment directory's cells through claim files, and waits for all of them.
enum ExperimentWorkers {
    /// Runs `count` workers with `arguments` and waits; each worker's log lines carry its number.
    ///
    /// - Throws: `ExperimentError` naming every worker that failed (the finished records stay;
    ///   running the command again resumes).
    static func run(count: Int, arguments: [String], log: (String) -> Void) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [Process] = []
        for i in 1...count {
            let p = Process()
            p.executableURL = executable
            p.arguments = arguments + ["--worker", "\(i)/\(count)"]
            do { try p.run() } catch {
                processes.forEach { $0.terminate() }
                throw ExperimentError("cannot start worker \(i) (\(executable.path)): \(error)")
            }
            processes.append(p)
        }
        log("\(count) workers started (pids \(processes.map { String($0.processIdentifier) }.joined(separator: ", ")))")
        for p in processes { p.waitUntilExit() }
        let failed = processes.enumerated().filter { $0.element.terminationStatus != 0 }
            .map { "worker \($0.offset + 1) (exit \($0.element.terminationStatus))" }
        guard failed.isEmpty else {
            throw ExperimentError("\(failed.joined(separator: ", ")) failed; finished records are kept, run the command again to resume")
        }
    }
}
