import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Background programs one test starts (daemons, servers), each by process id, with its output in
/// `<directory>/<name>.out`; `stopAll` ends them, and only them.
final class Daemons {
    let directory: String
    private(set) var started: [(name: String, pid: pid_t)] = []

    init(directory: String) { self.directory = directory }

    /// Starts `program` (a path, or a name found on PATH) with posix_spawn and returns its pid.
    /// Not with Foundation's `Process`: it takes a child that closes its inherited descriptors, as
    /// daemons do, for one that has exited and blocks in waitpid on it, stalling every other Process.
    @discardableResult
    func launch(_ name: String, _ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> pid_t {
        guard let path = program.hasPrefix("/") ? program : Daemons.which(program) else { throw ServiceUnavailable("\(program) not found") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/\(name).out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        let argv = ([path] + arguments).map { strdup($0) } + [nil], envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard status == 0 else { throw ServiceUnavailable("\(name): posix_spawn failed (\(String(cString: strerror(status))))") }
        started.append((name, pid))
        return pid
    }

    /// Whether a program started here still runs (reaping it when it has stopped).
    func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// Sends `signal` to `pid` and waits up to `seconds` for it to end (then kills it); true when it ended by itself.
    @discardableResult
    func stop(_ pid: pid_t, signal: Int32 = SIGTERM, seconds: Double = 10) -> Bool {
        guard isRunning(pid) else { return true }
        kill(pid, signal)
        for _ in 0..<Int(seconds * 10) where isRunning(pid) { usleep(100_000) }
        guard isRunning(pid) else { return true }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return false
    }

    /// Stops everything started here, last first.
    func stopAll() {
        for d in started.reversed() { stop(d.pid) }
        started = []
    }

    /// The last `lines` lines of every program's output, for a failure message.
    func logs(_ extra: [String] = [], lines: Int = 15) -> String {
        (started.map { "\($0.name).out" } + extra).map { name in
            let text = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
            return "== \(name)\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    static func which(_ tool: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Ports the kernel hands out as free right now (bound to port 0, then released).
    static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = [], ports: [Int] = []
        defer { sockets.forEach { close($0) } }
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ServiceUnavailable("socket: \(String(cString: strerror(errno)))") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw ServiceUnavailable("bind: \(String(cString: strerror(errno)))") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}

/// Why a service a test needs (a Slurm cluster, PostgreSQL, nginx) cannot start here.
struct ServiceUnavailable: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// What `start` made in `directory`, or why it failed (the directory then removed).
    static func attempt<T>(in directory: String, _ start: () throws -> T) -> Result<T, ServiceUnavailable> {
        do {
            return .success(try start())
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            return .failure(error as? ServiceUnavailable ?? ServiceUnavailable("\(error)"))
        }
    }
}
