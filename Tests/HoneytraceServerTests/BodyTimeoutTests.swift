import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import XCTest

/// Slow clients: a body that trickles in (each byte soon enough for the idle timeout) gets 408
/// `body_timeout` once the body timeout has passed, and its connection is closed; headers that
/// trickle in are cut by the idle timeout, which no header byte resets.
final class BodyTimeoutTests: XCTestCase {
    func testTricklingBodiesGet408AndSlowHeadersAreClosed() async throws {
        let dir = try scratchDirectory(self)
        var configuration = testConfiguration(dir)
        configuration.idleTimeout = .milliseconds(600)
        configuration.bodyTimeout = .milliseconds(800)
        let server = try PredictionServer(model: try fx.defended(), configuration: configuration, clients: try testClients())
        let body = String(decoding: jsonBody(fx.images(1), size: imageSize).readableBytesView, as: UTF8.self)
        let head = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(aliceKey)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n"
        try await server.makeApplication().test(.live) { client in
            let port = try XCTUnwrap(client.port)
            let (trickled, slowHeader, paused) = await Task.detached {
                // One body byte every 0.2 s: never idle for 0.6 s, but past the 0.8 s body timeout.
                let start = Date()
                var answer: [UInt8] = []
                let connection = RawConnection(port: port)!
                connection.send(head)
                // At most 30 bytes (6 s), so that a server without the body timeout fails the test quickly.
                let sent = connection.trickle(body.prefix(30).map(String.init), pause: 0.2, received: &answer)
                let closed = sent < 30 || connection.closedByServer(within: 2, received: &answer)
                let trickled = (String(decoding: answer, as: UTF8.self), closed, Date().timeIntervalSince(start))

                // One header byte every 0.1 s: the head never completes within the 0.6 s idle timeout.
                let slowStart = Date()
                var ignored: [UInt8] = []
                let slow = RawConnection(port: port)!
                let headerBytes = slow.trickle(head.prefix(40).map(String.init), pause: 0.1, received: &ignored)
                let slowHeader = (headerBytes < 40, Date().timeIntervalSince(slowStart))

                // A body that pauses once, well within the body timeout, is answered.
                var reply: [UInt8] = []
                let pausing = RawConnection(port: port)!
                pausing.send(head + String(body.prefix(10)))
                usleep(300_000)
                pausing.send(String(body.dropFirst(10)))
                _ = pausing.closedByServer(within: 1.5, received: &reply)
                return (trickled, slowHeader, String(decoding: reply, as: UTF8.self))
            }.value
            XCTAssertTrue(trickled.0.hasPrefix("HTTP/1.1 408"), trickled.0)
            XCTAssertTrue(trickled.0.contains("\"code\":\"body_timeout\""), trickled.0)
            XCTAssertTrue(trickled.1, "the connection of a timed-out body stays open")
            XCTAssertLessThan(trickled.2, 4, "a trickling body held its connection for \(trickled.2) s")
            XCTAssertTrue(slowHeader.0, "a connection sending its head a byte at a time stayed open")
            XCTAssertLessThan(slowHeader.1, 3)
            XCTAssertTrue(paused.hasPrefix("HTTP/1.1 200"), paused)
        }
        var bad = testConfiguration(dir)
        bad.bodyTimeout = .milliseconds(10)
        assertThrows(try bad.validate(), mentioning: ["body timeout"])
    }
}
