import Hummingbird

/// Applies the `AddressGuard` to the prediction API: refuses an address whose bucket is empty or
/// that is locked out before anything else is done for it, takes a token per request on a server
/// without clients, and charges refusals (and failed authentications) to the address on one with
/// clients (without clients a refused request has paid its token already). Requests without a known address (the router test client) pass.
///
/// The admin port uses it too, for its lockout after wrong admin tokens only (a guard without a
/// bucket), with its open paths exempt.
struct AddressGuardMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let addressGuard: AddressGuard
    /// Every request costs a token (a server without a clients file).
    let chargeEveryRequest: Bool
    let trustForwardedFor: Bool
    /// Paths the guard neither refuses nor charges: the admin port's probes, which ask for no token.
    var exemptPaths: Set<String> = []

    /// Refusals that cost the address a token: the ones a client can provoke without a valid key
    /// or a well-formed request. Not 429 or 503, which a good client gets under load.
    static func isCharged(_ status: HTTPResponse.Status) -> Bool {
        [400, 401, 404, 405, 408, 413, 415].contains(status.code)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if !exemptPaths.isEmpty && exemptPaths.contains(request.uri.path) { return try await next(request, context) }
        // The address is only worked out when something will be done with it: a good request on a
        // server with clients, while no address owes anything, costs one atomic load.
        var address: String?
        if chargeEveryRequest || addressGuard.trackedAddresses > 0 {
            address = context.sourceAddress(of: request, trustForwardedFor: trustForwardedFor)
            if let address, let refusal = addressGuard.admit(address, charge: chargeEveryRequest) { throw refusal }
        }
        do {
            return try await next(request, context)
        } catch let error as APIError where !chargeEveryRequest && Self.isCharged(error.status) {
            charge(address ?? context.sourceAddress(of: request, trustForwardedFor: trustForwardedFor), authenticationFailed: error.status == .unauthorized)
            throw error
        } catch let error as HTTPError where !chargeEveryRequest && Self.isCharged(error.status) {
            charge(address ?? context.sourceAddress(of: request, trustForwardedFor: trustForwardedFor), authenticationFailed: false)
            throw error
        }
    }

    private func charge(_ address: String?, authenticationFailed: Bool) {
        if let address { addressGuard.refused(address, authenticationFailed: authenticationFailed) }
    }
}
