import Datasets
import NeuralNet
import Prediction
import TensorEngine
import Training

/// Runs one extraction attack end to end: prepares the variant (D-DAE's shadow models), spends
/// the budget through a `QueryBoundary` with the configured strategy, turns the answers into
/// training targets with the variant, trains the surrogate and measures it.
///
/// - Parameters:
///   - configuration: the attack (validated first).
///   - api: the victim as the attacker sees it.
///   - pools: the attacker's data; must hold `configuration.pool` (and D-DAE's shadow data).
///   - testSet: labelled images for E-Acc (and fidelity).
///   - victim: the bare victim model, for fidelity and the victim's accuracy (the attacker
///     never queries it; it only sets the surrogate's default architecture).
///   - progress: called as the run advances.
///   - shadowDefense: the deployed defense's copy the oracle variant trains its recovery with.
/// - Returns: the surrogate and the result, whose `queriesSpent` is the boundary's count.
public func runAttack(_ configuration: AttackConfiguration, api: PredictionAPI, pools: AttackPools, testSet: ImageDataset,
                      victim: TrainedModel? = nil, progress: ((AttackProgress) -> Void)? = nil, shadowDefense: ShadowDefense? = nil) throws
    -> (surrogate: TrainedModel, result: AttackResult) {
    let run = try AttackRun(configuration, api: api, pools: pools, testSet: testSet, victim: victim, progress: progress)
    run.shadowDefense = shadowDefense
    return try run.execute()
}

/// The state of one attack run (see `runAttack`).
final class AttackRun {
    let config: AttackConfiguration
    let api: PredictionAPI
    /// The attacker's pool (nil for a data-free strategy).
    let pool: ImageDataset?
    let pools: AttackPools
    let testSet: ImageDataset
    let victim: TrainedModel?
    let progress: ((AttackProgress) -> Void)?
    let architecture: Architecture
    let boundary: QueryBoundary
    let collector: QueryCollector
    let schedule: PoolSchedule?
    let shape: [Int]
    let classes: Int

    /// The transfer set: query images (raw pixels, back to back) and their answers.
    var pixels: [Float] = []
    var answers: [[Float]] = []
    var diagnostics: [String: Double] = [:]
    var dDAE: DDAERecovery?
    var shadowDefense: ShadowDefense?
    var preparationSeconds = 0.0, queryingSeconds = 0.0, trainingSeconds = 0.0
    var trainings = 0
    /// Images a data-free strategy trained its surrogate on (it keeps no transfer set).
    var dataFreeImages = 0
    /// The sum of the top probabilities of a data-free strategy's answers.
    var dataFreeTopProbabilitySum = 0.0

    init(_ configuration: AttackConfiguration, api: PredictionAPI, pools: AttackPools, testSet: ImageDataset,
         victim: TrainedModel?, progress: ((AttackProgress) -> Void)?) throws {
        try configuration.validate()
        let pool = configuration.strategy.usesPool ? try pools.require(configuration.pool, for: "the \(configuration.strategy.rawValue) attack") : nil
        shape = api.inputShape
        classes = api.classes
        guard shape.count == 3, classes >= 2 else {
            throw ExtractionError(.invalidConfiguration, "\(api.name) has input shape \(shape) and \(classes) classes; attacks need [C, H, W] images and ≥ 2 classes")
        }
        if let pool, pool.imageShape != shape {
            throw ExtractionError(.invalidConfiguration, "the \(configuration.pool.rawValue) pool has images \(pool.imageShape), \(api.name) takes \(shape)")
        }
        guard testSet.imageShape == shape, !testSet.isEmpty, testSet.classCount <= classes else {
            throw ExtractionError(.invalidConfiguration,
                                  "the test set (\(testSet.count) images of \(testSet.imageShape), \(testSet.classCount) classes) does not fit \(api.name) (\(shape), \(classes) classes)")
        }
        if let victim, victim.inputShape != shape || victim.classes != classes {
            throw ExtractionError(.invalidConfiguration, "the victim model takes \(victim.inputShape) with \(victim.classes) classes, the API \(shape) with \(classes)")
        }
        self.config = configuration
        self.api = api
        self.pool = pool
        self.pools = pools
        self.testSet = testSet
        self.victim = victim
        self.progress = progress
        // The victim's architecture by default; a graph model (imported) cannot be built afresh, so its thief trains fmnist-cnn.
        self.architecture = configuration.surrogate.architecture
            ?? victim.flatMap { $0.manifest.architecture == .graph ? nil : $0.manifest.architecture } ?? .fmnistCNN
        boundary = try QueryBoundary(api: api, budget: configuration.budget)
        let smoothing = configuration.variant == .smoothing
        collector = try QueryCollector(boundary: boundary, copies: smoothing ? configuration.smoothing.copies : 1,
                                       augmentation: smoothing ? configuration.smoothing.augmentation : .none,
                                       seed: SeedMixing.mix(configuration.seed, SeedMixing.salt("smoothing")),
                                       batchSize: configuration.queryBatchSize)
        schedule = pool.map { PoolSchedule(pool: $0, seed: SeedMixing.mix(configuration.seed, SeedMixing.salt("pool")),
                                           reuseAugmentation: configuration.reuseAugmentation) }
    }

