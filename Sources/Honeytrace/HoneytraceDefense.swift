import Crypto
import Foundation
import TensorEngine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Neural Honeytrace (docs/algorithms.md §2): a training-free output transform in front of a classifier.
///
/// Per query row, from the logits z and penultimate features h(x) of one forward pass:
/// 1. dist = aggregate over the key's watermarks of D(h(x), h(W_i)) (GEMM-shaped);
/// 2. s = clip(d − dist, 0, 1), then the confidence rules (s² when max softmax ≥ 0.95,
///    s^(1/4) when < 0.5, each optional);
/// 3. z' = (1 − s^α)·z + s^α·l_ref with l_ref drawn from the key's reference logits;
/// 4. with probability s^β, z' = l_ref + ε, ε ~ N(0, σ²) per class;
/// 5. the answer is softmax(z') (or its top-1 / top-k), always a proper probability vector.
/// The flip draw, l_ref and ε come from HMAC-SHA256 of the quantised input under the key's
/// secret (`RowRandomness`), so the same input always gets the same answer.
///
/// Thread-safe: `defend` may be called concurrently (fresh randomness serialises only its call
/// counter).
public final class HoneytraceDefense: @unchecked Sendable {
    /// The key (images, cached features, reference logits, secret).
    public let key: WatermarkKey
    /// The settings in use.
    public let configuration: DefenseConfiguration

    private let width: Int
    private let classes: Int
    private let inverseStd: [Float]?
    /// Watermark features in the distance space (standardised when configured), `[n, F]`.
    private let watermarks: [Float]
    private let watermarkNorms: [Float]
    /// The watermarks' mean feature `[F]` and mean squared norm: the mean of the mean-squared
    /// distances to all n watermarks is one dot product with their mean,
    /// mean_i ‖q − w_i‖² = ‖q‖² − 2·q·w̄ + mean_i ‖w_i‖².
    private let watermarkMean: [Float]
    private let watermarkMeanNorm: Float
    /// In-distribution features in the distance space for the relative scores and the
    /// out-of-distribution gate, `[M, F]`.
    private let bank: [Float]
    private let bankNorms: [Float]
    /// The out-of-distribution gate's distance: queries whose nearest in-distribution feature is
    /// at most this far are never touched (nil: no gate).
    public let outOfDistributionFloor: Float?
    /// The gate's search over the bank, for scores that need only its yes or no (not the
    /// distance to the nearest bank feature).
    private let gateIndex: GateIndex?
    /// The pixel-mark score's mark (nil for every other score).
    let pixelMark: PixelMark?
    private let randomness: RowRandomness
    /// Hyperplanes `[B, F]` and their centre `[F]` of `.keyedNeighbourhood` randomness.
    private let hyperplanes: [Float]
    private let hyperplaneCentre: [Float]
    /// The keyed draw of each of the 2^`neighbourhoodBits` neighbourhood codes, made once.
    private let neighbourhoodDraws: [RowDraw]
    /// The K standard normals each neighbourhood draw's `noiseSeed` gives, `[2^bits, K]`: a
    /// flipped row's noise, drawn once per code instead of once per answer.
    private let neighbourhoodNoise: [Float]
    private let lock = NSLock()
    private var freshCalls: UInt64 = 0

    /// Rows per chunk of distance work (bounds the scratch memory for large arrays).
    static let chunkRows = 256

