#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A blocking TCP connection to 127.0.0.1 for tests that must control every byte and pause a client
/// sends (slow headers, trickling bodies), which an HTTP client library does not allow.
final class RawConnection {
    private let fd: Int32

    init?(port: Int) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); return nil }
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Sends `text`; false when the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Whether the server has closed the connection, waiting at most `seconds` for it; bytes that
    /// arrive meanwhile are appended to `received`.
    func closedByServer(within seconds: Double, received: inout [UInt8]) -> Bool {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
            received += buffer[0..<n]
        }
        return false
    }

    /// Sends `chunks` one after another, `pause` seconds apart, stopping early when the server
    /// closes the connection (what it sent is appended to `received`); returns how many were sent.
    func trickle(_ chunks: [String], pause: Double, received: inout [UInt8]) -> Int {
        for (i, chunk) in chunks.enumerated() {
            if !send(chunk) { return i }
            if closedByServer(within: pause, received: &received) { return i + 1 }
        }
        return chunks.count
    }
}
