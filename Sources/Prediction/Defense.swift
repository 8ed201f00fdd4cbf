import Datasets

/// Where a defense acts on the way from a model to its clients.
public enum DefenseKind: String, Codable, Sendable, CaseIterable {
    /// Changes the API's answers at serving time (Neural Honeytrace, DAWN, output perturbations).
    case apiSide = "api-side"
    /// Trains its own victim with a watermark from the victim's architecture and recipe
    /// (composite backdoor, MEA-Defender, EWE); the API answers that victim's softmax.
    case trainingTime = "training-time"
    /// Leaves the answers alone and only verifies (PROWN), so it composes with every API.
    case verificationOnly = "verification-only"
}

/// A defense in front of a model, as the grid, the CLI and the server use it: its name, its
/// kind, and the API one client is answered by. Per-client state (a query count, a watermark
/// log) lives in the API it returns, so each client gets its own.
public protocol Defense: AnyObject {
    /// The name in configurations, records and tables ("none", "honeytrace", "rounding-2", …).
    var name: String { get }
    var kind: DefenseKind { get }
    /// The API `client` queries, answering in `answerMode` where the defense allows it (an
    /// output perturbation fixes its own: top-1 answers labels).
    func api(client: String, answerMode: AnswerMode) throws -> PredictionAPI
}

/// What one watermark concludes about a suspect: its own statistic, the threshold at a stated
/// false-claim rate, the p-value and the verdict, with the null models it was judged against.
public struct WatermarkEvidence: Codable, Sendable, Equatable {
    /// The watermark ("neural-honeytrace", "prown", "dawn", "composite", …).
    public var watermark: String
    /// What `value` measures ("specific WSR", "trigger accuracy", "agreement with logged labels").
    public var statistic: String
    public var value: Double
    /// The value a suspect must exceed for the verdict "stolen" (nil when the verdict comes from
    /// the p-value alone).
    public var threshold: Double?
    /// The false-claim rate the threshold or the p-value is judged at.
    public var falseClaimRate: Double
    public var pValue: Double
    /// True: "stolen".
    public var stolen: Bool
    /// Queries sent to the suspect.
    public var queries: Int
    /// Models that never saw the API the threshold or the null rate came from.
    public var nullModels: Int

    public init(watermark: String, statistic: String, value: Double, threshold: Double?, falseClaimRate: Double, pValue: Double,
                stolen: Bool, queries: Int, nullModels: Int) {
        self.watermark = watermark; self.statistic = statistic; self.value = value; self.threshold = threshold
        self.falseClaimRate = falseClaimRate; self.pValue = pValue; self.stolen = stolen; self.queries = queries; self.nullModels = nullModels
    }

    /// "stolen" or "not stolen".
    public var verdict: String { stolen ? "stolen" : "not stolen" }
}

/// A watermark's verification: it owns its trigger set, its statistic and its verdict, and is
/// judged against null models fixed when it was made.
public protocol Watermark: AnyObject {
    /// The name in records and tables.
    var name: String { get }
    /// The evidence on `suspect`.
    func evidence(suspect: PredictionAPI) throws -> WatermarkEvidence
}

/// A defense that carries one watermark for every client (the training-time baselines): the evidence
/// on a suspect comes from its trigger set alone.
public protocol WatermarkedDefense: Defense {
    var watermark: Watermark { get }
}

/// A defense whose watermark is made of what it answered a client (DAWN): the evidence on a
/// suspect comes from that client's answers.
public protocol ClientWatermarkDefense: Defense {
    /// The evidence on `suspect` from the watermark of what `client` was answered.
    func evidence(client: String, suspect: PredictionAPI) throws -> WatermarkEvidence
}

/// The undefended model: softmax of the logits. Stolen copies of it are the reference models
/// a defended copy is compared with.
public final class Undefended: Defense {
    public let model: ModelAPI
    public var name: String { "none" }
    public var kind: DefenseKind { .apiSide }

    public init(model: ModelAPI) { self.model = model }

    public func api(client: String, answerMode: AnswerMode) throws -> PredictionAPI {
        ModelAPI(model: model.model, answerMode: answerMode, name: "undefended victim", batchSize: model.batchSize)
    }
}

/// One of the output perturbations as a defense of its own (the weak references of the
/// comparison): every answer row perturbed, random ones from a generator seeded per client.
public final class PerturbationDefense: Defense {
    public let model: ModelAPI
    public let perturbation: OutputPerturbation
    public let name: String
    public let seed: UInt64
    public var kind: DefenseKind { .apiSide }

    /// - Throws: `invalidConfiguration` for a perturbation's parameters out of range.
    public init(model: ModelAPI, perturbation: OutputPerturbation, name: String, seed: UInt64) throws {
        try perturbation.validate()
        self.model = model; self.perturbation = perturbation; self.name = name; self.seed = seed
    }

    public func api(client: String, answerMode: AnswerMode) throws -> PredictionAPI {
        let probabilities = ModelAPI(model: model.model, answerMode: .probabilities, name: "victim", batchSize: model.batchSize)
        return try PerturbedAPI(base: probabilities, perturbation: perturbation, seed: SeedMixing.mix(seed, SeedMixing.salt(client)), name: "victim + \(name)")
    }
}