    /// A sub-seed for one purpose (stable names keep runs reproducible across code changes).
    func seed(_ purpose: String, _ parts: UInt64...) -> UInt64 {
        var s = SeedMixing.mix(config.seed, SeedMixing.salt(purpose))
        for p in parts { s = SeedMixing.mix(s, p) }
        return s
    }


    func execute() throws -> (surrogate: TrainedModel, result: AttackResult) {
        let start = Clock.now()
        try prepare()
        let surrogate: TrainedModel
        switch config.strategy {
        case .knockoff:
            try timed(\.queryingSeconds) { try queryPool(images: collector.imagesAffordable(queries: config.budget), queries: config.budget) }
            surrogate = try trainSurrogate(epochs: nil, seed: seed("surrogate"), label: "surrogate")
        case .jbdaTR:
            surrogate = try runJBDA()
        case .dfme:
            surrogate = try runDFME()
        case .dfms:
            surrogate = try runDFMS()
        case .disguide:
            surrogate = try runDisGUIDE()
        }
        progress?(AttackProgress(phase: .evaluating, done: 0, total: 1, message: "test set"))
        let predictions = surrogate.predictions(testSet)
        let accuracy = Evaluation(predictions: predictions, labels: testSet.labels, classes: classes).accuracy
        var fidelity: Double?, victimAccuracy: Double?
        if let victim {
            let v = victim.predictions(testSet)
            fidelity = Double(zip(v, predictions).filter { $0 == $1 }.count) / Double(testSet.count)
            victimAccuracy = Evaluation(predictions: v, labels: testSet.labels, classes: classes).accuracy
        }
        progress?(AttackProgress(phase: .evaluating, done: 1, total: 1, message: String(format: "E-Acc %.2f %%", 100 * accuracy)))
        if !answers.isEmpty {
            diagnostics["answers.mean_top_probability"] = answers.reduce(0.0) { $0 + Double($1.max() ?? 0) } / Double(answers.count)
        }
        let result = AttackResult(configuration: config, apiName: api.name, answerMode: api.answerMode,
                                  queriesSpent: boundary.queriesSpent, budget: config.budget,
                                  transferSetSize: config.strategy.usesPool ? answers.count : dataFreeImages,
                                  trainingRounds: trainings, surrogateArchitecture: architecture, extractedAccuracy: accuracy,
                                  fidelity: fidelity, victimAccuracy: victimAccuracy, seconds: Clock.now() - start,
                                  preparationSeconds: preparationSeconds, queryingSeconds: queryingSeconds,
                                  trainingSeconds: trainingSeconds, diagnostics: diagnostics)
        surrogate.manifest.source = "extraction: \(config.label) against \(api.name)"
        surrogate.manifest.metrics["test_accuracy"] = accuracy
        if let fidelity { surrogate.manifest.metrics["fidelity"] = fidelity }
        return (surrogate, result)
    }

    func timed<R>(_ slot: ReferenceWritableKeyPath<AttackRun, Double>, _ body: () throws -> R) rethrows -> R {
        let t = Clock.now()
        defer { self[keyPath: slot] += Clock.now() - t }
        return try body()
    }

