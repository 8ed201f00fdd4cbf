import Foundation
import Synchronization

/// Per-source-address limits for requests no client answers for: a token bucket of requests, and a
/// lockout after repeated failed authentications, so that nobody can hammer the parser or guess API
/// keys for free.
///
/// An address is counted as its `AddressKey`: IPv4 addresses one by one, IPv6 addresses by their
/// /64, IPv4-mapped IPv6 addresses as the IPv4 address, so a host cannot escape the limits by
/// sending from another address of its own /64.
///
/// Addresses live in shards, each behind its own lock. A server with a clients file charges an
/// address only for refused requests; while no address is tracked at all (the normal case), a
/// good request reads one atomic counter and takes no lock. Entries whose bucket has refilled and
/// whose failures and lockout have expired are dropped by `sweep()`; each shard holds at most
/// `maxAddressesPerShard` addresses, and a new address beyond that is not tracked (memory stays
/// bounded; such an address escapes the limit until the shard empties).
public final class AddressGuard: Sendable {
    /// What the guard enforces.
    public struct Policy: Sendable, Equatable {
        /// The bucket of requests per address; nil = none (the lockout still applies).
        public var rate: RateLimit?
        /// Failed authentications within `window` that lock an address out.
        public var lockoutFailures: Int
        public var window: Duration
        public var lockout: Duration

        public init(rate: RateLimit?, lockoutFailures: Int, window: Duration, lockout: Duration) {
            self.rate = rate
            self.lockoutFailures = lockoutFailures
            self.window = window
            self.lockout = lockout
        }
    }

    private struct Entry {
        var tokens: Double
        var updated: ContinuousClock.Instant
        var failures = 0
        var windowStart: ContinuousClock.Instant
        var lockedUntil: ContinuousClock.Instant?
    }

    private final class Shard: @unchecked Sendable {
        let lock = NSLock()
        var entries: [String: Entry] = [:]
    }

    public static let shardCount = 16
    public static let maxAddressesPerShard = 4096

    public let policy: Policy
    private let shards: [Shard]
    private let tracked = Atomic<Int>(0)
    private let clock = ContinuousClock()

    public init(policy: Policy) {
        self.policy = policy
        self.shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    /// Addresses currently tracked.
    public var trackedAddresses: Int { tracked.load(ordering: .relaxed) }

    /// Whether a request from `address` may proceed: nil, or the 429 to answer. `charge` takes a
    /// token (every request of a server without clients); otherwise an address is refused only
    /// while its bucket is empty or it is locked out.
    public func admit(_ address: String, charge: Bool, now: ContinuousClock.Instant? = nil) -> APIError? {
        if !charge && tracked.load(ordering: .relaxed) == 0 { return nil }
        let now = now ?? clock.now
        let address = AddressKey.of(address)
        let shard = shard(of: address)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        guard var entry = shard.entries[address] ?? (charge ? newEntry(in: shard, now: now) : nil) else { return nil }
        refill(&entry, now: now)
        var refusal: APIError?
        if let until = entry.lockedUntil, until > now {
            refusal = APIError(.tooManyRequests, .lockedOut,
                               "too many failed authentications from \(address); try again in \(Self.wholeSeconds(until - now)) s",
                               retryAfter: Self.wholeSeconds(until - now))
        } else if let rate = policy.rate {
            if charge && entry.tokens >= 1 {
                entry.tokens -= 1
            } else if entry.tokens < 1 {
                let wait = Duration.seconds((1 - entry.tokens) / rate.queriesPerSecond)
                refusal = APIError(.tooManyRequests, .addressRateLimited,
                                   "\(address) is over the limit of \(rate.queriesPerSecond) requests/s (burst \(rate.burst)) for requests no client answers for",
                                   retryAfter: Self.wholeSeconds(wait))
            }
        }
        shard.entries[address] = entry
        return refusal
    }

    /// Records a refused request from `address` (a token; with `authenticationFailed`, one failure
    /// towards the lockout). Without a bucket, a refusal that is no failed authentication costs
    /// nothing and is not tracked.
    public func refused(_ address: String, authenticationFailed: Bool, now: ContinuousClock.Instant? = nil) {
        if policy.rate == nil && !authenticationFailed { return }
        let now = now ?? clock.now
        let address = AddressKey.of(address)
        let shard = shard(of: address)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        guard var entry = shard.entries[address] ?? newEntry(in: shard, now: now) else { return }
        refill(&entry, now: now)
        if policy.rate != nil { entry.tokens = max(0, entry.tokens - 1) }
        if authenticationFailed {
            if now - entry.windowStart > policy.window {
                entry.windowStart = now
                entry.failures = 0
            }
            entry.failures += 1
            if entry.failures >= policy.lockoutFailures {
                entry.lockedUntil = now + policy.lockout
                entry.failures = 0
                entry.windowStart = now
            }
        }
        shard.entries[address] = entry
    }

    /// Drops every address with nothing left to remember: a full bucket, no failures in the
    /// current window, no lockout.
    public func sweep(now: ContinuousClock.Instant? = nil) {
        let now = now ?? clock.now
        for shard in shards {
            shard.lock.lock()
            let before = shard.entries.count
            shard.entries = shard.entries.filter { _, entry in
                var e = entry
                refill(&e, now: now)
                let full = policy.rate.map { e.tokens >= Double($0.burst) } ?? true
                let noFailures = e.failures == 0 || now - e.windowStart > policy.window
                let free = e.lockedUntil.map { $0 <= now } ?? true
                return !(full && noFailures && free)
            }
            let removed = before - shard.entries.count
            shard.lock.unlock()
            if removed > 0 { tracked.subtract(removed, ordering: .relaxed) }
        }
    }

    private func newEntry(in shard: Shard, now: ContinuousClock.Instant) -> Entry? {
        guard shard.entries.count < Self.maxAddressesPerShard else { return nil }
        tracked.add(1, ordering: .relaxed)
        return Entry(tokens: Double(policy.rate?.burst ?? 0), updated: now, windowStart: now)
    }

    private func refill(_ entry: inout Entry, now: ContinuousClock.Instant) {
        guard let rate = policy.rate, now > entry.updated else { return }
        entry.tokens = min(Double(rate.burst), entry.tokens + (now - entry.updated).seconds * rate.queriesPerSecond)
        entry.updated = now
    }

    private func shard(of address: String) -> Shard {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable, cheap, no per-process seed needed here
        for b in address.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return shards[Int(h % UInt64(Self.shardCount))]
    }

    static func wholeSeconds(_ d: Duration) -> Int { max(1, Int(d.seconds.rounded(.up))) }
}
