import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import XCTest

/// A request that does not parse as HTTP/1.1 (answered by Hummingbird before any route) still gets
/// a JSON error body with a stable code, and its connection is closed.
final class ParseErrorTests: XCTestCase {
    func testUnparsableRequestsGetAJSONError() async throws {
        let dir = try scratchDirectory(self)
        let server = try PredictionServer(model: try fx.defended(), configuration: testConfiguration(dir), clients: try testClients())
        try await server.makeApplication().test(.live) { client in
            let port = try XCTUnwrap(client.port)
            let answers = await Task.detached {
                ["NOT AN HTTP REQUEST\r\n\r\n",
                 "GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + String(repeating: "a", count: 100_000) + "\r\n\r\n"].map { request in
                    var received: [UInt8] = []
                    let connection = RawConnection(port: port)!
                    connection.send(request)
                    let closed = connection.closedByServer(within: 3, received: &received)
                    return (String(decoding: received, as: UTF8.self), closed)
                }
            }.value
            for (text, closed) in answers {
                XCTAssertTrue(text.hasPrefix("HTTP/1.1 400"), text)
                XCTAssertTrue(text.lowercased().contains("content-type: application/json"), text)
                XCTAssertTrue(text.contains("\"code\":\"malformed_request\""), text)
                XCTAssertTrue(closed, "the connection stays open after an unparsable request")
            }
        }
    }
}