    // MARK: Variant preparation and targets

    /// Work that needs no query: D-DAE's (or the oracle's) shadow models and recovery network.
    func prepare() throws {
        guard config.variant.recoversWithShadows else { return }
        if config.variant == .oracle && shadowDefense == nil {
            throw ExtractionError(.invalidConfiguration, "the oracle variant needs a copy of the deployed defense to train its recovery with; none was given for \(api.name)")
        }
        try timed(\.preparationSeconds) {
            let settings = config.dDAE
            let shadowData = try pools.require(settings.shadowData, for: "D-DAE's shadow models")
            guard let pool else { throw ExtractionError(.invalidConfiguration, "D-DAE needs a strategy with a pool") }
            let recovery = try DDAERecovery.build(settings: settings, shadowData: shadowData, queryPool: pool, classes: classes,
                                                  recipe: config.surrogate, architecture: architecture, seed: seed("d-dae"),
                                                  shadowDefense: config.variant == .oracle ? shadowDefense : nil) { [progress] message in
                progress?(AttackProgress(phase: .preparing, done: 0, total: 1, message: message))
            }
            dDAE = recovery
            diagnostics["d-dae.heldout_l1_before"] = recovery.heldOutL1Before
            diagnostics["d-dae.heldout_l1_after"] = recovery.heldOutL1After
            diagnostics["d-dae.shadow_train_accuracy"] = recovery.shadowTrainAccuracy.reduce(0, +) / Double(recovery.shadowTrainAccuracy.count)
        }
    }

    /// The rows the surrogate trains on, from the answers so far.
    func targets() throws -> [[Float]] {
        let rows: [[Float]]
        switch config.variant {
        case .naive, .s4l, .smoothing:
            return answers
        case .top1:
            return answers.map(ProbabilityRow.oneHot)
        case .pBayes:
            let table = try PBayesRecovery(settings: config.pBayes, estimates: answers, classes: classes,
                                           seed: seed("p-bayes", UInt64(answers.count)))
            let r = table.recover(answers)
            diagnostics["p-bayes.matched_fraction"] = r.matchedFraction
            rows = r.rows
        case .dDAE, .oracle:
            guard let dDAE else { throw ExtractionError(.invalidConfiguration, "D-DAE's recovery network was not prepared") }
            rows = dDAE.recover(answers)
        }
        diagnostics["recovery.mean_l1_change"] = zip(rows, answers).reduce(0.0) { $0 + Double(ProbabilityRow.l1($1.0, $1.1)) }
            / Double(max(answers.count, 1))
        return rows
    }

    func trainSurrogate(epochs: Int?, seed: UInt64, label: String) throws -> TrainedModel {
        let rows = try targets()
        let rotation = config.variant == .s4l ? pool.map { SurrogateTraining.RotationLoss(pool: $0, weight: config.s4lWeight) } : nil
        let total = epochs ?? config.surrogate.epochs
        progress?(AttackProgress(phase: .training, done: 0, total: total, message: "\(label): \(answers.count) images"))
        let model = try timed(\.trainingSeconds) {
            try SurrogateTraining.train(pixels: pixels, targets: rows, inputShape: shape, classes: classes, recipe: config.surrogate,
                                        architecture: architecture, epochs: epochs, seed: seed, rotation: rotation) { [progress] report in
                progress?(AttackProgress(phase: .training, done: report.epoch, total: report.epochs,
                                         message: String(format: "\(label): loss %.4f", report.loss)))
                self.diagnostics["surrogate.final_loss"] = report.loss
            }
        }
        trainings += 1
        return model
    }

    // MARK: Querying

    var imageSize: Int { shape.reduce(1, *) }

    /// Queries the next `images` pool images of the schedule (from the transfer set's current
    /// size on), spending exactly `queries`.
    func queryPool(images: Int, queries: Int) throws {
        guard let schedule else { throw ExtractionError(.invalidConfiguration, "\(config.strategy.rawValue) has no pool to query") }
        let first = answers.count
        try queryImages(count: images, queries: queries, message: "") { range in
            schedule.images((first + range.lowerBound)..<(first + range.upperBound))
        }
    }

