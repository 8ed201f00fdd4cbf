import Crypto
import Datasets
import Formats
import Foundation
import TensorEngine
import Training

/// Where and how a key was made, for `watermark inspect` and reproducibility.
public struct KeyCreation: Codable, Sendable, Equatable {
    /// ISO 8601 time of creation (UTC).
    public var createdAt: String
    /// The program that made the key.
    public var tool: String
    /// Seed of every random choice made at creation.
    public var seed: UInt64
    /// "system-random", "derived-from-seed" or "given".
    public var secretSource: String
    /// The held-out data the watermark images came from (name, count, SHA-256 of the pixels).
    public var heldOut: DataFingerprint?
    /// Indices into that data of the images used to build the watermarks (base and donor
    /// images); verification triggers avoid them.
    public var sourceIndices: [Int]
    /// Fraction of the watermark images the model itself labels with the target class.
    public var watermarkTargetRate: Double?
    /// Fraction of the sampled target-class images the model labels correctly (the rest are
    /// left out of the reference pool).
    public var referenceAccuracy: Double?

    public init(createdAt: String = KeyCreation.now(), tool: String = "honeytrace", seed: UInt64 = 0,
                secretSource: String = "given", heldOut: DataFingerprint? = nil, sourceIndices: [Int] = [],
                watermarkTargetRate: Double? = nil, referenceAccuracy: Double? = nil) {
        self.createdAt = createdAt
        self.tool = tool
        self.seed = seed
        self.secretSource = secretSource
        self.heldOut = heldOut
        self.sourceIndices = sourceIndices
        self.watermarkTargetRate = watermarkTargetRate
        self.referenceAccuracy = referenceAccuracy
    }

    /// The current time in ISO 8601 (UTC, seconds).
    public static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }

    private enum CodingKeys: String, CodingKey {
        case createdAt = "created_at", tool, seed, secretSource = "secret_source", heldOut = "held_out"
        case sourceIndices = "source_indices", watermarkTargetRate = "watermark_target_rate", referenceAccuracy = "reference_accuracy"
    }
}

extension WatermarkKey {
    /// Where the HMAC secret comes from.
    public enum SecretSource: Sendable, Equatable {
        /// 32 bytes from the system's cryptographic generator (the default).
        case systemRandom
        /// SHA-256 of a domain tag and the creation seed: reproducible, for tests and experiments
        /// only (anyone who knows the seed knows the secret).
        case derivedFromSeed
        /// The given 32 bytes.
        case given([UInt8])
    }

    /// Settings of `create` besides the model, the data and the recipe.
    public struct CreationOptions: Sendable {
        /// Number of watermarks n (default 50).
        public var count: Int
        /// Most reference logit vectors to keep (default 256).
        public var referencePoolSize: Int
        /// Most in-distribution images whose features the key keeps for the OOD-aware score (default 512; 0 = none).
        public var dataBankSize: Int
        /// Most held-out images used to measure the per-feature std (default 2048).
        public var featureStdSampleSize: Int
        /// Trigger/control pairs the mark probe is fitted on (default 1024; 0 = no probe).
        public var probePairs: Int
        /// Where the secret comes from.
        public var secret: SecretSource
        /// Forward-pass batch size.
        public var batchSize: Int

        public init(count: Int = 50, referencePoolSize: Int = 256, dataBankSize: Int = 512, featureStdSampleSize: Int = 2048,
                    probePairs: Int = 1024, secret: SecretSource = .systemRandom, batchSize: Int = 256) {
            self.count = count
            self.probePairs = probePairs
            self.referencePoolSize = referencePoolSize
            self.dataBankSize = dataBankSize
            self.featureStdSampleSize = featureStdSampleSize
            self.secret = secret
            self.batchSize = batchSize
        }
    }

