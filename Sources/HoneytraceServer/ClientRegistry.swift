import Crypto
import Formats
import Foundation
import Training

/// A per-client rate limit: a token bucket of `burst` queries (images) refilled at
/// `queriesPerSecond`. A request of n images takes n tokens; without them it is refused with 429.
public struct RateLimit: Codable, Sendable, Equatable {
    public var queriesPerSecond: Double
    public var burst: Int

    public init(queriesPerSecond: Double, burst: Int) {
        self.queriesPerSecond = queriesPerSecond
        self.burst = burst
    }

    private enum CodingKeys: String, CodingKey { case queriesPerSecond = "queries_per_second", burst }

    /// Decodes `{"queries_per_second": 50, "burst": 100}`; `burst` defaults to one second of queries (at least 1).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        queriesPerSecond = try c.decode(Double.self, forKey: .queriesPerSecond)
        guard let rate = RateLimit.defaultBurst(queriesPerSecond) else {
            throw DecodingError.dataCorruptedError(forKey: .queriesPerSecond, in: c,
                                                   debugDescription: "queries_per_second must lie in (0, \(RateLimit.maxQueriesPerSecond)], found \(queriesPerSecond)")
        }
        burst = try c.decodeIfPresent(Int.self, forKey: .burst) ?? rate
    }

    /// The highest rate a clients file may give; beyond it a limit limits nothing, and one
    /// second of queries as a default burst would overflow `Int`.
    public static let maxQueriesPerSecond = 1e9

    /// One second of queries (at least 1), or nil when `queriesPerSecond` is not in (0, `maxQueriesPerSecond`].
    static func defaultBurst(_ queriesPerSecond: Double) -> Int? {
        guard queriesPerSecond > 0, queriesPerSecond <= maxQueriesPerSecond else { return nil }
        return CheckedNumber.int(queriesPerSecond, rounding: .up).map { max(1, $0) }
    }

    func validate(_ where_: String) throws -> Void {
        guard queriesPerSecond > 0, queriesPerSecond <= RateLimit.maxQueriesPerSecond else {
            throw ClientsFileProblem("\(where_): queries_per_second must be a positive number of at most \(RateLimit.maxQueriesPerSecond), found \(queriesPerSecond)")
        }
        guard burst >= 1 else { throw ClientsFileProblem("\(where_): burst must be at least 1, found \(burst)") }
    }
}

/// A problem with the clients file, without the file name (`load` adds it).
struct ClientsFileProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One client of the API: a name (used in logs, metrics and the database) and its API key.
public struct ClientEntry: Sendable, Equatable {
    public var name: String
    /// SHA-256 (hex, lower case) of the API key; the key itself is never kept in memory.
    public var keySHA256: String
    public var rateLimit: RateLimit?

    public init(name: String, keySHA256: String, rateLimit: RateLimit?) {
        self.name = name
        self.keySHA256 = keySHA256.lowercased()
        self.rateLimit = rateLimit
    }

    /// A client from its plain API key.
    public init(name: String, key: String, rateLimit: RateLimit?) {
        self.init(name: name, keySHA256: ClientRegistry.hash(key), rateLimit: rateLimit)
    }
}

/// The API's clients, from a JSON clients file:
///
/// ```json
/// {
///   "default_rate_limit": {"queries_per_second": 100, "burst": 200},
///   "clients": [
///     {"name": "alice", "key": "ht-alice-4f9c2a71d0e8b3a6"},
///     {"name": "bob",   "key_sha256": "<64 hex digits: SHA-256 of bob's key>",
///      "rate_limit": {"queries_per_second": 10, "burst": 20}},
///     {"name": "batch-jobs", "key": "ht-batch-7d1e09c4aa5b62f3", "rate_limit": null}
///   ]
/// }
/// ```
///
/// - `name`: 1–64 characters of `A–Z a–z 0–9 . _ -`, unique; it names the client in logs,
///   metrics and the query database.
/// - exactly one of `key` (the API key itself: 16–256 printable ASCII characters without
///   spaces) or `key_sha256` (its SHA-256 in hex, so the file need not hold the key); unique.
/// - `rate_limit` (optional): queries (images) per second and burst, a token bucket per
///   client; absent = `default_rate_limit`; `null` = unlimited. `default_rate_limit` is
///   optional (absent = unlimited).
///
/// Clients send `Authorization: Bearer <key>`. Keep the file owner-only (`chmod 600`), and prefer
/// `key_sha256`: the server warns at start-up about every client whose plain key the file holds.
///
/// A presented key is hashed and compared with every client's digest in constant time
/// (`ConstantTime.equal`, no early exit and no hash-table probe), so response times say nothing
/// about how close a guessed key came.
public struct ClientRegistry: Sendable {
    public let clients: [ClientEntry]
    /// SHA-256 of each client's key, as bytes, in `clients` order.
    private let digests: [[UInt8]]
    /// Clients whose key the clients file gives in plain text (`"key"`), in file order.
    public let plainKeyClients: [String]
    /// How two key digests are compared: `ConstantTime.equal` (tests count the calls).
    private let compare: @Sendable ([UInt8], [UInt8]) -> Bool

