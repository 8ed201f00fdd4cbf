/// What checking a signed evidence bundle found (`honeytrace ledger check-bundle`), and what
/// `honeytrace verify --evidence` attaches to its report: whose entries the bundle holds, the head
/// hash it binds them to, and whether its signature and its hash chain hold. JSON keys are
/// camelCase like the `VerificationReport` it joins.
public struct EvidenceCheck: Codable, Sendable, Equatable {
    /// The bundle file.
    public var bundle: String
    public var client: String
    /// The client's entries in the bundle.
    public var entries: Int
    /// The ledger's last entry when the bundle was exported: its id and hash.
    public var headID: Int64
    public var headHash: String
    /// The Ed25519 public key (hex) the signature was checked against.
    public var publicKey: String
    /// Whether that key was given by the checker (a trusted key file) rather than read from the bundle itself.
    public var keyTrusted: Bool
    /// The signature over the bundle's contents is valid under `publicKey`.
    public var signatureValid: Bool
    /// Every entry matches its link, and the links lead from the bundle's first link to the head hash.
    public var chainIntact: Bool
    /// The first problem found, when either check failed.
    public var problem: String?

    /// Signature and chain both hold.
    public var valid: Bool { signatureValid && chainIntact }

    public init(bundle: String, client: String, entries: Int, headID: Int64, headHash: String, publicKey: String, keyTrusted: Bool,
                signatureValid: Bool, chainIntact: Bool, problem: String?) {
        self.bundle = bundle
        self.client = client
        self.entries = entries
        self.headID = headID
        self.headHash = headHash
        self.publicKey = publicKey
        self.keyTrusted = keyTrusted
        self.signatureValid = signatureValid
        self.chainIntact = chainIntact
        self.problem = problem
    }

    private enum CodingKeys: String, CodingKey {
        case bundle, client, entries, headID, headHash, publicKey, keyTrusted, signatureValid, chainIntact, problem, valid
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bundle, forKey: .bundle)
        try c.encode(client, forKey: .client)
        try c.encode(entries, forKey: .entries)
        try c.encode(headID, forKey: .headID)
        try c.encode(headHash, forKey: .headHash)
        try c.encode(publicKey, forKey: .publicKey)
        try c.encode(keyTrusted, forKey: .keyTrusted)
        try c.encode(signatureValid, forKey: .signatureValid)
        try c.encode(chainIntact, forKey: .chainIntact)
        try c.encode(valid, forKey: .valid)
        try c.encodeIfPresent(problem, forKey: .problem)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(bundle: try c.decode(String.self, forKey: .bundle), client: try c.decode(String.self, forKey: .client),
                  entries: try c.decode(Int.self, forKey: .entries), headID: try c.decode(Int64.self, forKey: .headID),
                  headHash: try c.decode(String.self, forKey: .headHash), publicKey: try c.decode(String.self, forKey: .publicKey),
                  keyTrusted: try c.decode(Bool.self, forKey: .keyTrusted), signatureValid: try c.decode(Bool.self, forKey: .signatureValid),
                  chainIntact: try c.decode(Bool.self, forKey: .chainIntact), problem: try c.decodeIfPresent(String.self, forKey: .problem))
    }
}