    /// A defense with `key` and `configuration` (the key's own settings when nil).
    ///
    /// - Throws: `HoneytraceError` when the configuration is invalid or needs what the key
    ///   lacks (`feature_std` for standardised features, data features for the relative scores and
    ///   the out-of-distribution gate).
    public init(key: WatermarkKey, configuration: DefenseConfiguration? = nil) throws {
        let config = configuration ?? key.defense
        try config.validate()
        self.key = key
        self.configuration = config
        self.width = key.featureWidth
        self.classes = key.classes
        if config.featureSpace == .standardized {
            guard let std = key.featureStd else {
                throw HoneytraceError(.invalidArgument, "standardised features need the key's feature_std, which this key lacks; recreate the key")
            }
            inverseStd = HoneytraceDefense.inverseStd(std)
        } else {
            inverseStd = nil
        }
        watermarks = HoneytraceDefense.scaled(key.features, inverseStd: inverseStd, width: key.featureWidth)
        watermarkNorms = FeatureDistance.squaredNorms(watermarks, width: key.featureWidth)
        (watermarkMean, watermarkMeanNorm) = HoneytraceDefense.mean(watermarks, norms: watermarkNorms, width: key.featureWidth)
        pixelMark = config.score == .pixelMark ? try PixelMark(recipe: key.recipe, inputShape: key.inputShape) : nil
        if config.score.needsProbe && key.markProbe == nil {
            throw HoneytraceError(.invalidArgument, "the \(config.score.rawValue) score needs the key's mark probe, which this key lacks; recreate the key")
        }
        if !config.score.needsDataFeatures && config.outOfDistributionGate == nil {
            bank = []
        } else {
            guard let df = key.dataFeatures, let dl = key.dataLabels, !dl.isEmpty else {
                let user = config.score.needsDataFeatures ? "the \(config.score.rawValue) score" : "the out-of-distribution gate"
                throw HoneytraceError(.invalidArgument, "\(user) needs in-distribution data features in the key, which this key lacks; recreate it with a data bank")
            }
            var rows = Array(dl.indices)
            if config.score == .relativeToSourceClasses {
                // Composites: the plain images of classes k and j; stamped marks: their base classes.
                let keep = Set(key.recipe.kind == .composite
                               ? [key.recipe.sourceClass, key.recipe.otherClass].compactMap { $0 }
                               : key.recipe.baseClasses(classes: key.classes))
                rows = rows.filter { keep.contains(dl[$0]) }
                guard !rows.isEmpty else {
                    throw HoneytraceError(.invalidArgument, "the key's data features hold no image of the source classes \(keep.sorted())")
                }
            }
            var selected = [Float]()
            selected.reserveCapacity(rows.count * key.featureWidth)
            for r in rows { selected += df[(r * key.featureWidth)..<((r + 1) * key.featureWidth)] }
            bank = HoneytraceDefense.scaled(selected, inverseStd: inverseStd, width: key.featureWidth)
        }
        bankNorms = bank.isEmpty ? [] : FeatureDistance.squaredNorms(bank, width: key.featureWidth)
        if let q = config.outOfDistributionGate {
            outOfDistributionFloor = try HoneytraceDefense.leaveOneOutQuantile(bank, norms: bankNorms, width: key.featureWidth,
                                                                                distance: config.distance, quantile: q)
        } else {
            outOfDistributionFloor = nil
        }
        if let floor = outOfDistributionFloor, !config.score.needsDataFeatures {
            gateIndex = GateIndex(bank: bank, width: key.featureWidth, distance: config.distance, floor: floor)
        } else {
            gateIndex = nil
        }
        randomness = RowRandomness(secret: key.secret, referenceCount: key.referenceCount, shape: key.inputShape)
        (hyperplanes, hyperplaneCentre) = HoneytraceDefense.neighbourhoodHyperplanes(key)
        let randomness = self.randomness
        neighbourhoodDraws = (0..<(1 << HoneytraceDefense.neighbourhoodBits)).map { c in
            var code = UInt8(c)
            return withUnsafeBytes(of: &code) { randomness.keyedDraw(quantized: $0) }
        }
        if case .keyedNeighbourhood = config.randomness {
            let classes = key.classes
            neighbourhoodNoise = neighbourhoodDraws.flatMap { draw in
                var g = SeededGenerator(seed: draw.noiseSeed)
                return (0..<classes).map { _ in g.nextNormal() }
            }
        } else {
            neighbourhoodNoise = []  // only neighbourhood draws come with a code
        }
    }

