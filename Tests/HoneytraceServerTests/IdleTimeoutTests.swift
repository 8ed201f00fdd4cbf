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
        guard let connection = RawConnection(port: port) else { return nil }
        if !bytes.isEmpty { connection.send(bytes) }
        let start = Date()
        var received = [UInt8]()
        return connection.closedByServer(within: Double(limit), received: &received) ? Date().timeIntervalSince(start) : nil
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
