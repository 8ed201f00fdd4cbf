#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the per-address limits (`AddressGuard`) count a source address as.
///
/// - An IPv4 address is itself (written back in dotted-quad form).
/// - An IPv6 address counts as its /64 prefix, written `2001:db8:1:2::/64`: a host, or one
///   customer's line, is routinely given a whole /64 and can send each request from another of
///   its 2⁶⁴ addresses, so a per-address bucket or lockout would limit nothing.
/// - An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack socket reports an IPv4 peer)
///   is the IPv4 address it carries, so one IPv4 client has one key on either kind of socket.
/// - Anything else (an `X-Forwarded-For` entry that is not an address, e.g. with a port or a
///   zone) is its own key, exactly as written.
///
/// The peer's address and the `X-Forwarded-For` entry go through the same function.
enum AddressKey {
    static func of(_ address: String) -> String {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { dottedQuad($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return address }
        return withUnsafeMutableBytes(of: &v6) { bytes -> String in
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return dottedQuad(UnsafeRawBufferPointer(rebasing: bytes[12..<16]))
            }
            for i in 8..<16 { bytes[i] = 0 }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, bytes.baseAddress, &text, socklen_t(text.count)) != nil else { return address }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/64"
        }
    }

    private static func dottedQuad(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.map(String.init).joined(separator: ".")
    }
}
