import Datasets
import Formats
import TensorEngine
import Training

/// Verification queries (docs/algorithms.md §4.1 and §4.4): m fresh triggers made with the key's recipe from
/// the owner's held-out data, each with a paired control, both lightly augmented with the same
/// random parameters.
///
/// - Composite recipes: trigger i = class-k image a_i with its region taken from a class-j image;
///   control i = a_i with the same region taken from another class-k image (a same-class
///   composite). A model biased toward t answers t on both; only a watermark separates them.
/// - White block and logo: trigger i = a_i with the mark; control i = a_i unmarked.
///
/// Images the key was built from are left out when `heldOut` is the data the key was made from.
public struct TriggerSet: Sendable {
    /// Most pixel values (1 GiB of Float) that trigger sets and watermark images may hold at once:
    /// counts come from options, and past this the allocation stops the process.
    public static let maxPixelValues = 1 << 28

    /// The recipe the triggers follow.
    public let recipe: WatermarkRecipe
    /// `[C, H, W]`.
    public let imageShape: [Int]
    /// Number of trigger/control pairs m.
    public let count: Int
    /// `[m, C, H, W]` triggers, [0, 1].
    public let triggers: [Float]
    /// `[m, C, H, W]` paired controls, [0, 1].
    public let controls: [Float]
    /// Held-out index of each pair's base image a_i.
    public let baseIndices: [Int]
    /// Held-out index of each trigger's donor (class j; composites only, else empty).
    public let donorIndices: [Int]
    /// Held-out index of each control's donor (another class-k image; composites only, else empty).
    public let controlDonorIndices: [Int]

    /// The target class t.
    public var target: Int { recipe.target }
    /// Values per image.
    public var imageSize: Int { imageShape.reduce(1, *) }

    /// Triggers `range` as a `[n, C, H, W]` tensor.
    public func triggerBatch(_ range: Range<Int>) -> Tensor { batch(triggers, range) }
    /// Controls `range` as a `[n, C, H, W]` tensor.
    public func controlBatch(_ range: Range<Int>) -> Tensor { batch(controls, range) }