    /// Makes a key for `model` from the owner's held-out in-distribution data.
    ///
    /// With a seeded generator it picks the base (and donor) images, builds the n watermarks,
    /// caches their features, collects reference logits from the model on target-class images it
    /// classifies correctly (all sampled ones if it gets none right), fits the mark probe on
    /// verifier-style trigger/control pairs (`MarkProbe`), measures the per-feature std
    /// and keeps a bank of in-distribution features (from `bankData` when given, e.g. the victim's
    /// training data, else from `heldOut`). When a class has fewer images than needed, images are
    /// reused.
    ///
    /// - Throws: `HoneytraceError` when the data does not fit the model or lacks the recipe's classes.
    public static func create(model: TrainedModel, heldOut: ImageDataset, recipe: WatermarkRecipe = .composite(),
                              defense: DefenseConfiguration = DefenseConfiguration(), options: CreationOptions = CreationOptions(),
                              bankData: ImageDataset? = nil, seed: UInt64) throws -> WatermarkKey {
        func fail(_ problem: String) -> HoneytraceError { HoneytraceError(.invalidArgument, problem) }
        let shape = model.inputShape
        try heldOut.requireOwnerSide(for: "a watermark key")
        try bankData?.requireOwnerSide(for: "a watermark key's in-distribution bank")
        try recipe.validate(classes: model.classes, inputShape: shape)
        guard heldOut.imageShape == shape else {
            throw fail("\(heldOut.name) has images of shape \(heldOut.imageShape), the model takes \(shape)")
        }
        guard options.count >= 1 else { throw fail("a key needs at least one watermark, \(options.count) requested") }
        guard let values = CheckedNumber.product([options.count, model.inputSize]), values <= TriggerSet.maxPixelValues else {
            throw fail("\(options.count) watermarks of \(shape) images exceed \(TriggerSet.maxPixelValues) pixel values held at once; ask for fewer")
        }
        guard options.referencePoolSize >= 1 else { throw fail("the reference pool needs at least one entry") }
        if let bankData, bankData.imageShape != shape {
            throw fail("\(bankData.name) has images of shape \(bankData.imageShape), the model takes \(shape)")
        }
        let n = options.count, size = model.inputSize
        let baseClasses = recipe.baseClasses(classes: model.classes)
        let basePool = heldOut.labels.indices.filter { baseClasses.contains(heldOut.labels[$0]) }
        guard !basePool.isEmpty else {
            throw HoneytraceError(.insufficientData, "\(heldOut.name) has no images of class \(baseClasses.map(String.init).joined(separator: ", ")) to build watermarks from")
        }
        var rng = SeededGenerator(seed: SeedMixing.mix(seed, 0x6B65_79))  // salt "key"
        let bases = cyclicSample(basePool, count: n, generator: &rng)
        var donors: [Int] = []
        if recipe.kind == .composite, let j = recipe.otherClass {
            let donorPool = heldOut.indices(ofClass: j)
            guard !donorPool.isEmpty else {
                throw HoneytraceError(.insufficientData, "\(heldOut.name) has no images of class \(j) to take the composite's region from")
            }
            donors = cyclicSample(donorPool, count: n, generator: &rng)
        }
        let logo = WatermarkImages.resolvedLogo(recipe, shape: shape)
        var images = [Float](repeating: 0, count: n * size)
        heldOut.pixels.withUnsafeBufferPointer { src in
            images.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    WatermarkImages.make(recipe, logo: logo, base: src.baseAddress! + bases[i] * size,
                                         donor: donors.isEmpty ? nil : src.baseAddress! + donors[i] * size,
                                         into: dst.baseAddress! + i * size, shape: shape)
                }
            }
        }
        let wm = model.outputs(pixels: images, count: n, batchSize: options.batchSize)
        let wmTargetRate = Double(BatchedForward.argmax(wm.logits, classes: model.classes).filter { $0 == recipe.target }.count) / Double(n)

        // Reference logits: the model on target-class images it gets right.
        let targetPool = heldOut.indices(ofClass: recipe.target)
        guard !targetPool.isEmpty else {
            throw HoneytraceError(.insufficientData, "\(heldOut.name) has no images of the target class \(recipe.target) for reference logits")
        }
        var refRng = SeededGenerator(seed: SeedMixing.mix(seed, 0x7265_66))  // salt "ref"
        let refIndices = Array(shuffled(targetPool, generator: &refRng).prefix(options.referencePoolSize))
        let refData = heldOut.subset(indices: refIndices)
        let refOut = model.outputs(pixels: refData.pixels, count: refData.count, batchSize: options.batchSize)
        let refPred = BatchedForward.argmax(refOut.logits, classes: model.classes)
        let correct = refPred.indices.filter { refPred[$0] == recipe.target }
        let keep = correct.isEmpty ? Array(refPred.indices) : correct
        var referenceLogits = [Float]()
        referenceLogits.reserveCapacity(keep.count * model.classes)
        for r in keep { referenceLogits += refOut.logits[(r * model.classes)..<((r + 1) * model.classes)] }

        // Feature statistics and the in-distribution bank.
        var statRng = SeededGenerator(seed: SeedMixing.mix(seed, 0x7374_64))  // salt "std"
        let statIndices = Array(shuffled(Array(heldOut.labels.indices), generator: &statRng).prefix(max(options.featureStdSampleSize, 2)))
        let statData = heldOut.subset(indices: statIndices)
        let statOut = model.outputs(pixels: statData.pixels, count: statData.count, batchSize: options.batchSize)
        let featureStd = columnStd(statOut.features, width: model.featureWidth)
        var dataFeatures: [Float]? = nil, dataLabels: [Int]? = nil
        if options.dataBankSize > 0 {
            if let bankData {
                var bankRng = SeededGenerator(seed: SeedMixing.mix(seed, 0x6261_6E6B))  // salt "bank"
                let idx = Array(shuffled(Array(bankData.labels.indices), generator: &bankRng).prefix(options.dataBankSize))
                let sub = bankData.subset(indices: idx)
                dataFeatures = model.outputs(pixels: sub.pixels, count: sub.count, batchSize: options.batchSize).features
                dataLabels = sub.labels
            } else {
                let m = min(options.dataBankSize, statData.count)
                dataFeatures = Array(statOut.features[0..<(m * model.featureWidth)])
                dataLabels = Array(statData.labels[0..<m])
            }
        }

        var stored = recipe
        stored.logo = logo
        let markProbe = options.probePairs > 0
            ? try fitMarkProbe(model: model, heldOut: heldOut, recipe: stored, pairs: options.probePairs, seed: seed, batchSize: options.batchSize)
            : nil

        let secret: [UInt8]
        let secretSource: String
        switch options.secret {
        case .systemRandom:
            var g = SystemRandomNumberGenerator()
            secret = (0..<secretLength).map { _ in UInt8.random(in: 0...255, using: &g) }
            secretSource = "system-random"
        case .derivedFromSeed:
            secret = WatermarkKey.seedDerivedSecret(seed)
            secretSource = "derived-from-seed"
        case .given(let bytes):
            secret = bytes
            secretSource = "given"
        }
        let creation = KeyCreation(seed: seed, secretSource: secretSource, heldOut: DataFingerprint(heldOut),
                                   sourceIndices: Array(Set(bases + donors)).sorted(), watermarkTargetRate: wmTargetRate,
                                   referenceAccuracy: Double(correct.count) / Double(refPred.count))
        return try WatermarkKey(recipe: stored, inputShape: shape, classes: model.classes, images: images, features: wm.features,
                                referenceLogits: referenceLogits, secret: secret, model: try ModelBinding(model), defense: defense,
                                featureStd: featureStd, dataFeatures: dataFeatures, dataLabels: dataLabels, markProbe: markProbe,
                                creation: creation)
    }

    /// The mark probe of a key: Fisher's discriminant between the model's features of `pairs`
    /// verifier-style triggers and their paired controls, built from `heldOut` with the recipe and
    /// the verifier's light augmentation.
    static func fitMarkProbe(model: TrainedModel, heldOut: ImageDataset, recipe: WatermarkRecipe, pairs: Int, seed: UInt64,
                             batchSize: Int) throws -> MarkProbe {
        let set = try TriggerSet.make(recipe: recipe, heldOut: heldOut, classes: model.classes, count: pairs,
                                      seed: SeedMixing.mix(seed, 0x7072_6F62))  // salt "prob"
        let marked = model.outputs(pixels: set.triggers, count: set.count, batchSize: batchSize).features
        let controls = model.outputs(pixels: set.controls, count: set.count, batchSize: batchSize).features
        return try MarkProbe.fit(marked: marked, controls: controls, width: model.featureWidth)
    }

    /// `count` entries of `pool`: a seeded shuffle, repeated (reshuffled) when the pool is smaller.
    static func cyclicSample(_ pool: [Int], count: Int, generator: inout SeededGenerator) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(count)
        while out.count < count { out += shuffled(pool, generator: &generator).prefix(count - out.count) }
        return out
    }

    /// A Fisher–Yates shuffle driven by `generator`.
    static func shuffled(_ values: [Int], generator: inout SeededGenerator) -> [Int] {
        var v = values
        if v.count > 1 {
            for i in stride(from: v.count - 1, to: 0, by: -1) { v.swapAt(i, generator.nextInt(below: i + 1)) }
        }
        return v
    }

    /// Population standard deviation of each column of a `[rows, width]` array (Double sums).
    static func columnStd(_ x: [Float], width: Int) -> [Float] {
        let rows = x.count / width
        var sum = [Double](repeating: 0, count: width), sq = sum
        x.withUnsafeBufferPointer { p in
            for r in 0..<rows {
                for f in 0..<width { let v = Double(p[r * width + f]); sum[f] += v; sq[f] += v * v }
            }
        }
        let n = Double(max(rows, 1))
        return (0..<width).map { f in
            let m = sum[f] / n
            return Float(max(sq[f] / n - m * m, 0).squareRoot())
        }
    }
}
