import Datasets
import Stats
import TensorEngine
import Training

/// One setting tried by `Calibration`, with what it does to honest users and to attack queries.
public struct CalibrationCandidate: Codable, Sendable, Equatable {
    /// Offset d.
    public var offset: Float
    /// Mixing power α.
    public var mixingPower: Float
    /// Flipping power β.
    public var flippingPower: Float
    /// Accuracy of the defended answers on the in-distribution set.
    public var defendedAccuracy: Double
    /// Bare minus defended accuracy, in percentage points (0.5 = half a point).
    public var accuracyDropPoints: Double
    /// Whether the drop is within the budget.
    public var withinBudget: Bool
    /// In-distribution rows mixed (s > 0) and flipped.
    public var fractionMixed: Double
    public var fractionFlipped: Double
    /// Out-of-distribution mean similarity and fractions mixed and flipped (nil without an OOD set).
    public var oodMeanSimilarity: Double?
    public var oodFractionMixed: Double?
    public var oodFractionFlipped: Double?
    /// The upper confidence bound on the share of rows turned wrong, in percentage points, when
    /// calibration asked for one.
    public var accuracyDropBoundPoints: Double?

    public init(offset: Float, mixingPower: Float, flippingPower: Float, defendedAccuracy: Double, accuracyDropPoints: Double,
                withinBudget: Bool, fractionMixed: Double, fractionFlipped: Double, oodMeanSimilarity: Double? = nil,
                oodFractionMixed: Double? = nil, oodFractionFlipped: Double? = nil, accuracyDropBoundPoints: Double? = nil) {
        self.offset = offset; self.mixingPower = mixingPower; self.flippingPower = flippingPower
        self.defendedAccuracy = defendedAccuracy; self.accuracyDropPoints = accuracyDropPoints; self.withinBudget = withinBudget
        self.fractionMixed = fractionMixed; self.fractionFlipped = fractionFlipped; self.oodMeanSimilarity = oodMeanSimilarity
        self.oodFractionMixed = oodFractionMixed; self.oodFractionFlipped = oodFractionFlipped
        self.accuracyDropBoundPoints = accuracyDropBoundPoints
    }

    enum CodingKeys: String, CodingKey {
        case offset, mixingPower, flippingPower, defendedAccuracy, accuracyDropPoints, withinBudget, fractionMixed, fractionFlipped
        case oodMeanSimilarity, oodFractionMixed, oodFractionFlipped, accuracyDropBoundPoints
    }

    /// Fractions, written before the budget took one unit; read ×100.
    enum LegacyKeys: String, CodingKey { case accuracyDropPoints, accuracyDrop, accuracyDropBoundPoints, accuracyDropBound }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self), legacy = try decoder.container(keyedBy: LegacyKeys.self)
        offset = try c.decode(Float.self, forKey: .offset)
        mixingPower = try c.decode(Float.self, forKey: .mixingPower)
        flippingPower = try c.decode(Float.self, forKey: .flippingPower)
        defendedAccuracy = try c.decode(Double.self, forKey: .defendedAccuracy)
        accuracyDropPoints = try PercentagePoints.decode(legacy, new: .accuracyDropPoints, old: .accuracyDrop, what: "the accuracy drop")
        withinBudget = try c.decode(Bool.self, forKey: .withinBudget)
        fractionMixed = try c.decode(Double.self, forKey: .fractionMixed)
        fractionFlipped = try c.decode(Double.self, forKey: .fractionFlipped)
        oodMeanSimilarity = try c.decodeIfPresent(Double.self, forKey: .oodMeanSimilarity)
        oodFractionMixed = try c.decodeIfPresent(Double.self, forKey: .oodFractionMixed)
        oodFractionFlipped = try c.decodeIfPresent(Double.self, forKey: .oodFractionFlipped)
        accuracyDropBoundPoints = legacy.contains(.accuracyDropBoundPoints) || legacy.contains(.accuracyDropBound)
            ? try PercentagePoints.decode(legacy, new: .accuracyDropBoundPoints, old: .accuracyDropBound, what: "the bound on the accuracy drop") : nil
    }
}