    private func batch(_ source: [Float], _ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "pairs \(range) out of range 0..<\(count)")
        let size = imageSize
        let t = Tensor(uninitialized: [range.count] + imageShape)
        source.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress! + range.lowerBound * size, count: range.count * size) }
        return t
    }

    /// Triggers for `key` from `heldOut`, leaving out the images the key was built from when
    /// `heldOut` is the same data (checked by content hash).
    public static func make(key: WatermarkKey, heldOut: ImageDataset, count: Int = 500, seed: UInt64,
                            augmentation: Augmentation = .verifier) throws -> TriggerSet {
        var excluded = Set<Int>()
        if let origin = key.creation.heldOut, origin.count == heldOut.count, DataFingerprint(heldOut).sha256 == origin.sha256 {
            excluded = Set(key.creation.sourceIndices)
        }
        var recipe = key.recipe
        if recipe.kind == .logo && recipe.logo == nil { recipe.logo = WatermarkImages.resolvedLogo(recipe, shape: key.inputShape) }
        return try make(recipe: recipe, heldOut: heldOut, classes: key.classes, count: count, seed: seed,
                        augmentation: augmentation, excluding: excluded)
    }

    /// Triggers for `recipe` from `heldOut`, never using the held-out images in `excluding`.
    ///
    /// Pairs are drawn with a seeded generator; when a class has fewer images than pairs,
    /// images are reused (their augmentations differ).
    public static func make(recipe: WatermarkRecipe, heldOut: ImageDataset, classes: Int, count: Int, seed: UInt64,
                            augmentation: Augmentation = .verifier, excluding: Set<Int> = []) throws -> TriggerSet {
        let shape = heldOut.imageShape
        try recipe.validate(classes: classes, inputShape: shape)
        try augmentation.validate()
        guard count >= 1 else { throw HoneytraceError(.invalidArgument, "at least one trigger is needed, \(count) requested") }
        guard let values = CheckedNumber.product([2, count, heldOut.imageSize]), values <= maxPixelValues else {
            throw HoneytraceError(.invalidArgument,
                                  "\(count) trigger/control pairs of \(shape) images exceed \(maxPixelValues) pixel values held at once; ask for fewer")
        }
        let baseClasses = Set(recipe.baseClasses(classes: classes))
        let basePool = heldOut.labels.indices.filter { baseClasses.contains(heldOut.labels[$0]) && !excluding.contains($0) }
        func insufficient(_ what: String) -> HoneytraceError {
            HoneytraceError(.insufficientData, "\(heldOut.name) has \(what) for triggers\(excluding.isEmpty ? "" : " once the key's \(excluding.count) images are left out")")
        }
        guard !basePool.isEmpty else { throw insufficient("no images of class \(baseClasses.sorted().map(String.init).joined(separator: ", "))") }
        var rng = SeededGenerator(seed: SeedMixing.mix(seed, 0x7472_6967))  // salt "trig"
        let bases = WatermarkKey.cyclicSample(basePool, count: count, generator: &rng)
        var donors: [Int] = [], controlDonors: [Int] = []
        if recipe.kind == .composite, let j = recipe.otherClass {
            let donorPool = heldOut.indices(ofClass: j).filter { !excluding.contains($0) }
            guard !donorPool.isEmpty else { throw insufficient("no images of class \(j)") }
            guard basePool.count >= 2 else { throw insufficient("fewer than two images of class \(recipe.sourceClass ?? -1) (a control needs another one)") }
            donors = WatermarkKey.cyclicSample(donorPool, count: count, generator: &rng)
            controlDonors = WatermarkKey.cyclicSample(basePool, count: count, generator: &rng)
            for i in 0..<count where controlDonors[i] == bases[i] {
                repeat { controlDonors[i] = basePool[rng.nextInt(below: basePool.count)] } while controlDonors[i] == bases[i]
            }
        }
        let logo = recipe.kind == .logo ? (recipe.logo?.fitted(to: shape) ?? WatermarkImages.resolvedLogo(recipe, shape: shape)) : nil
        let size = heldOut.imageSize
        var triggers = [Float](repeating: 0, count: count * size)
        var controls = [Float](repeating: 0, count: count * size)
        let plainTrigger = UnsafeMutablePointer<Float>.allocate(capacity: size)
        let plainControl = UnsafeMutablePointer<Float>.allocate(capacity: size)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: size)
        defer { plainTrigger.deallocate(); plainControl.deallocate(); scratch.deallocate() }
        heldOut.pixels.withUnsafeBufferPointer { src in
            triggers.withUnsafeMutableBufferPointer { tr in
                controls.withUnsafeMutableBufferPointer { ct in
                    for i in 0..<count {
                        let base = src.baseAddress! + bases[i] * size
                        WatermarkImages.make(recipe, logo: logo, base: base, donor: donors.isEmpty ? nil : src.baseAddress! + donors[i] * size,
                                             into: plainTrigger, shape: shape)
                        if controlDonors.isEmpty {
                            plainControl.update(from: base, count: size)
                        } else {
                            WatermarkImages.composite(base: base, donor: src.baseAddress! + controlDonors[i] * size, into: plainControl,
                                                      channels: shape[0], height: shape[1], width: shape[2],
                                                      region: recipe.resolvedRegion(height: shape[1], width: shape[2]))
                        }
                        // The same augmentation parameters for both: two copies of one generator.
                        var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x6175_676D, UInt64(i)))  // salt "augm"
                        var h = g
                        augmentation.apply(plainTrigger, into: tr.baseAddress! + i * size, scratch: scratch, channels: shape[0],
                                           height: shape[1], width: shape[2], generator: &g)
                        augmentation.apply(plainControl, into: ct.baseAddress! + i * size, scratch: scratch, channels: shape[0],
                                           height: shape[1], width: shape[2], generator: &h)
                    }
                }
            }
        }
        return TriggerSet(recipe: recipe, imageShape: shape, count: count, triggers: triggers, controls: controls,
                          baseIndices: bases, donorIndices: donors, controlDonorIndices: controlDonors)
    }
}
