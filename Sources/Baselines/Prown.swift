import Datasets
import Foundation
import Stats
import TensorEngine
import Training

/// PROWN (Pautov et al., IJCAI 2024; docs/algorithms.md §8): a training-free trigger set. Mixes of two owner images
/// of different classes that the model labels as a third class, kept only when every one of m
/// noisy copies of the model (the proxies) agrees, so that a copy stolen from the API is likely to
/// agree too. Verification-only: the API's answers are left alone.
public enum Prown {
    /// The noise scale of the paper: σ = 8e-3 on every parameter of its 21.3 M-parameter ResNet-34.
    public static let paperSigma = 8e-3
    /// Parameters of the paper's CIFAR ResNet-34.
    public static let paperParameterCount = 21_282_122
    /// ‖θ‖ of the paper's ResNet-34 at PyTorch's initialisation (Kaiming normal, fan-out, on the convolutions:
    /// E‖W‖² = 2·C_in each; batch-norm γ = 1, β = 0; the default linear head), the reference the noise is scaled
    /// against. Its trained norm is not published; this assumption is stated wherever σ is reported.
    public static let paperReferenceNorm = 153.7
    /// ‖Δθ‖ / ‖θ‖ of the paper's proxies: σ·√P / ‖θ‖.
    public static var paperRelativeNoise: Double {
        paperSigma * Double(paperParameterCount).squareRoot() / paperReferenceNorm
    }

    /// The σ that gives a perturbation of ‖Δθ‖ = `relativeNoise`·‖θ‖ in expectation over `parameterCount`
    /// parameters of norm `parameterNorm`: σ = ρ·‖θ‖ / √P.
    public static func sigma(relativeNoise: Double, parameterNorm: Double, parameterCount: Int) -> Double {
        precondition(parameterCount > 0, "a model needs parameters")
        return relativeNoise * parameterNorm / Double(parameterCount).squareRoot()
    }

    /// ‖θ‖₂ over every trainable parameter of `model` and their count (buffers such as running statistics excluded).
    public static func parameterNorm(_ model: TrainedModel) -> (norm: Double, count: Int) {
        var sum = 0.0, count = 0
        for p in model.classifier.parameters {
            let d = p.data
            for i in 0..<p.count { sum += Double(d[i]) * Double(d[i]) }
            count += p.count
        }
        return (sum.squareRoot(), count)
    }

    /// The per-trigger transfer guarantee of m agreements out of m: the two-sided Clopper–Pearson lower bound
    /// at confidence 1 − α, which is (α/2)^(1/m).
    public static func guarantee(agreements m: Int, alpha: Double) -> Double {
        clopperPearsonInterval(successes: m, trials: m, confidence: 1 - alpha).lower
    }
}

/// The settings of one PROWN trigger set.
public struct PrownSettings: Codable, Sendable, Equatable {
    /// Seed of the pairs, the mixing weights and the proxies' noise.
    public var seed: UInt64
    /// Proxies m: noisy copies of the model that must all agree.
    public var proxies: Int
    /// Triggers n.
    public var triggers: Int
    /// Mixing weights λ drawn per pair.
    public var mixesPerPair: Int
    /// Confidence level of the guarantee is 1 − α.
    public var alpha: Double
    /// ‖Δθ‖ / ‖θ‖ of the proxies; ignored when `sigma` is given.
    public var relativeNoise: Double
    /// Noise σ per parameter; nil: from `relativeNoise`.
    public var sigma: Double?
    /// Complement proxies (docs/algorithms.md §8.2, optional): copies with larger noise, none of which may answer y*; nil or 0: none.
    public var complementProxies: Int?
    /// ‖Δθ‖ / ‖θ‖ of the complement proxies; ignored when `complementSigma` is given.
    public var complementRelativeNoise: Double?
    /// Noise σ of the complement proxies.
    public var complementSigma: Double?
    /// Pairs drawn per round of candidates.
    public var pairsPerRound: Int
    /// Most pairs drawn before giving up.
    public var maxPairs: Int

