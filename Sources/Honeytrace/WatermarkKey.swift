import Crypto
import Foundation
import Training

/// A secret watermark key (docs/algorithms.md §2–§3): the n watermark images with their cached features,
/// the target class, a pool of reference logits, the defense's hyperparameters, a 32-byte HMAC
/// secret and the hash of the model it belongs to. Save it with `WatermarkKeyFile.save`
/// (owner-only permissions); it must never be served.
public struct WatermarkKey: Sendable, Equatable {
    /// Length of the HMAC secret in bytes.
    public static let secretLength = 32

    /// How the watermarks were made (and how triggers are made).
    public var recipe: WatermarkRecipe
    /// `[C, H, W]` of the model's inputs.
    public let inputShape: [Int]
    /// Number of classes K of the model.
    public let classes: Int
    /// Width F of the model's penultimate features.
    public let featureWidth: Int
    /// The n watermark images, `[n, C, H, W]` row-major, [0, 1].
    public let images: [Float]
    /// Their features h(W_i), `[n, F]`.
    public let features: [Float]
    /// The victim's logits on in-distribution target-class samples, `[R, K]`.
    public let referenceLogits: [Float]
    /// Standard deviation of each feature over the owner's in-distribution data, `[F]`
    /// (for the standardised feature space).
    public let featureStd: [Float]?
    /// Features of in-distribution images, `[M, F]` (for the out-of-distribution-aware score).
    public let dataFeatures: [Float]?
    /// Their labels, `[M]`.
    public let dataLabels: [Int]?
    /// The probe telling marked images from their controls (for `Score.markProbe`).
    public let markProbe: MarkProbe?
    /// The HMAC secret of the keyed randomness (32 bytes).
    public let secret: [UInt8]
    /// The model the key belongs to.
    public let model: ModelBinding
    /// The defense's settings (the offset d among them, once calibrated).
    public var defense: DefenseConfiguration
    /// The defense for clients past a query count (nil: every client gets `defense`).
    public var heavyClient: HeavyClientPolicy?
    /// Where and how the key was made.
    public var creation: KeyCreation

    /// Number of watermarks n.
    public var count: Int { images.count / max(imageSize, 1) }
    /// Values per image.
    public var imageSize: Int { inputShape.reduce(1, *) }
    /// Number of reference logit vectors R.
    public var referenceCount: Int { referenceLogits.count / max(classes, 1) }
    /// Number of in-distribution feature vectors M (0 without a bank).
    public var dataCount: Int { dataLabels?.count ?? 0 }
    /// The target class t.
    public var target: Int { recipe.target }

