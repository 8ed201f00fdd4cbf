#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import XCTest

/// A connection that sends nothing, or stops halfway through its headers, is closed by the server
/// after the idle timeout instead of holding a socket for ever.
final class IdleTimeoutTests: XCTestCase {
    /// Opens a TCP connection to 127.0.0.1:`port`, sends `bytes`, and returns how long the server
    /// took to close it (nil: still open after `limit` seconds).
    static func secondsUntilClosed(port: Int, sending bytes: String, limit: Int) -> Double? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        if !bytes.isEmpty { _ = bytes.withCString { send(fd, $0, strlen($0), 0) } }
        var timeout = timeval(tv_sec: limit, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let start = Date()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return Date().timeIntervalSince(start) }  // closed by the server
            if n < 0 { return nil }                               // the receive timed out: still open
        }
    }

    func testSilentAndStalledConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let dir = try scratchDirectory(self)
        var configuration = testConfiguration(dir)
        configuration.idleTimeout = .milliseconds(500)
        let server = try PredictionServer(model: try fx.defended(), configuration: configuration, clients: try testClients())
        try await server.makeApplication().test(.live) { client in
            let port = try XCTUnwrap(client.port)
            // An ordinary request gets its answer (the test client's connection then idles and is closed too).
            try await client.execute(uri: "/health", method: .get) { XCTAssertEqual($0.status, .ok) }
            let (silent, stalled) = await Task.detached {
                (IdleTimeoutTests.secondsUntilClosed(port: port, sending: "", limit: 10),
                 IdleTimeoutTests.secondsUntilClosed(port: port, sending: "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Le", limit: 10))
            }.value
            XCTAssertNotNil(silent, "a connection that sends nothing stays open")
            XCTAssertNotNil(stalled, "a connection stalled in its headers stays open")
            XCTAssertLessThan(silent ?? 99, 5)
            XCTAssertLessThan(stalled ?? 99, 5)
        }
        var bad = testConfiguration(dir)
        bad.idleTimeout = .zero
        XCTAssertThrowsError(try bad.validate())
    }
}