    public init(seed: UInt64 = 1, proxies: Int = 64, triggers: Int = 100, mixesPerPair: Int = 64, alpha: Double = 0.05,
                relativeNoise: Double = Prown.paperRelativeNoise, sigma: Double? = nil, complementProxies: Int? = nil,
                complementRelativeNoise: Double? = nil, complementSigma: Double? = nil, pairsPerRound: Int = 256,
                maxPairs: Int = 20_000) {
        self.seed = seed; self.proxies = proxies; self.triggers = triggers; self.mixesPerPair = mixesPerPair
        self.alpha = alpha; self.relativeNoise = relativeNoise; self.sigma = sigma
        self.complementProxies = complementProxies; self.complementRelativeNoise = complementRelativeNoise; self.complementSigma = complementSigma
        self.pairsPerRound = pairsPerRound; self.maxPairs = maxPairs
    }

    /// Whether complement proxies are asked.
    public var usesComplement: Bool { (complementProxies ?? 0) > 0 }

    public func validate() throws {
        func bad(_ problem: String) -> BaselineError { BaselineError(.invalidConfiguration, problem) }
        guard proxies >= 1 && proxies <= 4096 else { throw bad("proxies m must lie in 1...4096, found \(proxies)") }
        guard triggers >= 1 && triggers <= 100_000 else { throw bad("triggers n must lie in 1...100000, found \(triggers)") }
        guard mixesPerPair >= 1 && mixesPerPair <= 4096 else { throw bad("mixes per pair must lie in 1...4096, found \(mixesPerPair)") }
        guard alpha > 0 && alpha < 1 else { throw bad("alpha must lie in (0, 1), found \(alpha)") }
        if let sigma { guard sigma.isFinite && sigma >= 0 else { throw bad("sigma must be finite and non-negative, found \(sigma)") } }
        else { guard relativeNoise.isFinite && relativeNoise >= 0 else { throw bad("relative noise must be finite and non-negative, found \(relativeNoise)") } }
        if let c = complementProxies, c != 0 {
            guard c >= 1 && c <= 4096 else { throw bad("complement proxies must lie in 0...4096, found \(c)") }
            let noise = complementSigma ?? complementRelativeNoise
            guard let noise, noise.isFinite, noise > 0 else { throw bad("complement proxies need a positive complement noise (relative or σ)") }
        }
        guard pairsPerRound >= 1 && pairsPerRound <= 65_536 else { throw bad("pairs per round must lie in 1...65536, found \(pairsPerRound)") }
        guard maxPairs >= 1 else { throw bad("max pairs must be positive, found \(maxPairs)") }
    }
}

/// One mix x* = λ·x1 + (1 − λ)·x2 of two owner images, with the model's label y*.
public struct PrownCandidate: Codable, Sendable, Equatable {
    /// Index of the pair in draw order.
    public var pair: Int
    /// Index of the mix within its pair (order of the λ draws).
    public var mix: Int
    /// Held-out indices of x1 and x2.
    public var first: Int
    public var second: Int
    public var firstLabel: Int
    public var secondLabel: Int
    public var lambda: Float
    /// y* = argmax f(x*).
    public var label: Int

    public init(pair: Int, mix: Int, first: Int, second: Int, firstLabel: Int, secondLabel: Int, lambda: Float, label: Int) {
        self.pair = pair; self.mix = mix; self.first = first; self.second = second
        self.firstLabel = firstLabel; self.secondLabel = secondLabel; self.lambda = lambda; self.label = label
    }

    /// docs/algorithms.md §8.1: a mix is a candidate only when the model labels it as neither source class.
    public var isCandidate: Bool { label != firstLabel && label != secondLabel }
}

