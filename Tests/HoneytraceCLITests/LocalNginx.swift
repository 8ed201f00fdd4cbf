import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// nginx for one test: a load balancer on a free loopback port in front of `upstreams`, with its
/// configuration, logs and temporary files under a temporary directory (Debian's `nginx`).
///
/// A POST that reached an upstream is never sent again to another (nginx's default without
/// `non_idempotent`), so a replica dying mid-request yields a 502, not a second answer; a request
/// that could not reach a dead replica goes to the other one.
final class LocalNginx {
    let directory: String
    let port: Int
    private let daemons: Daemons
    private var pid: pid_t = 0

    /// nginx balancing round-robin over `upstreams` (`host:port`), or why it cannot start here.
    static func start(upstreams: [String]) -> Result<LocalNginx, ServiceUnavailable> {
        guard let binary = Daemons.which("nginx") else { return .failure(.init("nginx is not installed (apt-get install -y nginx)")) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-nginx-\(UUID().uuidString)").path
        return ServiceUnavailable.attempt(in: dir) { try LocalNginx(directory: dir, binary: binary, upstreams: upstreams) }
    }

    /// scripts/replicas-nginx.conf, the configuration docs/replicas.md shows, with this test's paths and ports.
    static func configuration(directory dir: String, port: Int, upstreams: [String]) throws -> String {
        let template = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/replicas-nginx.conf")
        return try String(contentsOf: template, encoding: .utf8)
            .replacingOccurrences(of: "@UPSTREAMS@", with: upstreams.map { "        server \($0) max_fails=1 fail_timeout=10s;" }.joined(separator: "\n"))
            .replacingOccurrences(of: "@DIR@", with: dir)
            .replacingOccurrences(of: "@PORT@", with: "\(port)")
    }

    private init(directory dir: String, binary: String, upstreams: [String]) throws {
        directory = dir
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        // Workers run as nobody when nginx starts as root.
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        try fm.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir + "/tmp")
        daemons = Daemons(directory: dir)
        port = try Daemons.freePorts(1)[0]
        try LocalNginx.configuration(directory: dir, port: port, upstreams: upstreams)
            .write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        pid = try daemons.launch("nginx", binary, ["-c", dir + "/nginx.conf", "-p", dir, "-e", dir + "/error.log"])
        let deadline = Date().addingTimeInterval(10)
        while !LocalNginx.accepts(port: port) {
            guard daemons.isRunning(pid), Date() < deadline else {
                let why = "nginx did not start\n\(logs())"
                stop()
                throw ServiceUnavailable(why)
            }
            usleep(100_000)
        }
    }

    /// Whether something accepts TCP connections on loopback `port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func logs() -> String { daemons.logs(["error.log"]) }

    /// Stops nginx and removes its directory.
    func stop() {
        daemons.stopAll()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