/// What calibration maximises among the settings within the accuracy budget.
public enum CalibrationObjective: String, Codable, Sendable, CaseIterable {
    /// Fraction of out-of-distribution queries flipped (the label-level signal; default).
    case oodFractionFlipped = "ood-flipped"
    /// Mean similarity of out-of-distribution queries.
    case oodMeanSimilarity = "ood-similarity"
    /// Fraction of out-of-distribution queries mixed.
    case oodFractionMixed = "ood-mixed"
}

/// The outcome of `Calibration.calibrate`.
public struct CalibrationResult: Codable, Sendable, Equatable {
    /// Accuracy of the bare model on the in-distribution set.
    public var bareAccuracy: Double
    /// Largest accepted accuracy drop, in percentage points.
    public var budgetPoints: Double
    public var objective: CalibrationObjective
    /// Every setting tried, in the order tried.
    public var candidates: [CalibrationCandidate]
    /// The best setting within the budget.
    public var chosen: CalibrationCandidate
    /// The input configuration with the chosen d, α and β.
    public var configuration: DefenseConfiguration

    public init(bareAccuracy: Double, budgetPoints: Double, objective: CalibrationObjective, candidates: [CalibrationCandidate],
                chosen: CalibrationCandidate, configuration: DefenseConfiguration) {
        self.bareAccuracy = bareAccuracy; self.budgetPoints = budgetPoints; self.objective = objective
        self.candidates = candidates; self.chosen = chosen; self.configuration = configuration
    }

    enum CodingKeys: String, CodingKey { case bareAccuracy, budgetPoints, objective, candidates, chosen, configuration }

    /// A fraction, written before the budget took one unit; read ×100.
    enum LegacyKeys: String, CodingKey { case budgetPoints, budget }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self), legacy = try decoder.container(keyedBy: LegacyKeys.self)
        bareAccuracy = try c.decode(Double.self, forKey: .bareAccuracy)
        budgetPoints = try PercentagePoints.decode(legacy, new: .budgetPoints, old: .budget, what: "the accuracy budget")
        objective = try c.decode(CalibrationObjective.self, forKey: .objective)
        candidates = try c.decode([CalibrationCandidate].self, forKey: .candidates)
        chosen = try c.decode(CalibrationCandidate.self, forKey: .chosen)
        configuration = try c.decode(DefenseConfiguration.self, forKey: .configuration)
    }
}

/// Chooses the offset d (and optionally α and β from small grids) for a model and key so that the
/// defended accuracy on held-out in-distribution data stays within a budget of the bare accuracy
/// while the watermark signal on out-of-distribution queries is as strong as possible.
///
/// The model runs once over each data set; every candidate is then evaluated on the cached
/// logits, distances, confidences and per-row draws (the same keyed draws the deployed defense
/// makes), at O(rows·K) per candidate. For each (α, β) it scans a grid of d from "touches
/// nothing" to "touches most in-distribution rows", then bisects between the best feasible grid
/// point and the next one. Among all feasible candidates it picks the highest objective on the
/// OOD set (without an OOD set: the highest fraction flipped on the in-distribution set); ties go
/// to the higher mean similarity, then the larger d. d = "touches nothing" always has drop 0, so a
/// choice exists. With fresh randomness the figures are one realisation of the draws (call 0); with
/// keyed randomness (the default) they are exactly what the deployed defense does on these sets.
public enum Calibration {
    /// Settings of a calibration run.
    public struct Options: Sendable {
        /// Largest accepted accuracy drop, in percentage points (default 0.5 = half a point).
        public var budgetPoints: Double
        /// Offsets to try instead of the automatic grid.
        public var offsets: [Float]?
        /// α values to try (nil: the configuration's).
        public var mixingPowers: [Float]?
        /// β values to try (nil: the configuration's).
        public var flippingPowers: [Float]?
        public var objective: CalibrationObjective
        /// Points of the automatic d grid (default 17).
        public var gridSize: Int
        /// Bisection steps after the grid (default 8).
        public var refinementSteps: Int
        /// Forward-pass batch size.
        public var batchSize: Int
        /// When set (e.g. 0.95), a setting is within budget only if the one-sided Clopper–Pearson
        /// upper bound at this confidence of the share of rows it turns from right to wrong is within
        /// the budget, so that the budget holds on unseen data of the same kind, not just on the
        /// calibration rows. Nil: the observed drop (net of rows turned right) must be within budget.
        public var confidence: Double?
        /// Called with (steps done, steps in all) as the forward passes and the candidate scans
        /// advance, for a progress bar.
        public var progress: (@Sendable (Int, Int) -> Void)?

