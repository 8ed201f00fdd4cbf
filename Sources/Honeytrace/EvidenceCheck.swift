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
    public var valid: Bool

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
        self.valid = signatureValid && chainIntact
    }
}
