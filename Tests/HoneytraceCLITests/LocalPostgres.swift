import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server for one test: its own cluster (initdb) under a temporary directory,
/// listening on a free loopback port and a socket in that directory, run as user `postgres` when
/// the test runs as root (PostgreSQL refuses root). Debian's `postgresql` provides the programs.
final class LocalPostgres {
    let directory: String
    let port: Int
    /// `postgres://honeytrace@127.0.0.1:PORT/honeytrace`, the database the test uses.
    let url: String
    private let daemons: Daemons
    private let binaries: String
    private let asUser: [String]
    private var pid: pid_t = 0

    /// A running server with an empty database `honeytrace`, or why none can start here.
    static func start() -> Result<LocalPostgres, ServiceUnavailable> {
        guard let bin = binDirectory() else {
            return .failure(.init("PostgreSQL's initdb and postgres are not installed (apt-get install -y postgresql)"))
        }
        for tool in ["psql", "createdb"] where Daemons.which(tool) == nil && !FileManager.default.isExecutableFile(atPath: bin + "/" + tool) {
            return .failure(.init("\(tool) is not installed (apt-get install -y postgresql-client)"))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-pg-\(UUID().uuidString)").path
        let started = ServiceUnavailable.attempt(in: dir) { try LocalPostgres(directory: dir, binaries: bin) }
        guard case .success(let server) = started else { return started }
        if let problem = server.waitUntilReady(seconds: 30) {
            server.stop()
            return .failure(.init(problem))
        }
        do {
            let created = try server.tool("createdb", ["-h", "127.0.0.1", "-p", "\(server.port)", "-U", "honeytrace", "honeytrace"])
            guard created.status == 0 else { throw ServiceUnavailable("createdb failed: \(created.stderr)") }
            return .success(server)
        } catch {
            server.stop()
            return .failure(error as? ServiceUnavailable ?? .init("\(error)"))
        }
    }

    /// The newest `/usr/lib/postgresql/N/bin` holding initdb and postgres, or the PATH's.
    private static func binDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        let candidates = versions.map { "\(root)/\($0)/bin" } + [Daemons.which("postgres").map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }].compactMap { $0 }
        return candidates.first { dir in ["initdb", "postgres"].allSatisfy { FileManager.default.isExecutableFile(atPath: dir + "/" + $0) } }
    }

    private init(directory dir: String, binaries: String) throws {
        directory = dir
        self.binaries = binaries
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir + "/data")
        daemons = Daemons(directory: dir)
        if getuid() == 0 {
            guard let user = getpwnam("postgres") else {
                throw ServiceUnavailable("running as root, and there is no user 'postgres' to run PostgreSQL as (apt-get install -y postgresql creates it)")
            }
            guard let setpriv = Daemons.which("setpriv") else { throw ServiceUnavailable("setpriv (util-linux) is needed to run PostgreSQL as user postgres") }
            chown(dir + "/data", user.pointee.pw_uid, user.pointee.pw_gid)
            chown(dir, user.pointee.pw_uid, user.pointee.pw_gid)
            asUser = [setpriv, "--reuid=\(user.pointee.pw_uid)", "--regid=\(user.pointee.pw_gid)", "--clear-groups", "--"]
        } else {
            asUser = []
        }
        port = try Daemons.freePorts(1)[0]
        url = "postgres://honeytrace@127.0.0.1:\(port)/honeytrace"
        let initdb = try run(asUser + [binaries + "/initdb", "-D", dir + "/data", "-U", "honeytrace", "--auth=trust", "-E", "UTF8", "--no-sync"])
        guard initdb.status == 0 else { throw ServiceUnavailable("initdb failed: \(initdb.stderr)") }
        let postgres = asUser + [binaries + "/postgres", "-D", dir + "/data", "-p", "\(port)", "-k", dir,
                                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=40"]
        pid = try daemons.launch("postgres", postgres[0], Array(postgres.dropFirst()))
    }

    private func run(_ command: [String]) throws -> ProcessOutput {
        try ProcessOutput.run(URL(fileURLWithPath: command[0]), Array(command.dropFirst()), directory: directory)
    }

    /// Runs a PostgreSQL client program (psql, createdb, pg_isready).
    func tool(_ name: String, _ arguments: [String]) throws -> ProcessOutput {
        let path = FileManager.default.isExecutableFile(atPath: binaries + "/" + name) ? binaries + "/" + name : (Daemons.which(name) ?? name)
        return try ProcessOutput.run(URL(fileURLWithPath: path), arguments, environment: ["PGCONNECT_TIMEOUT": "5"])
    }

    /// Runs `sql` through psql in database `honeytrace`; returns its unaligned, tuples-only output.
    func psql(_ sql: String) throws -> ProcessOutput {
        try tool("psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "honeytrace", "-d", "honeytrace", "-At", "-F", "|",
                          "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    private func waitUntilReady(seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard daemons.isRunning(pid) else { return "postgres stopped at once\n\(daemons.logs())" }
            if let r = try? tool("pg_isready", ["-h", "127.0.0.1", "-p", "\(port)"]), r.status == 0 { return nil }
            usleep(200_000)
        }
        return "PostgreSQL did not accept connections within \(Int(seconds)) s\n\(daemons.logs())"
    }

    /// The server's log, for a failure message.
    func logs() -> String { daemons.logs() }

    /// Stops the server (fast shutdown) and removes its directory.
    func stop() {
        if pid > 0 { daemons.stop(pid, signal: SIGINT) }
        daemons.stopAll()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