        public init(budgetPoints: Double = 0.5, offsets: [Float]? = nil, mixingPowers: [Float]? = nil, flippingPowers: [Float]? = nil,
                    objective: CalibrationObjective = .oodFractionFlipped, gridSize: Int = 17, refinementSteps: Int = 8,
                    batchSize: Int = 256, confidence: Double? = nil, progress: (@Sendable (Int, Int) -> Void)? = nil) {
            self.confidence = confidence
            self.progress = progress
            self.budgetPoints = budgetPoints
            self.offsets = offsets
            self.mixingPowers = mixingPowers
            self.flippingPowers = flippingPowers
            self.objective = objective
            self.gridSize = gridSize
            self.refinementSteps = refinementSteps
            self.batchSize = batchSize
        }
    }

    /// Per-row quantities that do not depend on d, α or β, computed once.
    struct Cache {
        let rows: Int
        let classes: Int
        let labels: [Int]
        let logits: [Float]
        let bare: [Int]
        let distance: [Float]
        let weight: [Float]?
        let maxProbability: [Float]
        let draws: [RowDraw]

        init(model: TrainedModel, defense: HoneytraceDefense, data: ImageDataset, batchSize: Int) {
            rows = data.count
            classes = model.classes
            labels = data.labels
            let out = model.outputs(pixels: data.pixels, count: data.count, batchSize: batchSize)
            logits = out.logits
            bare = BatchedForward.argmax(out.logits, classes: classes)
            distance = defense.distances(pixels: data.pixels, features: out.features)
            weight = defense.weights(features: out.features)
            let k = classes
            maxProbability = out.logits.withUnsafeBufferPointer { l in
                (0..<data.count).map { HoneytraceDefense.maxProbability(l.baseAddress! + $0 * k, classes: k) }
            }
            draws = data.pixels.withUnsafeBufferPointer { p in
                out.features.withUnsafeBufferPointer { f in
                    defense.draws(pixels: p.baseAddress!, features: f.baseAddress!, rows: data.count, needed: { _ in true }, call: 0)
                }
            }
        }

