import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Gives the answer to a request that does not parse as HTTP/1.1 a JSON error body. Hummingbird
/// answers such a request (a garbled request line, headers over the decoder's limits) itself,
/// with an empty 400 and `Connection: close`, before any route or middleware sees it; the
/// server's own refusals always carry a body, so an empty 400 that closes the connection is that
/// answer, and gets `APIError.Code.malformedRequest`'s body instead.
final class ParseErrorBody: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var pendingBody: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status == .badRequest && head.headerFields[.contentLength] == "0"
                                   && head.headerFields[.connection] == "close":
            let error = APIError(.badRequest, .malformedRequest,
                                 "the request does not parse as HTTP/1.1 (request line, header syntax, or headers over the size limits)")
            let buffer = error.jsonBody
            head.headerFields[.contentLength] = String(buffer.readableBytes)
            head.headerFields[.contentType] = "application/json; charset=utf-8"
            pendingBody = buffer
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end(let trailers) where pendingBody != nil:
            context.write(wrapOutboundOut(.body(pendingBody!)), promise: nil)
            pendingBody = nil
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }

}