    /// The name requests are counted under when the server runs without a clients file.
    public static let anonymous = "anonymous"

    /// A registry of `clients`.
    ///
    /// - Throws: `ServerError(.invalidClientsFile)` for a bad or repeated name, a malformed key
    ///   hash, a key given to two clients, or an invalid rate limit.
    public init(clients: [ClientEntry]) throws {
        do {
            try self.init(checking: clients)
        } catch let problem as ClientsFileProblem {
            throw ServerError(.invalidClientsFile, problem.description)
        }
    }

    init(checking clients: [ClientEntry], plainKeyClients: [String] = [],
         compare: @escaping @Sendable ([UInt8], [UInt8]) -> Bool = ConstantTime.equal) throws {
        var byHash: [String: Int] = [:], names = Set<String>()
        for (i, c) in clients.enumerated() {
            try ClientRegistry.checkName(c.name, at: "client \(i)")
            guard names.insert(c.name).inserted else { throw ClientsFileProblem("client \(i): the name '\(c.name)' is used twice") }
            guard Hex.isCanonical(c.keySHA256, bytes: 32) else {
                throw ClientsFileProblem("client \(i) ('\(c.name)'): key_sha256 must be 64 hex digits")
            }
            guard byHash[c.keySHA256] == nil else {
                throw ClientsFileProblem("client \(i) ('\(c.name)'): the same API key is already given to '\(clients[byHash[c.keySHA256]!].name)'")
            }
            try c.rateLimit?.validate("client \(i) ('\(c.name)') rate_limit")
            byHash[c.keySHA256] = i
        }
        self.clients = clients
        self.digests = clients.map { Hex.decode($0.keySHA256)! }
        self.plainKeyClients = plainKeyClients
        self.compare = compare
    }

    /// The client holding API key `key`, if any: its digest is compared with every client's, each
    /// comparison in constant time, and the scan never stops early.
    public func client(forKey key: String) -> ClientEntry? {
        let presented = Array(SHA256.hash(data: Data(key.utf8)))
        var found = -1
        for (i, digest) in digests.enumerated() where compare(digest, presented) { found = i }
        return found >= 0 ? clients[found] : nil
    }

    /// The start-up warning for a clients file holding plain keys; nil when every key is hashed.
    public var plainKeyWarning: String? {
        guard !plainKeyClients.isEmpty else { return nil }
        return "the clients file holds the plain API keys of \(plainKeyClients.count) client(s) (\(plainKeyClients.joined(separator: ", "))): "
            + "anyone who can read it can use them. Replace each \"key\" with \"key_sha256\", the key's SHA-256 in hex "
            + "(printf '%s' \"$KEY\" | sha256sum)"
    }

    /// SHA-256 (hex) of an API key.
    public static func hash(_ key: String) -> String { Hashing.sha256(Data(key.utf8)) }