    /// A key from its parts, validated (shapes, finiteness, secret length, recipe).
    public init(recipe: WatermarkRecipe, inputShape: [Int], classes: Int, images: [Float], features: [Float],
                referenceLogits: [Float], secret: [UInt8], model: ModelBinding, defense: DefenseConfiguration = DefenseConfiguration(),
                featureStd: [Float]? = nil, dataFeatures: [Float]? = nil, dataLabels: [Int]? = nil,
                markProbe: MarkProbe? = nil, creation: KeyCreation = KeyCreation()) throws {
        func fail(_ problem: String) -> HoneytraceError { HoneytraceError(.invalidKey, problem) }
        try recipe.validate(classes: classes, inputShape: inputShape)
        let size = inputShape.reduce(1, *)
        guard !images.isEmpty, images.count % size == 0 else {
            throw fail("images hold \(images.count) values, not a positive number of \(inputShape) images")
        }
        let n = images.count / size
        guard features.count % n == 0, features.count / n > 0 else {
            throw fail("features hold \(features.count) values, not \(n) rows (one per watermark)")
        }
        let f = features.count / n
        guard classes >= 2 else { throw fail("a key needs at least 2 classes, found \(classes)") }
        guard !referenceLogits.isEmpty, referenceLogits.count % classes == 0 else {
            throw fail("reference logits hold \(referenceLogits.count) values, not a positive number of rows of \(classes) classes")
        }
        guard secret.count == WatermarkKey.secretLength else {
            throw fail("the secret has \(secret.count) bytes, \(WatermarkKey.secretLength) expected")
        }
        if let bad = images.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) { throw fail("image value \(bad) is \(images[bad]), outside [0, 1]") }
        if let bad = features.firstIndex(where: { !$0.isFinite }) { throw fail("feature value \(bad) is not finite") }
        if let bad = referenceLogits.firstIndex(where: { !$0.isFinite }) { throw fail("reference logit \(bad) is not finite") }
        if let featureStd {
            guard featureStd.count == f else { throw fail("feature_std has \(featureStd.count) values, the feature width is \(f)") }
            if let bad = featureStd.firstIndex(where: { !($0 >= 0 && $0.isFinite) }) {
                throw fail("feature_std[\(bad)] = \(featureStd[bad]) must be finite and ≥ 0")
            }
        }
        if (dataFeatures == nil) != (dataLabels == nil) { throw fail("data features and data labels must come together") }
        if let dataFeatures, let dataLabels {
            guard !dataLabels.isEmpty, dataFeatures.count == dataLabels.count * f else {
                throw fail("data features hold \(dataFeatures.count) values, \(dataLabels.count) labels × width \(f) need \(dataLabels.count * f)")
            }
            if let bad = dataFeatures.firstIndex(where: { !$0.isFinite }) { throw fail("data feature value \(bad) is not finite") }
            if let bad = dataLabels.firstIndex(where: { !(0..<classes).contains($0) }) {
                throw fail("data label \(bad) is \(dataLabels[bad]), outside 0..<\(classes)")
            }
        }
        if let markProbe, markProbe.width != f {
            throw fail("the mark probe has \(markProbe.width) weights, the feature width is \(f)")
        }
        try defense.validate()
        self.recipe = recipe
        self.inputShape = inputShape
        self.classes = classes
        self.featureWidth = f
        self.images = images
        self.features = features
        self.referenceLogits = referenceLogits
        self.featureStd = featureStd
        self.dataFeatures = dataFeatures
        self.dataLabels = dataLabels
        self.markProbe = markProbe
        self.secret = secret
        self.model = model
        self.defense = defense
        self.creation = creation
    }

    /// First 16 hex digits of SHA-256(secret): names the secret without revealing it.
    public var secretFingerprint: String {
        String(SHA256.hash(data: secret).map { String(format: "%02x", $0) }.joined().prefix(16))
    }

    /// The secret `create` derives from `seed` with `.derivedFromSeed`.
    public static func seedDerivedSecret(_ seed: UInt64) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array("honeytrace/key-secret/v1".utf8))
        withUnsafeBytes(of: seed.littleEndian) { hasher.update(bufferPointer: $0) }
        return Array(hasher.finalize())
    }

    /// Whether anyone who knows the creation seed can recompute the secret: recorded so at
    /// creation, or equal to the seed's derived secret whatever the record says.
    public var isSecretDerivedFromSeed: Bool {
        creation.secretSource == "derived-from-seed" || secret == Self.seedDerivedSecret(creation.seed)
    }

    /// The model's features, logits and hash must be those the key was made with: throws
    /// `keyModelMismatch` when the weights' SHA-256 differs (unless `force`), and always when the
    /// input shape, class count or feature width differ (the key cannot work then).
    public func check(model: TrainedModel, force: Bool = false) throws {
        guard model.inputShape == inputShape else {
            throw HoneytraceError(.keyModelMismatch, "the key is for inputs \(inputShape), the model takes \(model.inputShape)")
        }
        guard model.classes == classes else {
            throw HoneytraceError(.keyModelMismatch, "the key is for \(classes) classes, the model has \(model.classes)")
        }
        guard model.featureWidth == featureWidth else {
            throw HoneytraceError(.keyModelMismatch, "the key holds features of width \(featureWidth), the model's are \(model.featureWidth) wide")
        }
        let hash = try ModelBinding.weightsSHA256(of: model)
        if hash != self.model.weightsSHA256 && !force {
            throw HoneytraceError(.keyModelMismatch,
                                  "the key was made for model weights SHA-256 \(self.model.weightsSHA256.prefix(16))…, this model's are \(hash.prefix(16))…; its cached features would be wrong (force to use it anyway)")
        }
    }

    /// Human-readable facts about the key (never the secret), one per line, for `watermark inspect`.
    public var summary: [(String, String)] {
        var lines: [(String, String)] = []
        lines.append(("recipe", recipe.kind.rawValue))
        switch recipe.kind {
        case .composite:
            // Not "classes": that label is the model's class count below, and labels are JSON keys in `inspect --json`.
            lines.append(("composite", "\(recipe.sourceClass ?? -1) + region of \(recipe.otherClass ?? -1) → \(recipe.target)"))
            lines.append(("region", recipe.resolvedRegion(height: inputShape[1], width: inputShape[2]).rawValue))
        case .whiteBlock:
            lines.append(("target", "\(recipe.target)"))
            lines.append(("block", "\(recipe.resolvedBlockSize(height: inputShape[1], width: inputShape[2])) px"))
        case .logo:
            lines.append(("target", "\(recipe.target)"))
            lines.append(("logo", recipe.logo.map { "\($0.height)×\($0.width), \($0.channels) channel(s)" } ?? "built-in mark"))
        }
        lines.append(("watermarks", "\(count)"))
        lines.append(("input shape", inputShape.map(String.init).joined(separator: "×")))
        lines.append(("classes", "\(classes)"))
        lines.append(("feature width", "\(featureWidth)"))
        lines.append(("reference logits", "\(referenceCount)"))
        lines.append(("feature std", featureStd == nil ? "absent" : "present"))
        lines.append(("data features", "\(dataCount)"))
        lines.append(("mark probe", markProbe == nil ? "absent" : "present"))
        lines.append(("model", "\(model.architecture), weights SHA-256 \(model.weightsSHA256)"))
        lines.append(("secret", "\(secret.count) bytes, fingerprint \(secretFingerprint) (\(creation.secretSource))"))
        let d = defense
        lines.append(("defense", "d = \(d.offset), α = \(d.mixingPower), β = \(d.flippingPower), σ = \(d.flipNoiseStd), distance \(d.distance.rawValue), aggregate \(d.aggregate), features \(d.featureSpace.rawValue), score \(d.score.rawValue), randomness \(d.randomness), answers \(d.answer)"
                            + (d.outOfDistributionGateDescription.map { ", \($0)" } ?? "")))
        if let h = heavyClient {
            let hd = h.defense
            lines.append(("heavy clients", "after \(h.afterQueries) queries: d = \(hd.offset), α = \(hd.mixingPower), β = \(hd.flippingPower), score \(hd.score.rawValue)"
                          + (hd.outOfDistributionGateDescription.map { ", \($0)" } ?? ", no gate") + (h.union ? ", with the key's own flips" : "")))
        }
        lines.append(("confidence rules", "≥ \(d.confidentThreshold.map { "\($0) → s^\(d.confidentExponent)" } ?? "off"); < \(d.unconfidentThreshold.map { "\($0) → s^\(d.unconfidentExponent)" } ?? "off")"))
        lines.append(("created", "\(creation.createdAt) by \(creation.tool), seed \(creation.seed)"))
        if let held = creation.heldOut { lines.append(("held-out data", "\(held.name) (\(held.count) images, SHA-256 \(held.sha256.prefix(16))…)")) }
        if let r = creation.watermarkTargetRate { lines.append(("model on watermarks", String(format: "%.1f %%", 100 * r) + " answered \(recipe.target)")) }
        return lines
    }
}
