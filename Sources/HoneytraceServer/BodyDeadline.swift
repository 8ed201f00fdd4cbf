import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Closes the gap the idle timeout leaves: every body part resets the idle timer, so a body that
/// trickles in a byte at a time could hold a connection for ever. From a request's head to its
/// end at most `timeout` may pass; past it the request's body stream fails with `Expired` (the
/// handler reading it answers 408 `body_timeout`) and the connection is closed.
///
/// Headers need no deadline of their own: the idle timer counts from the connection's start (or
/// the last answer) until a whole head is parsed, whatever bytes trickle in meanwhile.
final class BodyDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    /// The error the request's body stream fails with when the deadline passes.
    struct Expired: Error, CustomStringConvertible {
        let timeout: Duration
        var description: String { "the request body did not arrive within \(timeout.seconds) s" }
    }

    /// How long after an expired deadline the connection is closed even if no handler closed it.
    static let closeGrace: TimeAmount = .seconds(1)

    private let timeout: Duration
    private var scheduled: Scheduled<Void>?

    init(timeout: Duration) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            scheduled?.cancel()
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            let loop = context.eventLoop.assumeIsolated()
            scheduled = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
                scheduled = nil
                context.fireErrorCaught(Expired(timeout: timeout))
                _ = loop.scheduleTask(in: Self.closeGrace) { context.close(promise: nil) }
            }
        case .end:
            scheduled?.cancel()
            scheduled = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
    }
}
