import Foundation
@testable import HoneytraceServer
import Hummingbird
import HummingbirdTesting
import XCTest

/// Requests no client answers for are limited per source address, and repeated wrong API keys
/// lock the address out, whatever key it sends next.
final class AddressGuardTests: XCTestCase {
    func testBucketLockoutAndSweep() {
        let t0 = ContinuousClock.now
        let guard_ = AddressGuard(policy: .init(rate: RateLimit(queriesPerSecond: 2, burst: 3), lockoutFailures: 3,
                                                window: .seconds(10), lockout: .seconds(60)))
        // Nothing tracked: a request that costs nothing is let through without a lock.
        XCTAssertNil(guard_.admit("10.0.0.1", charge: false, now: t0))
        XCTAssertEqual(guard_.trackedAddresses, 0)
        // A charged bucket of 3 refills at 2/s.
        for _ in 0..<3 { XCTAssertNil(guard_.admit("10.0.0.1", charge: true, now: t0)) }
        let refusal = guard_.admit("10.0.0.1", charge: true, now: t0)
        XCTAssertEqual(refusal?.code, .addressRateLimited)
        XCTAssertEqual(refusal?.status, .tooManyRequests)
        XCTAssertEqual(refusal?.retryAfter, 1)
        XCTAssertNil(guard_.admit("10.0.0.2", charge: true, now: t0), "another address has its own bucket")
        XCTAssertNil(guard_.admit("10.0.0.1", charge: true, now: t0 + .milliseconds(600)))
        // Refusals drain the bucket of an uncharged (clients-file) address too.
        for _ in 0..<3 { guard_.refused("10.0.0.3", authenticationFailed: false, now: t0) }
        XCTAssertEqual(guard_.admit("10.0.0.3", charge: false, now: t0)?.code, .addressRateLimited)
        XCTAssertNil(guard_.admit("10.0.0.3", charge: false, now: t0 + .seconds(1)))
        // Three failed authentications within the window lock the address out for a minute.
        for i in 0..<3 { guard_.refused("10.0.0.4", authenticationFailed: true, now: t0 + .seconds(i * 2)) }
        let locked = guard_.admit("10.0.0.4", charge: false, now: t0 + .seconds(10))
        XCTAssertEqual(locked?.code, .lockedOut)
        XCTAssertEqual(locked?.retryAfter, 54)
        XCTAssertNil(guard_.admit("10.0.0.4", charge: false, now: t0 + .seconds(65)))
        // Failures spread wider than the window lock nothing.
        for i in 0..<3 { guard_.refused("10.0.0.5", authenticationFailed: true, now: t0 + .seconds(i * 11)) }
        XCTAssertNil(guard_.admit("10.0.0.5", charge: false, now: t0 + .seconds(23)))
        // A guard without a bucket (the admin port's) tracks failed authentications only.
        let lockoutOnly = AddressGuard(policy: .init(rate: nil, lockoutFailures: 2, window: .seconds(10), lockout: .seconds(60)))
        for _ in 0..<5 { lockoutOnly.refused("10.0.0.6", authenticationFailed: false, now: t0) }
        XCTAssertEqual(lockoutOnly.trackedAddresses, 0)
        XCTAssertNil(lockoutOnly.admit("10.0.0.6", charge: false, now: t0))
        for _ in 0..<2 { lockoutOnly.refused("10.0.0.6", authenticationFailed: true, now: t0) }
        XCTAssertEqual(lockoutOnly.admit("10.0.0.6", charge: false, now: t0)?.code, .lockedOut)
        // Once every bucket is full and every lockout over, the sweep forgets them all.
        XCTAssertGreaterThan(guard_.trackedAddresses, 0)
        guard_.sweep(now: t0 + .seconds(200))
        XCTAssertEqual(guard_.trackedAddresses, 0)
    }

    /// One IPv6 host has a whole /64: its addresses share one bucket and one lockout; another /64
    /// does not; an IPv4-mapped IPv6 address is the IPv4 address; a value that is no address is
    /// counted as written.
    func testIPv6AddressesCountPerSlash64() {
        let t0 = ContinuousClock.now
        let guard_ = AddressGuard(policy: .init(rate: RateLimit(queriesPerSecond: 1, burst: 2), lockoutFailures: 2,
                                                window: .seconds(10), lockout: .seconds(60)))
        XCTAssertNil(guard_.admit("2001:db8:1:2::1", charge: true, now: t0))
        XCTAssertNil(guard_.admit("2001:db8:1:2:ffff:ffff:ffff:ffff", charge: true, now: t0))
        let refusal = guard_.admit("2001:db8:1:2:1234::9", charge: true, now: t0)
        XCTAssertEqual(refusal?.code, .addressRateLimited, "a third address of the same /64 finds the bucket empty")
        XCTAssertTrue(refusal?.message.contains("2001:db8:1:2::/64") == true, refusal?.message ?? "")
        XCTAssertNil(guard_.admit("2001:db8:1:3::1", charge: true, now: t0), "the next /64 has a bucket of its own")
        XCTAssertEqual(guard_.trackedAddresses, 2)
        // IPv4-mapped and plain IPv4 are one address.
        XCTAssertNil(guard_.admit("::ffff:198.51.100.4", charge: true, now: t0))
        XCTAssertNil(guard_.admit("198.51.100.4", charge: true, now: t0))
        XCTAssertEqual(guard_.admit("::ffff:198.51.100.4", charge: true, now: t0)?.code, .addressRateLimited)
        XCTAssertNil(guard_.admit("198.51.100.5", charge: true, now: t0), "IPv4 addresses count one by one")
        // Failed authentications from two addresses of one /64 lock out the whole /64.
        guard_.refused("2001:db8:9:9::1", authenticationFailed: true, now: t0)
        guard_.refused("2001:db8:9:9::2", authenticationFailed: true, now: t0)
        XCTAssertEqual(guard_.admit("2001:db8:9:9:abcd::3", charge: false, now: t0 + .seconds(5))?.code, .lockedOut)
        XCTAssertEqual(guard_.admit("2001:db8:9:8::1", charge: false, now: t0 + .seconds(5))?.code, nil)
        // A value that is no address has a bucket of its own, under its own spelling.
        XCTAssertNil(guard_.admit("203.0.113.9:443", charge: true, now: t0))
        XCTAssertNil(guard_.admit("203.0.113.9", charge: true, now: t0))
    }