    /// The q-quantile of each bank row's distance D to its nearest other row: the distance an
    /// honest query's nearest in-distribution feature typically has.
    static func leaveOneOutQuantile(_ bank: [Float], norms: [Float], width: Int, distance: DefenseConfiguration.Distance,
                                    quantile q: Float) throws -> Float {
        let m = bank.count / width
        guard m >= 2 else {
            throw HoneytraceError(.invalidArgument, "the out-of-distribution gate needs at least 2 in-distribution features in the key, found \(m)")
        }
        var pair = [Float](repeating: 0, count: m * m)
        bank.withUnsafeBufferPointer { b in
            norms.withUnsafeBufferPointer { n in
                pair.withUnsafeMutableBufferPointer { out in
                    FeatureDistance.pairwise(distance, queries: b.baseAddress!, rows: m, references: b.baseAddress!, count: m,
                                             width: width, queryNorms: n.baseAddress!, referenceNorms: n.baseAddress!, into: out.baseAddress!)
                }
            }
        }
        for r in 0..<m { pair[r * m + r] = .infinity }  // leave each row out of its own nearest
        var nearest = [Float](repeating: 0, count: m)
        var scratch: Float = 0
        pair.withUnsafeBufferPointer { p in
            nearest.withUnsafeMutableBufferPointer { out in
                FeatureDistance.aggregate(p.baseAddress!, rows: m, count: m, .nearest(1), scratch: &scratch, into: out.baseAddress!)
            }
        }
        nearest.sort()
        return nearest[min(m - 1, Int((Double(q) * Double(m - 1)).rounded()))]
    }

    /// Sign bits per neighbourhood code of `.keyedNeighbourhood` randomness (2⁸ neighbourhoods).
    public static let neighbourhoodBits = 8