    /// Queries `count` images in chunks (`images(range)` gives the pixels of images `range`),
    /// spending exactly `queries` ((count − 1)·copies < queries ≤ count·copies), and appends
    /// them with their answers to the transfer set.
    func queryImages(count: Int, queries: Int, message: String, images: (Range<Int>) -> [Float]) throws {
        let chunk = max(config.queryBatchSize, 1024)
        var done = 0
        while done < count {
            let n = min(chunk, count - done)
            let spend = min((done + n) * collector.copies, queries) - done * collector.copies
            try append(images(done..<(done + n)), count: n, queries: spend)
            done += n
            progress?(AttackProgress(phase: .querying, done: boundary.queriesSpent, total: config.budget, message: message))
        }
    }

    func append(_ batch: [Float], count: Int, queries: Int) throws {
        let rows = try collector.answers(pixels: batch, count: count, firstID: answers.count, queries: queries)
        pixels += batch
        answers += rows
    }

    // MARK: JBDA-TR

    func runJBDA() throws -> TrainedModel {
        let settings = config.jbda
        let seedImages = min(settings.seedSize, collector.imagesAffordable(queries: config.budget))
        try timed(\.queryingSeconds) {
            try queryPool(images: seedImages, queries: min(seedImages * collector.copies, config.budget))
        }
        var round = 0
        while boundary.remaining > 0 {
            round += 1
            let surrogate = try trainSurrogate(epochs: settings.roundEpochs, seed: seed("jbda-round", UInt64(round)),
                                               label: "round \(round)")
            let affordable = collector.imagesAffordable(queries: boundary.remaining)
            let n = answers.count, q = settings.queriesPerSample
            // Which samples to expand and how many new images each: all samples × q when the
            // budget allows, else a seeded random subset, the last sample taking the rest.
            var sources: [Int]
            if n * q <= affordable {
                sources = (0..<n).flatMap { [Int](repeating: $0, count: q) }
            } else {
                var g = SeededGenerator(seed: seed("jbda-pick", UInt64(round)))
                var order = Array(0..<n)
                for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, g.nextInt(below: i + 1)) }
                sources = order.flatMap { [Int](repeating: $0, count: q) }
                sources = Array(sources.prefix(affordable))
            }
            let newImages = try timed(\.queryingSeconds) { try synthesize(from: sources, surrogate: surrogate, round: round) }
            try timed(\.queryingSeconds) {
                let queries = min(sources.count * collector.copies, boundary.remaining)
                try queryImages(count: sources.count, queries: queries, message: "round \(round)") { range in
                    Array(newImages[(range.lowerBound * imageSize)..<(range.upperBound * imageSize)])
                }
            }
            diagnostics["jbda.rounds"] = Double(round)
        }
        return try trainSurrogate(epochs: nil, seed: seed("surrogate"), label: "surrogate")
    }

    /// New images by targeted random PGD from the transfer-set images `sources` (one per entry).
    func synthesize(from sources: [Int], surrogate: TrainedModel, round: Int) throws -> [Float] {
        let size = shape.reduce(1, *)
        var out = [Float]()
        out.reserveCapacity(sources.count * size)
        let batch = 128
        for (b, start) in stride(from: 0, to: sources.count, by: batch).enumerated() {
            let part = sources[start..<min(start + batch, sources.count)]
            var x = [Float]()
            x.reserveCapacity(part.count * size)
            pixels.withUnsafeBufferPointer { p in
                for s in part { x.append(contentsOf: p[(s * size)..<((s + 1) * size)]) }
            }
            var g = SeededGenerator(seed: seed("jbda-pgd", UInt64(round), UInt64(b)))
            let adversarial = config.jbda.pgd.perturb(Tensor(x, shape: [part.count] + shape), surrogate: surrogate.classifier,
                                                      normalization: config.surrogate.normalization, targets: .freshRandom,
                                                      generator: &g)
            out += adversarial.scalars
            progress?(AttackProgress(phase: .synthesizing, done: min(start + batch, sources.count), total: sources.count,
                                     message: "round \(round)"))
        }
        return out
    }
}