    func testLiveServersLimitAnonymousAndBadRequestsPerAddress() async throws {
        let dir = try scratchDirectory(self)
        let good = jsonBody(fx.images(1), size: imageSize)
        // Without a clients file every request takes a token.
        var open = testConfiguration(dir + "/open")
        try FileManager.default.createDirectory(atPath: dir + "/open", withIntermediateDirectories: true)
        open.anonymousRateLimit = RateLimit(queriesPerSecond: 0.5, burst: 3)
        let anonymous = try PredictionServer(model: try fx.defended(), configuration: open, clients: nil)
        try await anonymous.makeApplication().test(.live) { client in
            for _ in 0..<3 {
                try await client.execute(uri: "/v1/predict", method: .post, headers: [.contentType: "application/json"], body: good) {
                    XCTAssertEqual($0.status, .ok)
                }
            }
            try await client.execute(uri: "/v1/predict", method: .post, headers: [.contentType: "application/json"], body: good) {
                XCTAssertEqual($0.status, .tooManyRequests)
                XCTAssertEqual(try errorBody($0).error.code, "address_rate_limited")
                XCTAssertTrue(["1", "2"].contains($0.headers[.retryAfter] ?? ""), "Retry-After \($0.headers[.retryAfter] ?? "none")")
            }
        }
        // With clients: refusals cost tokens, good requests do not; wrong keys lock the address out.
        var closed = testConfiguration(dir)
        closed.anonymousRateLimit = RateLimit(queriesPerSecond: 1000, burst: 1000)
        closed.lockoutFailures = 4
        let server = try PredictionServer(model: try fx.defended(), configuration: closed, clients: try testClients())
        let alice: HTTPFields = [.authorization: "Bearer \(aliceKey)", .contentType: "application/json"]
        try await server.makeApplication().test(.live) { client in
            for _ in 0..<5 {
                try await client.execute(uri: "/v1/predict", method: .post, headers: alice, body: good) { XCTAssertEqual($0.status, .ok) }
            }
            XCTAssertEqual(server.addressGuard.trackedAddresses, 0, "good requests are tracked")
            for _ in 0..<4 {
                try await client.execute(uri: "/v1/predict", method: .post,
                                         headers: [.authorization: "Bearer guess-0123456789abcdef", .contentType: "application/json"], body: good) {
                    XCTAssertEqual($0.status, .unauthorized)
                }
            }
            try await client.execute(uri: "/v1/predict", method: .post, headers: alice, body: good) {
                XCTAssertEqual($0.status, .tooManyRequests)
                XCTAssertEqual(try errorBody($0).error.code, "locked_out")
                XCTAssertEqual($0.headers[.retryAfter], "300")
            }
        }
        // Behind a trusted proxy the last X-Forwarded-For entry is the address, counted as the peer's
        // would be: an IPv6 address by its /64, a mapped IPv4 address as the IPv4 address; an entry
        // that is no address is its own bucket; empty entries are skipped, and with none left the
        // peer's address (loopback) counts.
        var proxied = testConfiguration(dir + "/proxied")
        try FileManager.default.createDirectory(atPath: dir + "/proxied", withIntermediateDirectories: true)
        proxied.anonymousRateLimit = RateLimit(queriesPerSecond: 0.01, burst: 1)
        proxied.trustForwardedFor = true
        let behindProxy = try PredictionServer(model: try fx.defended(), configuration: proxied, clients: nil)
        try await behindProxy.makeApplication().test(.live) { client in
            let forwarded: [(String, HTTPResponse.Status)] = [
                ("198.51.100.1, 203.0.113.7", .ok), ("198.51.100.1, 203.0.113.8", .ok), ("198.51.100.1, 203.0.113.7", .tooManyRequests),
                ("2001:db8:1:2::7", .ok), ("203.0.113.7, 2001:db8:1:2:ffff::1", .tooManyRequests), ("2001:db8:1:3::7", .ok),
                ("::ffff:203.0.113.8", .tooManyRequests), ("::ffff:203.0.113.9", .ok), ("203.0.113.9", .tooManyRequests),
                ("not-an-address", .ok), ("2001:db8:1:4::1, not-an-address", .tooManyRequests),
                ("203.0.113.10,", .ok), ("203.0.113.10", .tooManyRequests), (" , ", .ok), ("", .tooManyRequests),
            ]
            for (value, status) in forwarded {
                try await client.execute(uri: "/health", method: .get, headers: [.init("X-Forwarded-For")!: value]) {
                    XCTAssertEqual($0.status, status, "X-Forwarded-For: \(value)")
                }
            }
        }
    }
}
