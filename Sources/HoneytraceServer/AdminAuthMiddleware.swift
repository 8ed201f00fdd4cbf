import Hummingbird

/// Asks every admin request but `/health` and `/openapi.json` for `Authorization: Bearer <admin
/// token>`; 401 `missing_admin_token` / `wrong_admin_token` otherwise.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let token: AdminToken
    /// Paths anyone may read: liveness probes and the public API document.
    static let openPaths: Set<String> = ["/health", "/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, .missingAdminToken, "send the admin token as 'Authorization: Bearer <admin token>'")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, .missingAdminToken, "the Authorization header must read 'Bearer <admin token>'")
        }
        guard token.accepts(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw APIError(.unauthorized, .wrongAdminToken, "this is not the admin token")
        }
        return try await next(request, context)
    }
}
