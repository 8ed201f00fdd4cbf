import Foundation
import Hummingbird

/// An HTTP error answered to a client as JSON:
/// `{"error": {"status": 400, "code": "wrong_shape", "message": "image 0 has 700 values, …"}}`.
///
/// Every rejection the server makes goes through this type, so every bad request gets a body
/// naming the problem. `code` is stable (clients branch on it), `message` is for people.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable, Equatable {
    /// Stable machine-readable error codes.
    public enum Code: String, Sendable, Equatable, CaseIterable, Codable {
        /// 400: the request itself (request line, headers) does not parse as HTTP/1.1; the
        /// connection is closed.
        case malformedRequest = "malformed_request"
        /// 400: the body is not valid JSON, or lacks the `images` field.
        case malformedJSON = "malformed_json"
        /// 400: the body is not a valid `.npy` array.
        case malformedNPY = "malformed_npy"
        /// 400: an image has the wrong number of values, or the array the wrong shape / dtype.
        case wrongShape = "wrong_shape"
        /// 400: a value is NaN or infinite.
        case nonFinite = "non_finite"
        /// 400: a pixel lies outside [0, 1].
        case outOfRange = "out_of_range"
        /// 400: the request holds no image.
        case emptyRequest = "empty_request"
        /// 401: no `Authorization: Bearer <api key>` header.
        case missingAPIKey = "missing_api_key"
        /// 401: the API key belongs to no client.
        case unknownClient = "unknown_client"
        /// 401: the admin port's `/metrics` or `/v1/clients` without `Authorization: Bearer <admin token>`.
        case missingAdminToken = "missing_admin_token"
        /// 401: a bearer token that is not the admin token.
        case wrongAdminToken = "wrong_admin_token"
        /// 404: no such route.
        case notFound = "not_found"
        /// 405: the route exists, not with this method.
        case methodNotAllowed = "method_not_allowed"
        /// 408: the body did not arrive within the body timeout; the connection is closed.
        case bodyTimeout = "body_timeout"
        /// 413: the body exceeds the byte limit.
        case bodyTooLarge = "body_too_large"
        /// 413: more images than one request may hold (or than the client's burst).
        case tooManyRows = "too_many_rows"
        /// 415: a content type other than JSON or `.npy`.
        case unsupportedMediaType = "unsupported_media_type"
        /// 429: the client's rate limit is spent; `Retry-After` says when to come back.
        case rateLimited = "rate_limited"
        /// 429: the source address sent too many requests no client answers for (without a clients
        /// file: any request; with one: refused ones); `Retry-After` says when to come back.
        case addressRateLimited = "address_rate_limited"
        /// 429: the source address failed authentication too often and is locked out for a while.
        case lockedOut = "locked_out"
        /// 503: too many images queued, or the server is shutting down.
        case overloaded = "overloaded"
        /// 500: the model failed on a valid request.
        case internalError = "internal_error"
    }

    public let status: HTTPResponse.Status
    public let code: Code
    public let message: String
    /// Seconds after which a retry may succeed (429, 503), sent as `Retry-After`.
    public let retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(code.rawValue): \(message)" }

    /// The JSON body of the error.
    public var body: ErrorBody { ErrorBody(error: .init(status: status.code, code: code.rawValue, message: message)) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The error as a JSON response.
    public func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"honeytrace\"" }
        // The rest of a timed-out body is not read: the connection cannot carry another request.
        if status == .requestTimeout { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: jsonBody))
    }

    /// The JSON text of the error's body.
    var jsonBody: ByteBuffer {
        let writer = JSONWriter()
        writer.object {
            writer.key("error")
            writer.object {
                writer.key("status"); writer.int(status.code); writer.comma()
                writer.key("code"); writer.string(code.rawValue); writer.comma()
                writer.key("message"); writer.string(message)
            }
        }
        return writer.buffer
    }
}

/// The JSON shape of an error answer, for clients decoding it.
public struct ErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var status: Int
        public var code: String
        public var message: String
    }

    public var error: Detail
}