    /// `neighbourhoodBits` unit-normal hyperplanes `[B, F]` drawn from a stream keyed by the
    /// secret, through the mean of the key's in-distribution features (or of its watermark
    /// features when it holds none).
    static func neighbourhoodHyperplanes(_ key: WatermarkKey) -> (planes: [Float], centre: [Float]) {
        let f = key.featureWidth
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key.secret))
        mac.update(data: Array("honeytrace/defense/neighbourhood-hyperplanes/v1".utf8))
        let seed = mac.finalize().withUnsafeBytes { raw in raw.loadUnaligned(as: UInt64.self) }
        var g = SeededGenerator(seed: UInt64(littleEndian: seed))
        let planes = (0..<(neighbourhoodBits * f)).map { _ in g.nextNormal() }
        let source = key.dataFeatures ?? key.features
        let rows = max(source.count / max(f, 1), 1)
        var centre = [Float](repeating: 0, count: f)
        for (i, v) in source.enumerated() { centre[i % f] += v }
        for j in centre.indices { centre[j] /= Float(rows) }
        return (planes, centre)
    }

    /// The neighbourhood code of one feature row: bit b = [w_b · (x − centre) ≥ 0].
    public func neighbourhoodCode(_ x: UnsafePointer<Float>) -> UInt8 {
        var code: UInt8 = 0
        let width = self.width
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { centred in
            let d = centred.baseAddress!
            hyperplaneCentre.withUnsafeBufferPointer { c in
                for j in 0..<width { d[j] = x[j] - c[j] }
            }
            hyperplanes.withUnsafeBufferPointer { w in
                let products = FeatureDistance.eightDots(w.baseAddress!, d, width)
                for b in 0..<HoneytraceDefense.neighbourhoodBits where products[b] >= 0 { code |= 1 << b }
            }
        }
        return code
    }

    /// 1 / max(std, floor) per feature, floor = 0.1 × the median positive std (1 if none), so
    /// that features that never vary on the owner's data (dead units) do not explode distances.
    static func inverseStd(_ std: [Float]) -> [Float] {
        let positive = std.filter { $0 > 0 }.sorted()
        let floor = positive.isEmpty ? 1 : 0.1 * positive[positive.count / 2]
        return std.map { 1 / max($0, floor) }
    }

    /// The mean row of `[n, F]` rows and the mean of their squared norms.
    private static func mean(_ rows: [Float], norms: [Float], width: Int) -> ([Float], Float) {
        guard !norms.isEmpty else { return ([Float](repeating: 0, count: width), 0) }
        var sum = [Double](repeating: 0, count: width)
        for i in rows.indices { sum[i % width] += Double(rows[i]) }
        let n = Double(norms.count)
        return (sum.map { Float($0 / n) }, Float(norms.reduce(0.0) { $0 + Double($1) } / n))
    }

    private static func scaled(_ x: [Float], inverseStd: [Float]?, width: Int) -> [Float] {
        guard let inverseStd else { return x }
        var out = x
        for i in out.indices { out[i] *= inverseStd[i % width] }
        return out
    }

    // MARK: Distances and similarity

    /// The distance each row enters the similarity with: for the pixel-mark score, its pixels'
    /// distance from carrying the mark (rows the out-of-distribution gate holds back: +∞); for
    /// every other score, `distances(features:rows:into:)`. `pixels` are the rows' C×H×W images.
    public func distances(pixels: UnsafePointer<Float>, features: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        distances(pixels: pixels, features: features, rows: rows, into: out, gateOnlyBelow: nil)
    }

    /// `distances(pixels:features:rows:into:)`; `gateOnlyBelow` and `weights` as in
    /// `distances(features:rows:into:gateOnlyBelow:weights:)` (ignored for the pixel-mark score,
    /// whose gate runs before its distance is known).
    func distances(pixels: UnsafePointer<Float>, features: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>,
                   gateOnlyBelow: Float?, weights: [Float]? = nil) {
        guard let pixelMark else { return distances(features: features, rows: rows, into: out, gateOnlyBelow: gateOnlyBelow, weights: weights) }
        if outOfDistributionFloor != nil {
            distances(features: features, rows: rows, into: out)  // +∞ marks the gated rows
        }
        let size = key.inputShape.reduce(1, *)
        for r in 0..<rows where outOfDistributionFloor == nil || out[r] != .infinity {
            out[r] = pixelMark.distance(pixels + r * size)
        }
    }

    /// Array version of `distances(pixels:features:rows:into:)`.
    public func distances(pixels: [Float], features: [Float]) -> [Float] {
        let rows = features.count / width
        precondition(features.count == rows * width && pixels.count == rows * key.inputShape.reduce(1, *), "pixels and features disagree on the rows")
        return [Float](unsafeUninitializedCapacity: rows) { out, n in
            pixels.withUnsafeBufferPointer { p in
                features.withUnsafeBufferPointer { distances(pixels: p.baseAddress!, features: $0.baseAddress!, rows: rows, into: out.baseAddress!) }
            }
            n = rows
        }
    }

    /// The distance each row's features `[rows, F]` enter the similarity with: the aggregate
    /// watermark distance, minus (relative scores) the distance to the nearest in-distribution
    /// feature; for the mark-probe score, 1 − the probe's reading. Rows the out-of-distribution
    /// gate holds back get +∞ (similarity 0). Written to `out[rows]`.
    public func distances(features: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        distances(features: features, rows: rows, into: out, gateOnlyBelow: nil)
    }

    /// `distances(features:rows:into:)`, where `gateOnlyBelow` (what `defend` passes: the offset d)
    /// lets the out-of-distribution gate skip the rows whose distance is at least that: their
    /// similarity is 0 whether the gate holds them back or not, and the gate's search over the
    /// bank is work saved. Scores that subtract the bank distance need it for every row and
    /// ignore the limit. With the limit, the gate also skips the rows whose weight
    /// (`weights(features:rows:)`, rows `[rows]`) is 0: their similarity is 0 too.
    func distances(features: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, gateOnlyBelow: Float?,
                   weights: [Float]? = nil) {
        if configuration.score == .markProbe, let probe = key.markProbe {
            for r in 0..<rows { out[r] = 1 - probe.score(features + r * width) }
            if outOfDistributionFloor == nil { return }
        }
        let n = key.count, m = bank.count / width
        let chunk = min(rows, HoneytraceDefense.chunkRows)
        guard chunk > 0 else { return }
        let scaledQ = inverseStd == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: chunk * width)
        let qNorms = UnsafeMutablePointer<Float>.allocate(capacity: chunk)
        let pair = UnsafeMutablePointer<Float>.allocate(capacity: chunk * max(n, gateIndex == nil ? m : 0, 1))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        // The nearest bank distance itself, for the scores that subtract it (every other score's
        // gate goes through `gateIndex`).
        let bankMin = m > 0 && gateIndex == nil ? UnsafeMutablePointer<Float>.allocate(capacity: chunk) : nil
        defer { scaledQ?.deallocate(); qNorms.deallocate(); pair.deallocate(); scratch.deallocate(); bankMin?.deallocate() }
        let meanOfSquared = configuration.distance == .meanSquared && configuration.aggregate == .mean
        for start in stride(from: 0, to: rows, by: chunk) {
            let b = min(chunk, rows - start)
            var q = features + start * width
            if let scaledQ, let inv = inverseStd {
                inv.withUnsafeBufferPointer { s in
                    for r in 0..<b {
                        let src = q + r * width, dst = scaledQ + r * width
                        for f in 0..<width { dst[f] = src[f] * s[f] }
                    }
                }
                q = UnsafePointer(scaledQ)
            }
            if configuration.distance == .meanSquared { FeatureDistance.squaredNorms(q, rows: b, width: width, into: qNorms) }
            if configuration.score != .markProbe && meanOfSquared && n > 0 {
                let scale = 1 / Float(width)
                watermarkMean.withUnsafeBufferPointer { w in
                    for r in 0..<b {
                        let v = (qNorms[r] - 2 * FeatureDistance.dot(q + r * width, w.baseAddress!, width) + watermarkMeanNorm) * scale
                        out[start + r] = v > 0 ? v : 0
                    }
                }
            } else if configuration.score != .markProbe {
                watermarks.withUnsafeBufferPointer { w in
                    watermarkNorms.withUnsafeBufferPointer { wn in
                        FeatureDistance.pairwise(configuration.distance, queries: q, rows: b, references: w.baseAddress!, count: n,
                                                 width: width, queryNorms: qNorms, referenceNorms: wn.baseAddress!, into: pair)
                    }
                }
                FeatureDistance.aggregate(pair, rows: b, count: n, configuration.aggregate, scratch: scratch, into: out + start)
            }
            if let gateIndex {
                // Only the gate's yes or no is needed: the index answers it.
                withUnsafeTemporaryAllocation(of: Bool.self, capacity: b) { held in
                    held.initialize(repeating: false)
                    gateIndex.holdsBack(q, rows: b, asked: { r in
                        gateOnlyBelow.map { out[start + r] < $0 && (weights.map { $0[start + r] > 0 } ?? true) } ?? true
                    }, into: held.baseAddress!)
                    for r in 0..<b where held[r] { out[start + r] = .infinity }
                }
            } else if let bankMin {
                // Relative scores: every row's distance to its nearest in-distribution feature,
                // subtracted, and the gate on it.
                bank.withUnsafeBufferPointer { bk in
                    bankNorms.withUnsafeBufferPointer { bn in
                        FeatureDistance.pairwise(configuration.distance, queries: q, rows: b, references: bk.baseAddress!, count: m,
                                                 width: width, queryNorms: qNorms, referenceNorms: bn.baseAddress!, into: pair)
                    }
                }
                FeatureDistance.aggregate(pair, rows: b, count: m, .nearest(1), scratch: scratch, into: bankMin)
                for r in 0..<b {
                    out[start + r] -= bankMin[r]
                    if let floor = outOfDistributionFloor, bankMin[r] <= floor { out[start + r] = .infinity }
                }
            }
        }
    }

    /// The factor each row's similarity is multiplied by before the confidence rules: the mark
    /// probe's reading clipped to [0, 1] for the `watermark-probe` score, else nil (1 for all rows).
    public func weights(features: UnsafePointer<Float>, rows: Int) -> [Float]? {
        guard configuration.score == .watermarkTimesProbe, let probe = key.markProbe else { return nil }
        return (0..<rows).map { r in min(max(probe.score(features + r * width), 0), 1) }
    }

    /// Array version of `weights(features:rows:)`.
    public func weights(features: [Float]) -> [Float]? {
        features.withUnsafeBufferPointer { weights(features: $0.baseAddress!, rows: features.count / width) }
    }

    /// Array version of `distances(features:rows:into:)` for `[rows, F]` features.
    public func distances(features: [Float]) -> [Float] {
        precondition(features.count % width == 0, "\(features.count) values are not rows of width \(width)")
        let rows = features.count / width
        return [Float](unsafeUninitializedCapacity: rows) { out, n in
            features.withUnsafeBufferPointer { distances(features: $0.baseAddress!, rows: rows, into: out.baseAddress!) }
            n = rows
        }
    }

    /// Largest softmax probability of a logit row: 1 / Σ exp(z − max z).
    @inline(__always)
    public static func maxProbability(_ z: UnsafePointer<Float>, classes k: Int) -> Float {
        var m = z[0]
        for j in 1..<k where z[j] > m { m = z[j] }
        var s: Float = 0
        for j in 0..<k { s += expf(z[j] - m) }
        return 1 / s
    }

    /// s = clip(d − distance, 0, 1) · weight followed by the confidence rules of `configuration`
    /// (confident: max probability ≥ threshold; unconfident: < threshold).
    @inline(__always)
    public static func similarity(distance: Float, weight: Float = 1, maxProbability p: Float, configuration c: DefenseConfiguration) -> Float {
        let raw = c.offset - distance
        var s: Float = (raw > 0 ? (raw < 1 ? raw : 1) : 0) * weight
        guard s > 0 && s < 1 else { return s }
        if let t = c.confidentThreshold, p >= t {
            s = powf(s, c.confidentExponent)
        } else if let t = c.unconfidentThreshold, p < t {
            s = powf(s, c.unconfidentExponent)
        }
        return s
    }

    /// The flip probability s^β, rounded down to a multiple of 0.1 when configured.
    @inline(__always)
    public static func flipProbability(similarity s: Float, configuration c: DefenseConfiguration) -> Float {
        guard s > 0 else { return 0 }
        let p = powf(s, c.flippingPower)
        return c.quantizeFlipProbability ? floorf(p * 10 + 1e-4) / 10 : p
    }

    // MARK: One row

    /// Writes the defended probabilities of one row into `out[k]`; returns whether it was
    /// mixed and flipped. `scratch` holds at least k floats. Pure: the same arguments always
    /// give the same result (noise comes from `draw.noiseSeed`, or from `noise`, the K normals
    /// that seed gives, when the caller has them already).
    @inline(__always)
    static func defendRow(logits z: UnsafePointer<Float>, classes k: Int, similarity s: Float, draw: RowDraw,
                          references: UnsafePointer<Float>, configuration c: DefenseConfiguration,
                          noise: UnsafePointer<Float>? = nil,
                          scratch: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) -> (mixed: Bool, flipped: Bool) {
        guard s > 0 else {
            RowMath.softmax(z, count: k, into: out)
            return (false, false)
        }
        let ref = references + draw.referenceIndex * k
        let flipped = draw.flipUniform < Double(flipProbability(similarity: s, configuration: c))
        if flipped {
            if c.flipNoiseStd > 0, let noise {
                for j in 0..<k { scratch[j] = ref[j] + c.flipNoiseStd * noise[j] }
            } else if c.flipNoiseStd > 0 {
                var g = SeededGenerator(seed: draw.noiseSeed)
                for j in 0..<k { scratch[j] = ref[j] + c.flipNoiseStd * g.nextNormal() }
            } else {
                scratch.update(from: ref, count: k)
            }
        } else {
            let w = powf(s, c.mixingPower)
            for j in 0..<k { scratch[j] = (1 - w) * z[j] + w * ref[j] }
        }
        RowMath.softmax(UnsafePointer(scratch), count: k, into: out)
        return (true, flipped)
    }

    // MARK: Draws

    /// The keyed draw of one image of [0, 1] pixels (what `defend` uses in keyed mode).
    public func keyedDraw(pixels: [Float]) -> RowDraw { randomness.keyedDraw(pixels: pixels) }

    /// Draws for the rows of `pixels` (`rows` images) where `needed[r]`; keyed or fresh per the
    /// configuration (`call` numbers fresh streams, in which these rows start at `firstRow`).
    /// In keyed-neighbourhood mode, `codes` (when given, `[rows]`) receives each drawn row's
    /// neighbourhood code.
    func draws(pixels: UnsafePointer<Float>, features: UnsafePointer<Float>, rows: Int, needed: (Int) -> Bool,
               call: UInt64, firstRow: Int = 0, codes: UnsafeMutablePointer<Int>? = nil) -> [RowDraw] {
        var out = [RowDraw](repeating: RowDraw(flipUniform: 1, referenceIndex: 0, noiseSeed: 0), count: rows)
        let size = key.imageSize
        switch configuration.randomness {
        case .keyed:
            let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
            defer { bytes.deallocate() }
            for r in 0..<rows where needed(r) {
                RowRandomness.quantize(pixels + r * size, count: size, into: bytes)
                out[r] = randomness.keyedDraw(quantized: UnsafeRawBufferPointer(start: bytes, count: size))
            }
        case .fresh(let seed):
            for r in 0..<rows where needed(r) {
                out[r] = RowRandomness.freshDraw(seed: seed, call: call, row: firstRow + r, referenceCount: key.referenceCount)
            }
        case .keyedNeighbourhood:
            for r in 0..<rows where needed(r) {
                let code = Int(neighbourhoodCode(features + r * width))
                out[r] = neighbourhoodDraws[code]
                codes?[r] = code
            }
        }
        return out
    }

    /// The next fresh-randomness call number (0 in keyed mode).
    func nextCall() -> UInt64 {
        guard case .fresh = configuration.randomness else { return 0 }
        lock.lock()
        defer { lock.unlock() }
        let c = freshCalls
        freshCalls &+= 1
        return c
    }

    // MARK: Batches

    /// Defends one batch: raw [0, 1] input pixels `[B, C, H, W]`, logits `[B, K]` and
    /// penultimate features `[B, F]` from the same forward pass.
    ///
    /// - Throws: `HoneytraceError` when the shapes do not fit the key.
    public func defend(pixels: Tensor, logits: Tensor, features: Tensor) throws -> DefenseOutput {
        guard pixels.rank == 4, Array(pixels.shape.dropFirst()) == key.inputShape else {
            throw HoneytraceError(.invalidArgument, "input has shape \(pixels.shape), the key expects [B, \(key.inputShape.map(String.init).joined(separator: ", "))]")
        }
        let b = pixels.shape[0]
        guard logits.shape == [b, classes] else {
            throw HoneytraceError(.invalidArgument, "logits have shape \(logits.shape), [\(b), \(classes)] expected")
        }
        guard features.shape == [b, width] else {
            throw HoneytraceError(.invalidArgument, "features have shape \(features.shape), [\(b), \(width)] expected")
        }
        let p = pixels.layout == .plain ? pixels : pixels.plain()
        let l = logits.layout == .plain ? logits : logits.plain()
        let f = features.layout == .plain ? features : features.plain()
        // Keep any plain() copies alive while their raw pointers are in use.
        return withExtendedLifetime((p, l, f)) {
            defend(pixels: UnsafePointer(p.data), logits: UnsafePointer(l.data), features: UnsafePointer(f.data), rows: b)
        }
    }

    /// Array version of `defend`: `rows` images, `[rows, K]` logits, `[rows, F]` features.
    public func defend(pixels: [Float], logits: [Float], features: [Float]) throws -> DefenseOutput {
        let rows = logits.count / classes
        guard logits.count == rows * classes, pixels.count == rows * key.imageSize, features.count == rows * width else {
            throw HoneytraceError(.invalidArgument, "arrays do not describe the same rows: \(pixels.count) pixel values (\(key.imageSize) per image), \(logits.count) logits (\(classes) per row), \(features.count) features (\(width) per row)")
        }
        guard rows > 0 else { return DefenseOutput(rows: 0, classes: classes, probabilities: [], similarity: [], mixed: [], flipped: []) }
        return pixels.withUnsafeBufferPointer { px in
            logits.withUnsafeBufferPointer { lg in
                features.withUnsafeBufferPointer { ft in
                    defend(pixels: px.baseAddress!, logits: lg.baseAddress!, features: ft.baseAddress!, rows: rows)
                }
            }
        }
    }

    /// Rows per worker below which `defend` stays on one thread (waking a worker costs more).
    static let parallelRows = 32

    /// The core over contiguous buffers (shapes already checked). Rows are independent, so a
    /// large batch is split across the engine's threads.
    func defend(pixels: UnsafePointer<Float>, logits: UnsafePointer<Float>, features: UnsafePointer<Float>, rows: Int) -> DefenseOutput {
        let k = classes
        guard rows > 0 else { return DefenseOutput(rows: 0, classes: k, probabilities: [], similarity: [], mixed: [], flipped: []) }
        var similarity = [Float](repeating: 0, count: rows)
        var probabilities = [Float](repeating: 0, count: rows * k)
        var mixed = [Bool](repeating: false, count: rows), flipped = mixed
        let call = nextCall()
        similarity.withUnsafeMutableBufferPointer { s in
            probabilities.withUnsafeMutableBufferPointer { p in
                mixed.withUnsafeMutableBufferPointer { m in
                    flipped.withUnsafeMutableBufferPointer { f in
                        let out = RowsOut(similarity: s.baseAddress!, probabilities: p.baseAddress!, mixed: m.baseAddress!, flipped: f.baseAddress!)
                        Parallel.chunks(rows, minimum: HoneytraceDefense.parallelRows) { _, range in
                            defendRows(range, pixels: pixels, logits: logits, features: features, call: call, into: out)
                        }
                    }
                }
            }
        }
        return DefenseOutput(rows: rows, classes: k, probabilities: probabilities, similarity: similarity, mixed: mixed, flipped: flipped)
    }

    /// Where `defendRows` writes: the batch's output buffers, indexed by the batch's row.
    struct RowsOut {
        let similarity: UnsafeMutablePointer<Float>
        let probabilities: UnsafeMutablePointer<Float>
        let mixed: UnsafeMutablePointer<Bool>
        let flipped: UnsafeMutablePointer<Bool>
    }

    /// Defends the batch rows `range` (what `defend` runs per thread).
    func defendRows(_ range: Range<Int>, pixels: UnsafePointer<Float>, logits: UnsafePointer<Float>, features: UnsafePointer<Float>,
                    call: UInt64, into out: RowsOut) {
        let k = classes, first = range.lowerBound, rows = range.count
        let px = pixels + first * key.imageSize, z = logits + first * k, h = features + first * width
        let similarity = out.similarity + first
        let weight = weights(features: h, rows: rows)
        distances(pixels: px, features: h, rows: rows, into: similarity, gateOnlyBelow: configuration.offset, weights: weight)
        let c = configuration
        for r in 0..<rows {
            similarity[r] = HoneytraceDefense.similarity(distance: similarity[r], weight: weight?[r] ?? 1,
                                                         maxProbability: HoneytraceDefense.maxProbability(z + r * k, classes: k),
                                                         configuration: c)
        }
        let codes = UnsafeMutablePointer<Int>.allocate(capacity: rows)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: k)
        defer { codes.deallocate(); scratch.deallocate() }
        codes.initialize(repeating: -1, count: rows)
        let rowDraws = draws(pixels: px, features: h, rows: rows, needed: { similarity[$0] > 0 }, call: call, firstRow: first, codes: codes)
        key.referenceLogits.withUnsafeBufferPointer { refs in
            neighbourhoodNoise.withUnsafeBufferPointer { noise in
                for r in 0..<rows {
                    let m = HoneytraceDefense.defendRow(logits: z + r * k, classes: k, similarity: similarity[r], draw: rowDraws[r],
                                                        references: refs.baseAddress!, configuration: c,
                                                        noise: codes[r] >= 0 ? noise.baseAddress! + codes[r] * k : nil, scratch: scratch,
                                                        into: out.probabilities + (first + r) * k)
                    out.mixed[first + r] = m.mixed
                    out.flipped[first + r] = m.flipped
                }
            }
        }
    }
}
