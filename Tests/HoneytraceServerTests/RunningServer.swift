import AsyncHTTPClient
@testable import HoneytraceServer
import XCTest

/// Runs `server` whole, as `serve` does (the API port and, when configured, the admin port, the
/// batcher and the database service), hands its bound addresses and an HTTP client to `body`, then
/// shuts it down gracefully; when `body` throws, the server is shut down before the error goes on.
func withRunningServer(_ server: PredictionServer, _ body: (ServerAddresses, HTTPClient) async throws -> Void) async throws {
    let (stream, continuation) = AsyncStream.makeStream(of: ServerAddresses.self)
    let group = server.makeServiceGroup(gracefulShutdownSignals: []) { continuation.yield($0) }
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var it = stream.makeAsyncIterator()
        let next = await it.next()
        let addresses = try XCTUnwrap(next)
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        do {
            try await body(addresses, http)
        } catch {
            try await http.shutdown()
            await group.triggerGracefulShutdown()
            throw error
        }
        try await http.shutdown()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