/// Classifiers that label image batches, one at a time by index: PROWN's proxies (or scripted stand-ins in tests).
public protocol PrownProxySet: AnyObject {
    /// Number of proxies m.
    var count: Int { get }
    /// Top-1 labels of proxy `index` for `count` images stored back to back in `images`.
    func labels(proxy index: Int, images: [Float], count: Int) throws -> [Int]
}

/// m copies of a model with every trainable parameter perturbed by N(0, σ²) noise from a seeded stream per proxy.
/// Perturbs the one model in place and restores it bit for bit after each pass, so m proxies cost one model's memory;
/// running statistics are left as they are. Not for concurrent use: the model is borrowed while a proxy runs.
public final class PerturbedProxies: PrownProxySet, @unchecked Sendable {
    public let model: TrainedModel
    public let sigma: Double
    public let seed: UInt64
    public let count: Int
    public let batchSize: Int
    private let saved: [[Float]]

    public init(model: TrainedModel, sigma: Double, count: Int, seed: UInt64, batchSize: Int = 512) {
        self.model = model
        self.sigma = sigma
        self.count = count
        self.seed = seed
        self.batchSize = max(1, batchSize)
        saved = model.classifier.parameters.map { Array(UnsafeBufferPointer(start: $0.data, count: $0.count)) }
    }

    /// Runs `body` with proxy `index`'s weights in place, then puts the model's own weights back.
    public func withProxy<T>(_ index: Int, _ body: (TrainedModel) throws -> T) rethrows -> T {
        precondition(index >= 0 && index < count, "proxy \(index) out of 0..<\(count)")
        var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x7072_6F78, UInt64(index)))  // "prox"
        let s = Float(sigma)
        let params = model.classifier.parameters
        for p in params {
            let d = p.data
            for i in 0..<p.count { d[i] += s * g.nextNormal() }
        }
        defer {
            for (p, values) in zip(params, saved) {
                values.withUnsafeBufferPointer { p.data.update(from: $0.baseAddress!, count: p.count) }
            }
        }
        return try body(model)
    }

    public func labels(proxy index: Int, images: [Float], count: Int) throws -> [Int] {
        try withProxy(index) { Prown.labels($0, images: images, count: count, batchSize: batchSize) }
    }

    /// Each proxy's accuracy on `data` (the owner's held-out images).
    /// `progress` is called with (proxies measured, proxies in all) after each proxy.
    public func accuracies(on data: ImageDataset, progress: ((Int, Int) -> Void)? = nil) throws -> [Double] {
        (0..<count).map { k in
            defer { progress?(k + 1, count) }
            return withProxy(k) { m in
                let predictions = m.predictions(data, batchSize: batchSize)
                return Double(zip(predictions, data.labels).filter { $0 == $1 }.count) / Double(max(data.count, 1))
            }
        }
    }
}

extension Prown {
    /// Top-1 labels of `model` for `count` raw images stored back to back.
    public static func labels(_ model: TrainedModel, images: [Float], count: Int, batchSize: Int = 512) -> [Int] {
        guard count > 0 else { return [] }
        let logits = model.outputs(pixels: images, count: count, batchSize: batchSize).logits
        let k = model.classes
        return logits.withUnsafeBufferPointer { l in (0..<count).map { RowMath.argmax(l.baseAddress! + $0 * k, count: k) } }
    }