    /// Reads and checks a clients file.
    ///
    /// - Throws: `ServerError(.invalidClientsFile)` naming the file and the first problem.
    public static func load(_ path: String) throws -> ClientRegistry {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServerError(file: path, .invalidClientsFile, FileManager.default.fileExists(atPath: path)
                              ? "cannot be read" : "no such clients file")
        }
        do {
            return try parse(data)
        } catch let problem as ClientsFileProblem {
            throw ServerError(file: path, .invalidClientsFile, problem.description)
        }
    }

    /// Parses the JSON of a clients file; throws a `ClientsFileProblem` naming the problem.
    static func parse(_ data: Data) throws -> ClientRegistry {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data) } catch {
            throw ClientsFileProblem("not valid JSON (\(error.localizedDescription)); see ClientRegistry for the format")
        }
        guard let object = root as? [String: Any] else { throw ClientsFileProblem("the top level must be an object with a \"clients\" array") }
        let known: Set<String> = ["clients", "default_rate_limit"]
        if let extra = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw ClientsFileProblem("unknown field '\(extra)' (expected \"clients\" and optionally \"default_rate_limit\")")
        }
        guard let list = object["clients"] as? [Any] else { throw ClientsFileProblem("field \"clients\" must be an array of clients") }
        var defaultLimit: RateLimit?
        if let d = object["default_rate_limit"], !(d is NSNull) {
            defaultLimit = try rateLimit(d, at: "default_rate_limit")
        }
        var entries: [ClientEntry] = [], plain: [String] = []
        for (i, item) in list.enumerated() {
            guard let c = item as? [String: Any] else { throw ClientsFileProblem("client \(i) must be an object with \"name\" and \"key\"") }
            let fields: Set<String> = ["name", "key", "key_sha256", "rate_limit"]
            if let extra = c.keys.sorted().first(where: { !fields.contains($0) }) {
                throw ClientsFileProblem("client \(i): unknown field '\(extra)' (expected name, key or key_sha256, rate_limit)")
            }
            guard let name = c["name"] as? String else { throw ClientsFileProblem("client \(i): \"name\" must be a string") }
            let hash: String
            switch (c["key"], c["key_sha256"]) {
            case (let key as String, nil):
                guard (16...256).contains(key.count), key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                    throw ClientsFileProblem("client \(i) ('\(name)'): the key must be 16–256 printable ASCII characters without spaces")
                }
                hash = ClientRegistry.hash(key)
                plain.append(name)
            case (nil, let h as String):
                hash = h.lowercased()
            case (nil, nil):
                throw ClientsFileProblem("client \(i) ('\(name)'): give \"key\" or \"key_sha256\"")
            case (.some, .some):
                throw ClientsFileProblem("client \(i) ('\(name)'): give only one of \"key\" and \"key_sha256\"")
            default:
                throw ClientsFileProblem("client \(i) ('\(name)'): \"key\" / \"key_sha256\" must be a string")
            }
            var limit = defaultLimit
            if c.keys.contains("rate_limit") {
                limit = c["rate_limit"] is NSNull ? nil : try rateLimit(c["rate_limit"]!, at: "client \(i) ('\(name)') rate_limit")
            }
            entries.append(ClientEntry(name: name, keySHA256: hash, rateLimit: limit))
        }
        return try ClientRegistry(checking: entries, plainKeyClients: plain)
    }

    private static func rateLimit(_ value: Any, at place: String) throws -> RateLimit {
        guard let o = value as? [String: Any] else { throw ClientsFileProblem("\(place) must be an object {\"queries_per_second\": …, \"burst\": …}") }
        if let extra = o.keys.sorted().first(where: { $0 != "queries_per_second" && $0 != "burst" }) {
            throw ClientsFileProblem("\(place): unknown field '\(extra)' (expected queries_per_second, burst)")
        }
        guard let qps = (o["queries_per_second"] as? NSNumber)?.doubleValue else {
            throw ClientsFileProblem("\(place): queries_per_second must be a number")
        }
        guard var burst = RateLimit.defaultBurst(qps) else {
            throw ClientsFileProblem("\(place): queries_per_second must be a positive number of at most \(RateLimit.maxQueriesPerSecond), found \(qps)")
        }
        if let b = o["burst"] {
            guard let n = b as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e12 else {
                throw ClientsFileProblem("\(place): burst must be a whole number")
            }
            burst = n.intValue
        }
        let limit = RateLimit(queriesPerSecond: qps, burst: burst)
        try limit.validate(place)
        return limit
    }

    static func checkName(_ name: String, at place: String) throws {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw ClientsFileProblem("\(place): the name '\(name)' must be 1–64 characters of A–Z a–z 0–9 . _ -")
        }
    }
}

/// Token buckets, one per client, behind one lock (one server's; replicas share theirs in the ledger).
public final class RateLimiter: @unchecked Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let lock = NSLock()
    private var buckets: [String: Bucket] = [:]
    private let clock = ContinuousClock()

    public enum Decision: Equatable, Sendable {
        case allowed
        /// Seconds until enough tokens have accumulated.
        case refused(retryAfter: Double)
        /// The request needs more tokens than the bucket holds.
        case neverFits
    }

    /// Takes `cost` tokens from `client`'s bucket if it holds them.
    func take(_ cost: Int, client: String, limit: RateLimit) -> Decision {
        guard cost <= limit.burst else { return .neverFits }
        let now = clock.now
        lock.lock()
        defer { lock.unlock() }
        var b = buckets[client] ?? Bucket(tokens: Double(limit.burst), updated: now)
        b.tokens = min(Double(limit.burst), b.tokens + (now - b.updated).seconds * limit.queriesPerSecond)
        b.updated = now
        let decision: Decision
        if b.tokens >= Double(cost) {
            b.tokens -= Double(cost)
            decision = .allowed
        } else {
            decision = .refused(retryAfter: (Double(cost) - b.tokens) / limit.queriesPerSecond)
        }
        buckets[client] = b
        return decision
    }
}
