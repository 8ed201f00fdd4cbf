/// The role an image plays in an evaluation: every image has exactly one, and each
/// record names the role of every input it used.
///
/// The owner builds keys, probes, feature banks and calibrations only from owner-side data
/// (`ownerValidation`, or `generated` proxies made from it); the attacker's pools never reach
/// the owner, and the test set is for reported figures.
public enum DataRole: String, Codable, Sendable, CaseIterable {
    /// Images the victim trained on.
    case victimTraining = "victim-training"
    /// The owner's held-out split: never trained on, the source of everything the owner builds.
    case ownerValidation = "owner-validation"
    /// Images an attacker queries with (its own data, which the owner never has).
    case attackerPool = "attacker-pool"
    /// The test set: reported figures only.
    case test
    /// Images the owner generates (noise, pixel-permuted owner images) as an out-of-distribution proxy.
    case generated

    /// Whether the owner may build keys and calibrations from data of this role.
    public var isOwnerSide: Bool { self != .attackerPool }
}

extension ImageDataset {
    /// This dataset with `role` set (the pixels are shared, not copied).
    public func withRole(_ role: DataRole?) -> ImageDataset {
        var d = self
        d.role = role
        return d
    }

    /// Throws unless the owner may use this dataset for `purpose`: attacker pools (and any
    /// combination that contains one) are refused, whatever else they hold.
    public func requireOwnerSide(for purpose: String) throws {
        if let role, !role.isOwnerSide {
            throw DatasetError(kind: .invalidArgument,
                               problem: "\(name) is an attacker's pool (role \(role.rawValue)); \(purpose) takes only the owner's own data (an owner validation split, or images the owner generates)")
        }
    }
}