    /// docs/algorithms.md §8.3: which candidates every proxy labels y*. Proxies run one after the other, each only on the
    /// candidates all earlier ones agreed on (the result is the same as asking every proxy about every candidate).
    /// With `complement`, a candidate also needs every complement proxy to answer something other than y*.
    public static func agreement(_ candidates: [PrownCandidate], images: [Float], imageSize: Int,
                                 proxies: PrownProxySet, complement: PrownProxySet? = nil) throws -> [Bool] {
        precondition(images.count == candidates.count * imageSize, "\(images.count) values are not \(candidates.count) images of \(imageSize)")
        var alive = Array(candidates.indices)
        func sieve(_ set: PrownProxySet, _ k: Int, keepAgreeing: Bool) throws {
            var batch = [Float]()
            batch.reserveCapacity(alive.count * imageSize)
            for i in alive { batch += images[(i * imageSize)..<((i + 1) * imageSize)] }
            let labels = try set.labels(proxy: k, images: batch, count: alive.count)
            guard labels.count == alive.count else {
                throw BaselineError(.watermarkFailed, "proxy \(k) returned \(labels.count) labels for \(alive.count) images")
            }
            alive = zip(alive, labels).filter { (candidates[$0.0].label == $0.1) == keepAgreeing }.map(\.0)
        }
        for k in 0..<proxies.count where !alive.isEmpty { try sieve(proxies, k, keepAgreeing: true) }
        if let complement {
            for k in 0..<complement.count where !alive.isEmpty { try sieve(complement, k, keepAgreeing: false) }
        }
        var keep = [Bool](repeating: false, count: candidates.count)
        for i in alive { keep[i] = true }
        return keep
    }

    /// From each pair, its first mix (in λ draw order) among the kept candidates, pairs in draw order.
    public static func firstPerPair(_ candidates: [PrownCandidate], keep: [Bool]) -> [Int] {
        var seen = Set<Int>(), picked: [Int] = []
        let order = candidates.indices.filter { keep[$0] }.sorted {
            (candidates[$0].pair, candidates[$0].mix) < (candidates[$1].pair, candidates[$1].mix)
        }
        for i in order where seen.insert(candidates[i].pair).inserted { picked.append(i) }
        return picked
    }

    /// Draws up to `count` new pairs of held-out indices with different labels, never one already in `used`
    /// (unordered: (a, b) and (b, a) are the same pair). Fewer come back when the data runs out.
    public static func drawPairs(labels: [Int], count: Int, used: inout Set<[Int]>, generator g: inout SeededGenerator) -> [(Int, Int)] {
        let n = labels.count
        guard n >= 2 else { return [] }
        var pairs: [(Int, Int)] = []
        var misses = 0
        while pairs.count < count && misses < 64 * count + 1024 {
            let a = g.nextInt(below: n), b = g.nextInt(below: n)
            guard a != b, labels[a] != labels[b], used.insert([min(a, b), max(a, b)]).inserted else { misses += 1; continue }
            pairs.append((a, b))
        }
        return pairs
    }
}

/// What a PROWN creation run did besides the triggers: the search and the proxies' quality.
public struct PrownCreationStatistics: Codable, Sendable, Equatable {
    public var pairsDrawn: Int
    public var mixesLabelled: Int
    /// Mixes labelled outside both source classes.
    public var candidates: Int
    /// Candidates every proxy agreed on (and no complement proxy, when there are some).
    public var agreedCandidates: Int
    /// Pairs with at least one agreed candidate.
    public var pairsWithTrigger: Int
    /// ‖θ‖ and P of the model, and the expected ‖Δθ‖ = σ·√P.
    public var parameterNorm: Double
    public var parameterCount: Int
    public var perturbationNorm: Double
    /// Accuracy of the model and of each proxy on the owner's held-out data (nil when not measured).
    public var modelAccuracy: Double?
    public var proxyAccuracies: [Double]?
    /// Accuracy of each complement proxy on the same data (nil when there are none or it was not measured).
    public var complementAccuracies: [Double]?
    public var seconds: Double
}

/// Builds a PROWN trigger set for a model from the owner's held-out data.
public struct PrownCreator {
    public var settings: PrownSettings
    /// Measure every proxy's accuracy on the held-out data (m forward passes over it).
    public var measureProxyAccuracy = true
    public var log: (String) -> Void = { _ in }
    /// Called with (stage, done, total) as the proxies are measured ("proxies", "complement
    /// proxies") and as triggers are found ("triggers"), for progress bars.
    public var progress: ((String, Int, Int) -> Void)?

    public init(settings: PrownSettings = PrownSettings()) { self.settings = settings }

