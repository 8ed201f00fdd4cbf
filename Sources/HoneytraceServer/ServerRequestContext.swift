import Foundation
import Hummingbird
import NIOCore

/// The request context of both routers: Hummingbird's basic context plus the peer's address,
/// which the per-address limits (`AddressGuard`) key on.
public struct ServerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer; nil when there is none (the router test client).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The address a request counts against: the last `X-Forwarded-For` entry when the proxy in
    /// front is trusted to set it, else the peer's IP address; nil when neither is known. Either
    /// way `AddressGuard` counts it as its `AddressKey` (an IPv6 address by its /64).
    func sourceAddress(of request: Request, trustForwardedFor: Bool) -> String? {
        if trustForwardedFor, let forwarded = request.headers[.init("X-Forwarded-For")!] {
            let last = forwarded.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if !last.isEmpty { return last }
        }
        return remoteAddress?.ipAddress
    }
}