        /// (accuracy, mean s, fraction mixed, fraction flipped) under `c`.
        func evaluate(_ c: DefenseConfiguration, references: [Float]) -> (correct: Int, lost: Int, accuracy: Double, meanS: Double, mixed: Double, flipped: Double) {
            guard rows > 0 else { return (0, 0, 0, 0, 0, 0) }
            var correct = 0, lost = 0, mixed = 0, flipped = 0
            var sSum = 0.0
            let k = classes
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: k)
            let probs = UnsafeMutablePointer<Float>.allocate(capacity: k)
            defer { scratch.deallocate(); probs.deallocate() }
            logits.withUnsafeBufferPointer { l in
                references.withUnsafeBufferPointer { refs in
                    for r in 0..<rows {
                        let s = HoneytraceDefense.similarity(distance: distance[r], weight: weight?[r] ?? 1, maxProbability: maxProbability[r], configuration: c)
                        var prediction = bare[r]
                        if s > 0 {
                            sSum += Double(s)
                            let m = HoneytraceDefense.defendRow(logits: l.baseAddress! + r * k, classes: k, similarity: s, draw: draws[r],
                                                                references: refs.baseAddress!, configuration: c, scratch: scratch, into: probs)
                            mixed += 1
                            if m.flipped { flipped += 1 }
                            prediction = RowMath.argmax(probs, count: k)
                        }
                        if prediction == labels[r] { correct += 1 } else if bare[r] == labels[r] { lost += 1 }
                    }
                }
            }
            let n = Double(rows)
            return (correct, lost, Double(correct) / n, sSum / n, Double(mixed) / n, Double(flipped) / n)
        }
    }

    /// Calibrates d (and α, β when grids are given) for `model` behind `key`.
    ///
    /// - Parameters:
    ///   - inDistribution: labelled held-out data of the model's task (honest users).
    ///   - outOfDistribution: attack-like queries (e.g. MNIST-5k); labels are ignored.
    ///   - configuration: the settings to start from (the key's when nil); d, α and β are replaced.
    ///   - force: accept a key made for other weights.
    public static func calibrate(key: WatermarkKey, model: TrainedModel, inDistribution: ImageDataset,
                                 outOfDistribution: ImageDataset? = nil, configuration: DefenseConfiguration? = nil,
                                 options: Options = Options(), force: Bool = false) throws -> CalibrationResult {
        try key.check(model: model, force: force)
        try inDistribution.requireOwnerSide(for: "calibration")
        try outOfDistribution?.requireOwnerSide(for: "calibration (its out-of-distribution proxy)")
        guard options.budgetPoints >= 0 && options.budgetPoints < 100 else {
            throw HoneytraceError(.invalidArgument, "accuracy budget \(options.budgetPoints) points must lie in [0, 100) (0.5 = half a point)")
        }
        let budget = options.budgetPoints / 100
        if let q = options.confidence, !(q > 0 && q < 1) {
            throw HoneytraceError(.invalidArgument, "calibration confidence \(q) must lie in (0, 1) (e.g. 0.95)")
        }
        guard options.gridSize >= 2, options.refinementSteps >= 0 else {
            throw HoneytraceError(.invalidArgument, "the d grid needs at least 2 points and non-negative refinement steps")
        }
        guard !inDistribution.isEmpty else { throw HoneytraceError(.insufficientData, "\(inDistribution.name) holds no images") }
        for data in [inDistribution] + (outOfDistribution.map { [$0] } ?? []) where data.imageShape != model.inputShape {
            throw HoneytraceError(.invalidArgument, "\(data.name) has images of shape \(data.imageShape), the model takes \(model.inputShape)")
        }
        guard inDistribution.classCount <= model.classes else {
            throw HoneytraceError(.invalidArgument, "\(inDistribution.name) has \(inDistribution.classCount) classes, the model has \(model.classes)")
        }
        let base = configuration ?? key.defense
        let alphas = options.mixingPowers ?? [base.mixingPower], betas = options.flippingPowers ?? [base.flippingPower]
        guard !alphas.isEmpty, !betas.isEmpty else { throw HoneytraceError(.invalidArgument, "the α and β grids must not be empty") }
        for v in alphas + betas where !(v > 0 && v.isFinite) {
            throw HoneytraceError(.invalidArgument, "mixing and flipping powers must be positive, found \(v)")
        }
        let defense = try HoneytraceDefense(key: key, configuration: base)
        // Steps for a progress bar: the two forward passes, then one scan per (α, β).
        let steps = 2 + alphas.count * betas.count
        options.progress?(0, steps)
        let id = Cache(model: model, defense: defense, data: inDistribution, batchSize: options.batchSize)
        options.progress?(1, steps)
        let ood = outOfDistribution.flatMap { $0.isEmpty ? nil : Cache(model: model, defense: defense, data: $0, batchSize: options.batchSize) }
        options.progress?(2, steps)
        let bareCorrect = zip(id.bare, id.labels).filter { $0 == $1 }.count
        let bareAccuracy = Double(bareCorrect) / Double(id.rows)

        let grid = options.offsets ?? automaticOffsets(id: id.distance, ood: ood?.distance ?? [], points: options.gridSize)
        guard !grid.isEmpty, grid.allSatisfy({ $0.isFinite }) else { throw HoneytraceError(.invalidArgument, "offsets must be finite and not empty") }

        var candidates: [CalibrationCandidate] = []
        func evaluate(_ d: Float, _ a: Float, _ b: Float) -> CalibrationCandidate {
            var c = base
            c.offset = d
            c.mixingPower = a
            c.flippingPower = b
            let i = id.evaluate(c, references: key.referenceLogits)
            let o = ood?.evaluate(c, references: key.referenceLogits)
            // From counts, so that a drop of exactly the budget is not lost to rounding.
            let drop = Double(bareCorrect - i.correct) / Double(id.rows)
            let bound = options.confidence.map { clopperPearsonUpperBound(successes: i.lost, trials: id.rows, confidence: $0) }
            let candidate = CalibrationCandidate(offset: d, mixingPower: a, flippingPower: b, defendedAccuracy: i.accuracy,
                                                 accuracyDropPoints: 100 * drop, withinBudget: (bound ?? drop) <= budget + 1e-12,
                                                 fractionMixed: i.mixed, fractionFlipped: i.flipped, oodMeanSimilarity: o?.meanS,
                                                 oodFractionMixed: o?.mixed, oodFractionFlipped: o?.flipped,
                                                 accuracyDropBoundPoints: bound.map { 100 * $0 })
            candidates.append(candidate)
            return candidate
        }
        var scans = 0
        for a in alphas {
            for b in betas {
                scans += 1
                defer { options.progress?(2 + scans, steps) }
                let sorted = grid.sorted()
                let scanned = sorted.map { evaluate($0, a, b) }
                // Refine between the largest feasible grid point and the next one.
                guard options.offsets == nil, let last = scanned.lastIndex(where: { $0.withinBudget }), last + 1 < sorted.count else { continue }
                var lo = sorted[last], hi = sorted[last + 1]
                for _ in 0..<options.refinementSteps {
                    let mid = (lo + hi) / 2
                    if evaluate(mid, a, b).withinBudget { lo = mid } else { hi = mid }
                }
            }
        }
        let feasible = candidates.filter { $0.withinBudget }
        func score(_ c: CalibrationCandidate) -> Double {
            guard ood != nil else { return c.fractionFlipped }
            switch options.objective {
            case .oodFractionFlipped: return c.oodFractionFlipped ?? 0
            case .oodMeanSimilarity: return c.oodMeanSimilarity ?? 0
            case .oodFractionMixed: return c.oodFractionMixed ?? 0
            }
        }
        // Ties: the higher mean similarity, then the larger offset (it guards more of input space
        // at no cost within the budget), then the smaller drop.
        let best = feasible.max { x, y in
            let kx = (score(x), x.oodMeanSimilarity ?? Double(x.fractionMixed), Double(x.offset), -x.accuracyDropPoints)
            let ky = (score(y), y.oodMeanSimilarity ?? Double(y.fractionMixed), Double(y.offset), -y.accuracyDropPoints)
            return kx < ky
        }
        guard let chosen = best else {
            throw HoneytraceError(.insufficientData, "no candidate keeps the accuracy drop within \(options.budgetPoints) points; add smaller offsets")
        }
        var configured = base
        configured.offset = chosen.offset
        configured.mixingPower = chosen.mixingPower
        configured.flippingPower = chosen.flippingPower
        return CalibrationResult(bareAccuracy: bareAccuracy, budgetPoints: options.budgetPoints, objective: options.objective,
                                 candidates: candidates, chosen: chosen, configuration: configured)
    }

    /// `points` offsets evenly spaced from "no row touched" (the smallest distance seen) to the
    /// larger of the in-distribution median and the OOD 95th percentile, plus 1 (where s saturates).
    static func automaticOffsets(id: [Float], ood: [Float], points: Int) -> [Float] {
        let all = (id + ood).filter { $0.isFinite }
        guard let lo = all.min() else { return [0] }
        func quantile(_ v: [Float], _ q: Double) -> Float? {
            let s = v.filter { $0.isFinite }.sorted()
            guard !s.isEmpty else { return nil }
            return s[min(s.count - 1, Int(q * Double(s.count - 1)))]
        }
        let hi = max(quantile(id, 0.5) ?? lo, quantile(ood, 0.95) ?? lo) + 1
        return (0..<points).map { lo + (hi - lo) * Float($0) / Float(points - 1) }
    }
}