    /// Triggers for `model` (at `modelName`) from `heldOut`, which must be owner-side data (an attacker's pool is refused).
    public func create(model: TrainedModel, modelName: String, heldOut: ImageDataset) throws -> PrownTriggerSet {
        try settings.validate()
        do { try heldOut.requireOwnerSide(for: "a PROWN trigger set") } catch let e as DatasetError {
            throw BaselineError(.unusableData, e.problem)
        }
        guard heldOut.imageShape == model.inputShape else {
            throw BaselineError(.unusableData, "\(heldOut.name) has images of shape \(heldOut.imageShape), the model takes \(model.inputShape)")
        }
        guard Set(heldOut.labels).count >= 2 else { throw BaselineError(.unusableData, "\(heldOut.name) needs images of at least two classes") }
        guard model.classes >= 3 else { throw BaselineError(.unusableData, "PROWN needs at least 3 classes (y* outside both source classes), the model has \(model.classes)") }
        let start = Date()
        let (norm, count) = Prown.parameterNorm(model)
        let sigma = settings.sigma ?? Prown.sigma(relativeNoise: settings.relativeNoise, parameterNorm: norm, parameterCount: count)
        var resolved = settings
        resolved.sigma = sigma
        let proxies = PerturbedProxies(model: model, sigma: sigma, count: settings.proxies, seed: settings.seed)
        var complement: PerturbedProxies?
        if settings.usesComplement, let c = settings.complementProxies {
            let s2 = settings.complementSigma
                ?? Prown.sigma(relativeNoise: settings.complementRelativeNoise ?? 0, parameterNorm: norm, parameterCount: count)
            resolved.complementSigma = s2
            complement = PerturbedProxies(model: model, sigma: s2, count: c, seed: SeedMixing.mix(settings.seed, 0x636F_6D70))  // "comp"
            log(String(format: "%d complement proxies at σ %.3e must all answer other than y*", c, s2))
        }
        log(String(format: "‖θ‖ %.3f over %d parameters; σ %.3e (‖Δθ‖ ≈ %.3f, %.1f %% of ‖θ‖)", norm, count, sigma,
                   sigma * Double(count).squareRoot(), 100 * sigma * Double(count).squareRoot() / max(norm, .leastNonzeroMagnitude)))
        var modelAccuracy: Double?, proxyAccuracies: [Double]?
        if measureProxyAccuracy {
            let predictions = model.predictions(heldOut)
            modelAccuracy = Double(zip(predictions, heldOut.labels).filter { $0 == $1 }.count) / Double(heldOut.count)
            proxyAccuracies = try proxies.accuracies(on: heldOut) { progress?("proxies", $0, $1) }
            let p = proxyAccuracies!
            log(String(format: "accuracy on %@: model %.2f %%, proxies %.2f %% mean (%.2f–%.2f)", heldOut.name, 100 * modelAccuracy!,
                       100 * p.reduce(0, +) / Double(p.count), 100 * (p.min() ?? 0), 100 * (p.max() ?? 0)))
        }

        let size = heldOut.imageSize, mixes = settings.mixesPerPair
        var g = SeededGenerator(seed: SeedMixing.mix(settings.seed, 0x7061_6972))  // "pair"
        var used = Set<[Int]>()
        var triggers: [PrownCandidate] = [], pixels: [Float] = []
        var stats = PrownCreationStatistics(pairsDrawn: 0, mixesLabelled: 0, candidates: 0, agreedCandidates: 0, pairsWithTrigger: 0,
                                            parameterNorm: norm, parameterCount: count, perturbationNorm: sigma * Double(count).squareRoot(),
                                            modelAccuracy: modelAccuracy, proxyAccuracies: proxyAccuracies,
                                            complementAccuracies: measureProxyAccuracy
                                                ? try complement?.accuracies(on: heldOut) { progress?("complement proxies", $0, $1) } : nil,
                                            seconds: 0)
        if let c = stats.complementAccuracies {
            log(String(format: "complement proxies: %.2f %% mean accuracy (%.2f–%.2f)", 100 * c.reduce(0, +) / Double(max(c.count, 1)),
                       100 * (c.min() ?? 0), 100 * (c.max() ?? 0)))
        }
        while triggers.count < settings.triggers {
            let want = min(settings.pairsPerRound, settings.maxPairs - stats.pairsDrawn)
            let pairs = want > 0 ? Prown.drawPairs(labels: heldOut.labels, count: want, used: &used, generator: &g) : []
            guard !pairs.isEmpty else {
                throw BaselineError(.watermarkFailed, "only \(triggers.count) of \(settings.triggers) triggers after \(stats.pairsDrawn) pairs (\(stats.candidates) candidates, \(stats.agreedCandidates) agreed by all \(settings.proxies) proxies at σ \(String(format: "%.3e", sigma))); lower σ, draw more pairs or ask for fewer triggers")
            }
            // Every mix of the round, labelled by the model.
            var mixed = [Float](repeating: 0, count: pairs.count * mixes * size)
            var all: [PrownCandidate] = []
            all.reserveCapacity(pairs.count * mixes)
            heldOut.pixels.withUnsafeBufferPointer { src in
                for (p, (a, b)) in pairs.enumerated() {
                    for j in 0..<mixes {
                        let lambda = g.nextFloat()
                        let row = (p * mixes + j) * size
                        // Clamped: rounding could carry a mix of two pixels at 1 just past it, which an API refuses.
                        for i in 0..<size { mixed[row + i] = min(max(lambda * src[a * size + i] + (1 - lambda) * src[b * size + i], 0), 1) }
                        all.append(PrownCandidate(pair: stats.pairsDrawn + p, mix: j, first: a, second: b, firstLabel: heldOut.labels[a],
                                                  secondLabel: heldOut.labels[b], lambda: lambda, label: -1))
                    }
                }
            }
            let labels = Prown.labels(model, images: mixed, count: all.count)
            for i in all.indices { all[i].label = labels[i] }
            stats.pairsDrawn += pairs.count
            stats.mixesLabelled += all.count
            let candidateRows = all.indices.filter { all[$0].isCandidate }
            let candidates = candidateRows.map { all[$0] }
            var candidatePixels = [Float]()
            candidatePixels.reserveCapacity(candidateRows.count * size)
            for r in candidateRows { candidatePixels += mixed[(r * size)..<((r + 1) * size)] }
            stats.candidates += candidates.count
            let keep = try Prown.agreement(candidates, images: candidatePixels, imageSize: size, proxies: proxies, complement: complement)
            stats.agreedCandidates += keep.filter { $0 }.count
            let picked = Prown.firstPerPair(candidates, keep: keep)
            stats.pairsWithTrigger += picked.count
            for i in picked.prefix(settings.triggers - triggers.count) {
                triggers.append(candidates[i])
                pixels += candidatePixels[(i * size)..<((i + 1) * size)]
            }
            log("\(stats.pairsDrawn) pairs: \(stats.candidates) candidates, \(stats.agreedCandidates) agreed by all proxies, \(triggers.count)/\(settings.triggers) triggers")
            progress?("triggers", triggers.count, settings.triggers)
        }
        stats.seconds = Date().timeIntervalSince(start)
        return PrownTriggerSet(
            settings: resolved,
            model: .init(architecture: model.manifest.architecture.rawValue, weightsSHA256: model.manifest.weightsSHA256, name: modelName),
            heldOut: .init(name: heldOut.name, count: heldOut.count, sha256: DataFingerprint(heldOut).sha256),
            imageShape: heldOut.imageShape, classes: model.classes, labels: triggers.map(\.label), sources: triggers,
            pixels: pixels, guarantee: Prown.guarantee(agreements: settings.proxies, alpha: settings.alpha),
            creation: stats, nullModels: nil)
    }
}
