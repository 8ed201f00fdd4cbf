import Baselines
import Datasets
import Extraction
import Foundation
import Formats
import Honeytrace
import NeuralNet
import Prediction
import TensorEngine
import Training

/// Runs an attack × defense grid into a directory:
///
///     <out>/manifest.json           configuration, seeds, model hashes, queries spent, code version
///     <out>/victim/                 the victim's model directory (unless the configuration names one)
///     <out>/key.htkey               the watermark key (owner-only permissions), d calibrated
///     <out>/calibration.json        every candidate the calibration tried
///     <out>/runs/<id>.json          one `RunRecord` per cell and seed
///     <out>/surrogates/<id>/        each surrogate's model directory
///     <out>/baselines/<kind>/       each training-time column's own victim and its baseline.json
///     <out>/prown/<model>.json      PROWN's trigger set of each served model (victim, baselines)
///
///     <out>/runs/<id>.claim         while a worker runs the cell (`claimsCells`)
///
/// Runs whose record exists are skipped, so an interrupted run resumes; `shard` splits the cells
/// between processes statically, `claimsCells` lets processes on one directory share them as
/// they go, `runCell` runs one cell by index (a Slurm array task, `SlurmScripts`). Undefended cells run before defended ones: a defended cell is verified against the
/// surrogate of the undefended API from the same attack and seed (docs/algorithms.md §4.3).
public final class ExperimentRunner {
    public let configuration: ExperimentConfiguration
    public let directory: URL
    public let shard: (index: Int, count: Int)
    /// Progress lines for a human (stderr in the CLI).
    public var log: (String) -> Void
    /// An earlier experiment directory whose attacks (same victim and attack settings; for defended
    /// cells also the same key and defense) are reused and verified again instead of run (`reuseAttack`).
    public var attackSource: String?
    /// Reuse only the undefended cells of `attackSource`.
    public var undefendedOnly = false
    /// Take this shard's cells one at a time, costliest first, claiming each with a file, so
    /// that several processes on this directory share them (`experiment run --jobs N`); a
    /// defended cell waits for its undefended partner while another process runs it (and runs
    /// the partner itself, claimed, when it lies in another shard and nobody holds it). `run()`
    /// then returns the shard's records that exist: a cell whose claim is stale is left to
    /// the next run.
    public var claimsCells = false
    /// Where the running cell's attack is (cell id, progress), for a progress bar.
    public var attackProgress: ((String, AttackProgress) -> Void)?
    /// The image shape of the grid's data, once loaded (`loadData`).
    var dataShape: [Int]?
    /// The digests of the grid's data-set descriptions, computed once (`writeManifest`).
    var dataSetRecords: [DataSetRecord]?
    /// Seconds a claiming worker sleeps before looking again when every open cell is held.
    let claimPollSeconds = 2.0

    public init(configuration: ExperimentConfiguration, directory: String, shard: (index: Int, count: Int) = (0, 1),
                log: @escaping (String) -> Void = { _ in }) throws {
        try configuration.validate()
        guard shard.count >= 1, shard.index >= 0, shard.index < shard.count else {
            throw ExperimentError("shard \(shard.index + 1)/\(shard.count) is not valid; use i/n with 1 ≤ i ≤ n")
        }
        self.configuration = configuration
        self.directory = URL(fileURLWithPath: directory)
        self.shard = shard
        self.log = log
    }

    /// Identifier of a cell: "<defense>--<strategy>--<variant>--s<seed>", with "--<pool>" after the
    /// defense when the row names its own pool and "--as-<architecture>" before the seed when it
    /// names the copy's architecture.
    public static func runID(defense: String, row: ExperimentConfiguration.AttackRow, seed: UInt64) -> String {
        "\(defense)--\(rowKey(row))--s\(seed)"
    }

    /// A row's part of the cell identifier: "[<pool>--]<strategy>--<variant>[--as-<architecture>]".
    public static func rowKey(_ row: ExperimentConfiguration.AttackRow) -> String {
        (row.pool.map { "\($0.rawValue)--" } ?? "") + "\(row.strategy.rawValue)--\(row.variant.rawValue)"
            + (row.surrogate.map { "--as-\($0.rawValue)" } ?? "")
    }

    struct Cell { let defense: String; let row: ExperimentConfiguration.AttackRow; let seed: UInt64; var id: String { ExperimentRunner.runID(defense: defense, row: row, seed: seed) } }

    /// All cells in run order (undefended first), and this shard's share of them.
    var cells: [Cell] {
        let ordered = configuration.defenses.sorted { ($0 == "none" ? 0 : 1) < ($1 == "none" ? 0 : 1) }
        return ordered.flatMap { d in configuration.attacks.flatMap { r in configuration.seeds.map { Cell(defense: d, row: r, seed: $0) } } }
    }

    func path(_ parts: String...) -> String { parts.reduce(directory) { $0.appendingPathComponent($1) }.path }

    /// This shard's cells.
    var shardCells: [Cell] { cells.enumerated().filter { $0.offset % shard.count == shard.index }.map(\.element) }

    /// The order claiming workers take cells in: undefended before defended (a defended cell is
    /// verified against its partner), and within each the costliest first, so the workers'
    /// finishing times stay close (longest processing time first).
    var claimOrder: [Cell] { ExperimentRunner.costOrder(shardCells) }

    /// `cells` undefended first, then each group costliest first, ties in their given order:
    /// the order claiming workers take cells in and Slurm's array tasks run in.
    static func costOrder(_ cells: [Cell]) -> [Cell] {
        cells.enumerated().sorted { a, b in
            let da = a.element.defense == "none" ? 0 : 1, db = b.element.defense == "none" ? 0 : 1
            if da != db { return da < db }
            let ca = ExperimentRunner.relativeCost(a.element.row), cb = ExperimentRunner.relativeCost(b.element.row)
            return ca != cb ? ca > cb : a.offset < b.offset
        }.map(\.element)
    }

    /// A cell's cost relative to a KnockoffNet naive cell, for scheduling only (measured on the
    /// `fmnist` preset: JBDA-TR retrains on 1k + 4k + 16k + 20k images and runs PGD, S4L doubles
    /// each step's batch, smoothing trains on a third as many images; the data-free attacks, not
    /// measured in a grid yet, run their generator forward and backward for every batch they send,
    /// DisGUIDE besides trains two surrogates, each also on 3 replayed batches per query batch).
    static func relativeCost(_ row: ExperimentConfiguration.AttackRow) -> Double {
        let strategy: Double
        switch row.strategy {
        case .knockoff: strategy = 1
        case .jbdaTR: strategy = 2.5
        case .dfme, .dfms: strategy = 3
        case .disguide: strategy = 8
        }
        let variant: Double
        switch row.variant {
        case .s4l: variant = 1.8
        case .smoothing: variant = 0.35
        default: variant = 1
        }
        return strategy * variant
    }

    /// Trains the victim, creates and calibrates the key (and the heavy-client defense), trains the
    /// training-time baselines and makes PROWN's trigger sets when they are missing, and writes the
    /// manifest: what every cell shares, done once before worker processes or Slurm's array tasks start.
    public func prepareShared() throws {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("runs"), withIntermediateDirectories: true)
        try checkManifest()
        let data = try loadData()
        let victim = try prepareVictim(data)
        let key = try prepareKey(victim: victim, data: data)
        if configuration.prown != nil { _ = try preparePrown(victim, servedAs: "victim", data: data) }
        for kind in baselineColumns {
            let baseline = try prepareBaseline(kind, victim: victim, data: data)
            if configuration.prown != nil { _ = try preparePrown(baseline, servedAs: kind.rawValue, data: data) }
        }
        _ = try heavyClientCalibration(victim: victim, key: key, data: data)
        try writeManifest(victim: victim, key: key)
        let stale = CellClaims(directory: path("runs")).removeStale()
        if !stale.isEmpty { log("removed the claims of stopped workers: \(stale.joined(separator: ", "))") }
    }

    /// Runs this shard's cells; returns every record (new and already present) of this shard.
    @discardableResult
    public func run() throws -> [RunRecord] {
        let context = try makeContext(columns: configuration.defenses)
        var records: [RunRecord] = []
        if claimsCells {
            try runClaiming(context)
            records = try shardCells.filter(hasRecord).map { try record(for: $0, context) }
        } else {
            let mine = shardCells
            let progress = GridProgress(total: mine.count, doneAtStart: mine.filter(hasRecord).count)
            for cell in mine {
                log("\(progress.line(done: mine.filter(hasRecord).count)) \(cell.id)")
                records.append(try record(for: cell, context))
            }
        }
        try writeManifest(victim: context.victim, key: context.key)
        return records
    }

    /// The ids of the grid's cells in `cells` order: `runCell`'s indices.
    public var cellIDs: [String] { cells.map(\.id) }

    /// The index in `cellIDs` of `selector`, a 0-based index or a cell id.
    ///
    /// - Throws: `ExperimentError` naming the selector and the grid's range of cells.
    public func cellIndex(_ selector: String) throws -> Int {
        let ids = cellIDs
        if let index = Int(selector) {
            guard ids.indices.contains(index) else { throw outOfRange(index) }
            return index
        }
        guard let index = ids.firstIndex(of: selector) else {
            throw ExperimentError("grid '\(configuration.name)' has no cell '\(selector)'; give an index 0…\(ids.count - 1) or one of \(ids.joined(separator: ", "))")
        }
        return index
    }

    func outOfRange(_ index: Int) -> ExperimentError {
        ExperimentError("cell \(index) is out of range: grid '\(configuration.name)' has \(cells.count) cells, 0…\(cells.count - 1)")
    }

    /// Runs the one cell at `index` of `cellIDs` whatever the shard (one Slurm array task), or
    /// reads its record when it exists; the context holds only its column (and the undefended
    /// one, against whose surrogate a defended cell is verified; a missing partner runs first).
    ///
    /// - Throws: `ExperimentError` for an index out of range.
    @discardableResult
    public func runCell(_ index: Int) throws -> RunRecord {
        let all = cells
        guard all.indices.contains(index) else { throw outOfRange(index) }
        let cell = all[index]
        if hasRecord(cell) {
            log("\(cell.id): its record exists")
            return try savedRecord(cell)
        }
        let columns = configuration.defenses.filter { $0 == cell.defense || $0 == "none" }
        let context = try makeContext(columns: columns)
        log("[cell \(index) of 0…\(all.count - 1)] \(cell.id)")
        let record = try record(for: cell, context)
        try writeManifest(victim: context.victim, key: context.key)
        return record
    }

    /// What running cells needs — victim, key, verifier, null pool, heavy-client defense — with the
    /// defenses of `columns` (prepared like `prepareShared` when missing).
    func makeContext(columns: [String]) throws -> Context {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("runs"), withIntermediateDirectories: true)
        try checkManifest()
        let data = try loadData()
        let victim = try prepareVictim(data)
        let key = try prepareKey(victim: victim, data: data)
        let verifier = try makeVerifier(key: key, data: data)
        let victimAccuracy = try victim.evaluate(data.test).accuracy
        let defended = try DefendedModel(model: victim, key: key, name: "Neural Honeytrace")
        let nullModels = try loadNullPool()
        let nullAnswers = try nullPoolAnswers(verifier, models: nullModels)
        let heavy = try prepareHeavyClient(victim: victim, key: key, honest: defended, data: data)
        let honeytrace = NeuralHoneytrace(defended: defended, heavy: heavy.map {
            .init(afterQueries: $0.afterQueries, defended: $0.defended, union: configuration.heavyClient?.union ?? false)
        })
        var defenses: [String: Defense] = [:], protectedAccuracy: [String: Double] = [:], prown: [String: Watermark] = [:]
        for name in columns {
            let defense = try GridDefense.make(name, victim: victim, honeytrace: honeytrace,
                                               seed: SeedMixing.mix(configuration.keySeed, SeedMixing.salt("defense " + name)),
                                               honestTraffic: Tensor(data.test.pixels, shape: [data.test.count] + data.test.imageShape),
                                               nullModels: nullModels, alpha: configuration.alpha,
                                               trainedBaseline: { kind in
                                                   try TrainedBaselineDefense(model: try self.prepareBaseline(kind, victim: victim, data: data),
                                                                              record: try BaselineRecord.load(directory: self.path("baselines", kind.rawValue)),
                                                                              ownerData: data.ownerSide, nullModels: nullModels,
                                                                              falseClaimRate: configuration.alpha)
                                               })
            defenses[name] = defense
            protectedAccuracy[name] = name == "none" ? victimAccuracy : try accuracy(of: defense, on: data.test)
            if configuration.prown != nil {
                let served = (defense as? TrainedBaselineDefense).map { ($0.model, name) } ?? (victim, "victim")
                prown[name] = try TriggerAccuracyWatermark(prown: try preparePrown(served.0, servedAs: served.1, data: data),
                                                           falseClaimRate: configuration.alpha)
            }
        }
        return Context(victim: victim, key: key, verifier: verifier, data: data, defenses: defenses,
                       victimAccuracy: victimAccuracy, protectedAccuracy: protectedAccuracy, nullAnswers: nullAnswers,
                       heavy: heavy, prown: prown)
    }

    /// The key's verifier on this grid's triggers (made from the test set with the key's seed).
    func makeVerifier(key: WatermarkKey, data: ExperimentData) throws -> OwnershipVerifier {
        let triggers = try TriggerSet.make(key: key, heldOut: data.test, count: configuration.triggerCount,
                                           seed: SeedMixing.mix(configuration.keySeed, 0x7472_6967))  // "trig"
        return try OwnershipVerifier(key: key, triggers: triggers, alpha: configuration.alpha)
    }

    /// A cell's record as written.
    func savedRecord(_ cell: Cell) throws -> RunRecord {
        let file = path("runs", cell.id + ".json")
        guard let data = FileManager.default.contents(atPath: file) else { throw ExperimentError("\(file): no record") }
        do { return try JSONDecoder().decode(RunRecord.self, from: data) } catch {
            throw ExperimentError("\(file): not a run record (\(error)); delete it to run the cell again")
        }
    }

    func hasRecord(_ cell: Cell) -> Bool { FileManager.default.fileExists(atPath: path("runs", cell.id + ".json")) }

    /// Takes open cells in `claimOrder` until none is left: a cell is open when it has no record
    /// and no claim; a defended cell whose partner has no record stands for that partner. Waits
    /// while the only open work is held by live processes; cells held by stopped processes are
    /// left for the next run.
    func runClaiming(_ c: Context) throws {
        let claims = CellClaims(directory: path("runs"))
        let order = claimOrder
        let progress = GridProgress(total: order.count, doneAtStart: order.filter(hasRecord).count)
        while true {
            var waiting = false, ran = false
            for cell in order where !hasRecord(cell) {
                var candidate = cell
                if cell.defense != "none", configuration.defenses.contains("none") {
                    let partner = Cell(defense: "none", row: cell.row, seed: cell.seed)
                    if !hasRecord(partner) { candidate = partner }
                }
                guard try claims.claim(candidate.id) else {
                    if claims.isHeldByLiveProcess(candidate.id) { waiting = true }
                    continue
                }
                defer { claims.release(candidate.id) }
                if hasRecord(candidate) { ran = true; break }  // finished between the look and the claim
                log("\(progress.line(done: order.filter(hasRecord).count)) \(candidate.id)")
                _ = try record(for: candidate, c)
                ran = true
                break
            }
            if ran { continue }
            guard waiting else { return }
            Thread.sleep(forTimeInterval: claimPollSeconds)
        }
    }

    struct Context {
        let victim: TrainedModel, key: WatermarkKey, verifier: OwnershipVerifier
        let data: ExperimentData
        /// Each column's defense in front of the victim.
        let defenses: [String: Defense]
        /// The bare victim's test accuracy, and each column's API's (top-1 of its answers; for Neural
        /// Honeytrace a client below the heavy-client threshold).
        let victimAccuracy: Double, protectedAccuracy: [String: Double]
        /// The null pool's answers on the triggers (empty without a pool).
        let nullAnswers: [OwnershipVerifier.ReferenceAnswers]
        /// The heavy-client defense and its accuracy on the test set (nil: none).
        let heavy: (afterQueries: Int, defended: DefendedModel, accuracy: Double)?
        /// PROWN's watermark of the model each column serves (empty: not measured).
        let prown: [String: Watermark]

        /// The model a column's API answers with: a training-time baseline's own victim, else the victim.
        func servedModel(_ column: String) -> TrainedModel { (defenses[column] as? TrainedBaselineDefense)?.model ?? victim }
    }

    /// The training-time baselines among the columns.
    var baselineColumns: [BaselineKind] { configuration.defenses.compactMap(GridDefense.baselineKind(of:)) }

    /// Trains a training-time baseline's own victim once (`<out>/baselines/<kind>/`) from the
    /// victim's architecture and recipe on the owner's training split, its settings judged on the
    /// owner validation split; later calls load it.
    func prepareBaseline(_ kind: BaselineKind, victim: TrainedModel, data: ExperimentData) throws -> TrainedModel {
        let dir = path("baselines", kind.rawValue)
        if FileManager.default.fileExists(atPath: dir + "/model.json") { return try ModelDirectory.load(dir) }
        guard let validation = data.ownerValidation else {
            throw ExperimentError("the \(kind.rawValue) column trains on the owner's splits; it needs the held-out protocol")
        }
        guard let recipe = victim.manifest.recipe else {
            throw ExperimentError("\(victim.manifest.source): the victim records no training recipe, which the \(kind.rawValue) column trains with")
        }
        log("\(kind.rawValue): training its own \(recipe.architecture.rawValue) for \(recipe.epochs) epochs on \(data.train.count) images")
        let (model, record) = try BaselineTraining.train(
            BaselineSettings(kind: kind, victimEpochs: recipe.epochs), recipe: recipe, training: data.train, validation: validation,
            test: data.test, normalization: victim.manifest.normalization,
            victim: BaselineVictim(name: "victim", testAccuracy: try victim.evaluate(data.test).accuracy,
                                   validationAccuracy: try victim.evaluate(validation).accuracy))
        try BaselineTraining.save(model, record: record, to: dir)
        log(String(format: "%@: test accuracy %.2f%% (victim %.2f%%), watermark rate %.1f%%, %.0f s", kind.rawValue,
                   100 * record.testAccuracy, 100 * (record.victimTestAccuracy ?? 0), 100 * record.watermarkRate, record.trainSeconds))
        return model
    }

    /// PROWN's trigger set for `model` (served by the columns as `name`), made once from the owner
    /// validation split with its null statistics from the null pool (`<out>/prown/<name>.json`).
    func preparePrown(_ model: TrainedModel, servedAs name: String, data: ExperimentData) throws -> PrownTriggerSet {
        let file = path("prown", name + ".json")
        if FileManager.default.fileExists(atPath: file) {
            let set = try PrownTriggerSet.load(file)
            guard set.model.weightsSHA256 == model.manifest.weightsSHA256 else {
                throw ExperimentError("\(file) was made for other weights (\(set.model.weightsSHA256.prefix(16))…); delete it to make it again")
            }
            return set
        }
        guard let settings = configuration.prown, let owner = data.ownerValidation else {
            throw ExperimentError("PROWN needs its settings and the owner validation split")
        }
        var creator = PrownCreator(settings: settings)
        creator.log = { self.log("  prown \(name): \($0)") }
        var set = try creator.create(model: model, modelName: name, heldOut: owner)
        set.nullModels = try PrownVerification.nullStatistics(try loadNullPool(), on: set)
        try FileManager.default.createDirectory(atPath: path("prown"), withIntermediateDirectories: true)
        try set.save(to: file)
        return set
    }

    /// The heavy-client defense (`ExperimentConfiguration.HeavyClient`) and what a heavy client
    /// gets on the test set (nil: none).
    func prepareHeavyClient(victim: TrainedModel, key: WatermarkKey, honest: DefendedModel, data: ExperimentData) throws
        -> (afterQueries: Int, defended: DefendedModel, accuracy: Double)? {
        guard let h = configuration.heavyClient, let result = try heavyClientCalibration(victim: victim, key: key, data: data) else { return nil }
        let defended = try DefendedModel(model: victim, key: key, configuration: result.configuration, name: "Neural Honeytrace (heavy client)")
        // What a heavy client gets on the test set: through the same API the attacks query.
        let accuracy = try accuracy(of: DefendedClient(defended: honest, heavy: .init(afterQueries: 0, defended: defended, union: h.union ?? false)),
                                    on: data.test)
        log(String(format: "heavy clients (after %d queries): d = %.4f, test accuracy %.2f%%", h.afterQueries, result.chosen.offset, 100 * accuracy))
        return (h.afterQueries, defended, accuracy)
    }

    /// Calibrates the heavy-client defense on the owner's data, once (`heavy-calibration.json`
    /// keeps its settings), and stores its policy in the key; nil without a heavy-client defense.
    func heavyClientCalibration(victim: TrainedModel, key: WatermarkKey, data: ExperimentData) throws -> CalibrationResult? {
        guard let h = configuration.heavyClient else { return nil }
        let file = path("heavy-calibration.json")
        let result: CalibrationResult
        if let saved = FileManager.default.contents(atPath: file) {
            do { result = try JSONDecoder().decode(CalibrationResult.self, from: saved) } catch {
                throw ExperimentError("\(file): not a calibration (\(error)); delete it to calibrate again")
            }
        } else {
            result = try Calibration.calibrate(key: key, model: victim, inDistribution: data.ownerSide,
                                               outOfDistribution: try data.calibrationOutliers(seed: configuration.keySeed),
                                               configuration: h.defense,
                                               options: Calibration.Options(budgetPoints: h.accuracyBudgetPoints, confidence: configuration.calibrationConfidence))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(result), to: file)
        }
        // The key carries the policy too, so `serve` with this key answers as the grid measured.
        let policy = HeavyClientPolicy(afterQueries: h.afterQueries, defense: result.configuration, union: h.union ?? false)
        if key.heavyClient != policy {
            var withPolicy = key
            withPolicy.heavyClient = policy
            try withPolicy.save(to: path("key.htkey"))
        }
        return result
    }

    /// Top-1 accuracy of an API's answers on `data` (a fresh client of a defense).
    func accuracy(of api: PredictionAPI, on data: ImageDataset) throws -> Double {
        let labels = try api.labels(for: Tensor(data.pixels, shape: [data.count] + data.imageShape))
        return Double(zip(labels, data.labels).filter { $0 == $1 }.count) / Double(max(data.count, 1))
    }

    /// The protected accuracy of a column: what an honest client gets (for Neural Honeytrace one that
    /// never reaches the heavy-client threshold, whose accuracy is recorded apart).
    func accuracy(of defense: Defense, on data: ImageDataset) throws -> Double {
        let honest = try (defense as? NeuralHoneytrace)?.defended ?? defense.api(client: "accuracy", answerMode: .probabilities)
        return try accuracy(of: honest, on: data)
    }

    /// The null pool's models as label APIs (none without a pool).
    func loadNullPool() throws -> [PredictionAPI] {
        guard let reference = configuration.nullPool else { return [] }
        let models = try NullPool.existing(directory: reference.directory, count: reference.count).load()
        // Null models of the built-in data set cannot answer another data set's images.
        if let shape = configuration.ownerDataset.flatMap({ _ in dataShape }),
           let other = models.first(where: { $0.manifest.inputShape != shape }) {
            throw ExperimentError("\(reference.directory): its models take \(other.manifest.inputShape) images, the grid's data set \(shape); build a null pool on the same data (`honeytrace experiment null-pool --data \(configuration.ownerDataset!.path) --out DIR`)")
        }
        let trainedOn = try NullPool.dataRecord(directory: reference.directory).map { "\($0.path)'s train part" } ?? "Fashion-MNIST"
        log("null pool: \(models.count) models from \(reference.directory), trained on \(trainedOn)")
        return models.map { ModelAPI(model: $0, answerMode: .label, name: $0.manifest.recipe.map { "\($0.architecture.rawValue) seed \($0.seed)" } ?? "null") }
    }

    /// Asks every null-pool model once for its answers on the triggers, and writes `null-pool.json`:
    /// each member verified against the others (its false claim, if any) and the threshold of the
    /// specific WSR at false-claim rate α fitted to them.
    func nullPoolAnswers(_ verifier: OwnershipVerifier, models: [PredictionAPI]) throws -> [OwnershipVerifier.ReferenceAnswers] {
        guard !models.isEmpty else { return [] }
        let answers = try models.map { try verifier.answers(of: $0) }
        try NullPoolVerdicts.make(answers: answers, verifier: verifier).write(to: path("null-pool.json"))
        return answers
    }

    /// The record of a cell: read from disk if present, else run.
    func record(for cell: Cell, _ c: Context) throws -> RunRecord {
        if hasRecord(cell) { return try savedRecord(cell) }
        if let source = attackSource, cell.defense == "none" || !undefendedOnly, let reused = try reuseAttack(cell, from: source, c) {
            return reused
        }
        return try execute(cell, c)
    }

    func execute(_ cell: Cell, _ c: Context) throws -> RunRecord {
        let start = Clock.now()
        guard let defense = c.defenses[cell.defense] else { throw ExperimentError("\(cell.id): no defense '\(cell.defense)' in this grid") }
        let api = try defense.api(client: cell.id, answerMode: .probabilities)
        var surrogateRecipe = SurrogateRecipe()
        surrogateRecipe.epochs = configuration.surrogateEpochs
        surrogateRecipe.architecture = cell.row.surrogate
        var jbda = JBDASettings()
        jbda.seedSize = configuration.jbdaSeedSize
        var attack = AttackConfiguration(strategy: cell.row.strategy, variant: cell.row.variant, pool: configuration.pool(of: cell.row),
                                         budget: configuration.budget, surrogate: surrogateRecipe, seed: cell.seed, jbda: jbda)
        var shadowDefense: ShadowDefense?
        if cell.row.variant == .oracle {
            // The oracle's shadows learn from the thief's own labelled pool, the data its copy of the defense is keyed on.
            attack.dDAE.shadowData = attack.pool
            shadowDefense = try OracleShadow.make(column: cell.defense, configuration: configuration,
                                                  attackerData: try c.data.pools.require(attack.pool, for: "the oracle's copy of the defense"))
        }
        var lastPhase = ""
        let (surrogate, result) = try runAttack(attack, api: api, pools: c.data.pools, testSet: c.data.test, victim: c.servedModel(cell.defense),
                                                progress: { p in
            let phase = "\(p.phase)"
            if phase != lastPhase { self.log("  \(phase)"); lastPhase = phase }
            self.attackProgress?(cell.id, p)
        }, shadowDefense: shadowDefense)
        guard result.queriesSpent <= configuration.budget else {
            throw ExperimentError("\(cell.id): the boundary counted \(result.queriesSpent) queries, over the budget \(configuration.budget)")
        }
        surrogate.manifest.metrics["test_accuracy"] = result.extractedAccuracy
        try ModelDirectory.save(surrogate, to: path("surrogates", cell.id))
        var record = try verifiedRecord(cell, surrogate: surrogate, queriesSpent: result.queriesSpent,
                                        extractedAccuracy: result.extractedAccuracy, fidelity: result.fidelity ?? 0, c)
        if let own = defense as? ClientWatermarkDefense {
            record.evidence = [try own.evidence(client: cell.id, suspect: ModelAPI(model: surrogate, answerMode: .label, name: cell.id))]
                + (record.evidence ?? [])
        }
        record.seconds = Clock.now() - start
        record.machine = ComputeEnvironment.summary
        record.threads = Parallel.threadCount
        if let d = api as? DefendedClient {
            record.attackQueriesMixed = Double(d.rowsMixed) / Double(max(d.rowsAnswered, 1))
            record.attackQueriesFlipped = Double(d.rowsFlipped) / Double(max(d.rowsAnswered, 1))
            record.attackMeanSimilarity = d.meanSimilarity
        }
        return try save(record)
    }

    /// The record of a cell whose surrogate is trained: verification against the key's triggers
    /// (the undefended API's surrogate from the same attack is the reference of a defended cell;
    /// the victim itself, never trained on watermarked answers, that of an undefended one).
    func verifiedRecord(_ cell: Cell, surrogate: TrainedModel, queriesSpent: Int, extractedAccuracy: Double, fidelity: Double,
                        _ c: Context) throws -> RunRecord {
        var references: [PredictionAPI] = []
        if cell.defense != "none" {
            let partner = Cell(defense: "none", row: cell.row, seed: cell.seed)
            if configuration.defenses.contains("none") {
                if !FileManager.default.fileExists(atPath: path("surrogates", partner.id, "model.json")) { _ = try record(for: partner, c) }
                references.append(ModelAPI(model: try ModelDirectory.load(path("surrogates", partner.id)), answerMode: .label, name: partner.id))
            }
        }
        if references.isEmpty { references.append(ModelAPI(model: c.victim, answerMode: .label, name: "victim")) }
        let suspect = ModelAPI(model: surrogate, answerMode: .label, name: cell.id)
        // Exclusive WSR and Welch's p against the paper's reference; p-values and verdicts against
        // it and the null pool together. Each model is asked once.
        let referenceAnswers = try references.map { try c.verifier.answers(of: $0) }
        let suspectAnswers = try c.verifier.answers(of: suspect)
        let paperReport = try c.verifier.analyze(suspect: suspectAnswers, references: referenceAnswers)
        let report = c.nullAnswers.isEmpty ? paperReport : try c.verifier.analyze(suspect: suspectAnswers, references: referenceAnswers + c.nullAnswers)
        let sequential = try c.verifier.verifySequential(suspect: suspect, answered: referenceAnswers + c.nullAnswers)
        let predictions = surrogate.predictions(c.data.test)
        let cleanTargetRate = Double(predictions.filter { $0 == c.key.target }.count) / Double(max(predictions.count, 1))
        var record = RunRecord(
            id: cell.id, strategy: cell.row.strategy.rawValue, variant: cell.row.variant.rawValue, pool: configuration.pool(of: cell.row).rawValue,
            defense: cell.defense, seed: cell.seed, budget: configuration.budget, queriesSpent: queriesSpent,
            victimAccuracy: c.victimAccuracy, protectedAccuracy: c.protectedAccuracy[cell.defense] ?? c.victimAccuracy,
            extractedAccuracy: extractedAccuracy, fidelity: fidelity, wsrRaw: report.rawWSR,
            wsrExclusive: paperReport.exclusiveWSR ?? paperReport.rawWSR, wsrSpecific: report.specificWSR,
            controlTargetRate: report.controlRate, cleanTargetRate: cleanTargetRate,
            pValueWelch: paperReport.welchPValue ?? 1, pValueBinomial: report.binomialPValue, pValueMcNemar: report.mcnemarPValue,
            verdict: report.verdict.rawValue, verificationQueries: report.queriesSpent,
            surrogateSHA256: surrogate.manifest.weightsSHA256, seconds: 0)
        record.sequentialVerdict = sequential.verdict.rawValue
        record.sequentialQueries = sequential.queriesSpent
        record.victimArchitecture = c.victim.manifest.architecture.rawValue
        record.surrogateArchitecture = surrogate.manifest.architecture.rawValue
        record.victimSeed = c.victim.manifest.recipe?.seed
        record.keySeed = configuration.keySeed
        record.ownerData = configuration.ownerDataInEffect.rawValue
        record.heavyClientAccuracy = cell.defense == "honeytrace" ? c.heavy?.accuracy : nil
        record.nullModels = c.nullAnswers.count
        record.nullRate = report.nullRate
        // The column's own trigger-set watermark and PROWN's, each against its null statistics.
        var evidence: [WatermarkEvidence] = []
        if let own = (c.defenses[cell.defense] as? WatermarkedDefense)?.watermark { evidence.append(try own.evidence(suspect: suspect)) }
        if let prown = c.prown[cell.defense] { evidence.append(try prown.evidence(suspect: suspect)) }
        record.evidence = evidence.isEmpty ? nil : evidence
        if let baseline = c.defenses[cell.defense] as? TrainedBaselineDefense {
            record.defenseTrainingSeconds = baseline.record.trainSeconds
            record.watermarkRateBeforeTheft = baseline.record.watermarkRate
        }
        return record
    }

    func save(_ record: RunRecord) throws -> RunRecord {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(record), to: path("runs", record.id + ".json"))
        log(String(format: "  E-Acc %.1f%%  WSR %.1f%% (specific %.1f%%)  p %.2e  %@  %.0f s%@", 100 * record.extractedAccuracy,
                   100 * record.wsrExclusive, 100 * record.wsrSpecific, record.pValueBinomial, record.verdict, record.seconds,
                   record.reusedFrom.map { " (attack reused from \($0))" } ?? ""))
        return record
    }

    /// Takes a cell's attack (surrogate, queries, E-Acc, the defense's mixed/flipped shares, seconds)
    /// from an earlier experiment directory and verifies the surrogate with this run's verifier; nil
    /// when the source lacks the cell. Every random choice is seeded, so with the same victim weights
    /// and attack settings the attack would train the same surrogate. An undefended attack never
    /// touches the key, so any key's experiment serves; a defended cell also needs the same key
    /// (secret fingerprint), recipe and defense settings.
    ///
    /// - Throws: `ExperimentError` when the source ran another victim, other attack or defense
    ///   settings, or its surrogate is not the one its record names.
    func reuseAttack(_ cell: Cell, from source: String, _ c: Context) throws -> RunRecord? {
        let src = URL(fileURLWithPath: source)
        let recordPath = src.appendingPathComponent("runs/\(cell.id).json").path
        let surrogatePath = src.appendingPathComponent("surrogates/\(cell.id)").path
        guard let recordData = FileManager.default.contents(atPath: recordPath),
              FileManager.default.fileExists(atPath: surrogatePath + "/model.json") else { return nil }
        let manifestPath = src.appendingPathComponent("manifest.json").path
        guard let manifestData = FileManager.default.contents(atPath: manifestPath),
              let manifest = try? JSONDecoder().decode(ExperimentManifest.self, from: manifestData) else {
            throw ExperimentError("\(manifestPath): no experiment manifest; attacks are reused only from a finished experiment")
        }
        guard manifest.victimSHA256 == c.victim.manifest.weightsSHA256 else {
            throw ExperimentError("\(source) attacked another victim (weights SHA-256 \(manifest.victimSHA256.prefix(16))…); its runs do not apply")
        }
        var checks = manifest.configuration.reuseChecks(against: configuration,
                                                        sameKey: cell.defense == "none" ? nil : manifest.keyFingerprint == c.key.secretFingerprint)
        if let baseline = c.defenses[cell.defense] as? TrainedBaselineDefense {
            let sourceBaseline = src.appendingPathComponent("baselines/\(cell.defense)").path
            let same = (try? ModelDirectory.load(sourceBaseline).manifest.weightsSHA256) == baseline.model.manifest.weightsSHA256
            checks.append(("\(cell.defense) victim", same))
        }
        let differences = checks.filter { !$0.1 }.map(\.0)
        guard differences.isEmpty else {
            throw ExperimentError("\(source) ran \(cell.id) with other settings (\(differences.joined(separator: ", "))); its run does not apply")
        }
        let old: RunRecord
        do { old = try JSONDecoder().decode(RunRecord.self, from: recordData) } catch {
            throw ExperimentError("\(recordPath): not a run record (\(error))")
        }
        let surrogate = try ModelDirectory.load(surrogatePath)
        guard surrogate.manifest.weightsSHA256 == old.surrogateSHA256 else {
            throw ExperimentError("\(surrogatePath): weights SHA-256 \(surrogate.manifest.weightsSHA256.prefix(16))… differ from its record's \(old.surrogateSHA256.prefix(16))…")
        }
        try ModelDirectory.save(surrogate, to: path("surrogates", cell.id))
        var record = try verifiedRecord(cell, surrogate: surrogate, queriesSpent: old.queriesSpent, extractedAccuracy: old.extractedAccuracy,
                                        fidelity: old.fidelity, c)
        record.seconds = old.seconds
        record.machine = old.machine
        record.threads = old.threads
        record.attackQueriesMixed = old.attackQueriesMixed
        record.attackQueriesFlipped = old.attackQueriesFlipped
        record.attackMeanSimilarity = old.attackMeanSimilarity
        // A per-client watermark (DAWN) was made by the attack itself: its evidence is the source's.
        if c.defenses[cell.defense] is ClientWatermarkDefense {
            let own = (old.evidence ?? []).filter { $0.watermark == cell.defense } + (record.evidence ?? [])
            record.evidence = own.isEmpty ? nil : own
        }
        record.reusedFrom = source
        return try save(record)
    }

    func loadData() throws -> ExperimentData {
        var data: ExperimentData
        let sets = try configuration.checkedDataSets()
        switch configuration.ownerDataInEffect {
        case .testSet:
            let splits = try FashionMNIST.splits()
            data = ExperimentData(train: splits.victimTrain, ownerValidation: nil, test: splits.test, pools: AttackPools())
        case .heldOut:
            let splits = try FashionMNIST.heldOutSplits()
            data = ExperimentData(train: splits.ownerTraining, ownerValidation: splits.ownerValidation, test: splits.test, pools: AttackPools())
        case .described:
            guard let d = sets.owner else { throw ExperimentError("experiment '\(configuration.name)': \"ownerData\": \"described\" needs \"ownerDataset\"") }
            data = ExperimentData(train: try d.load(.train), ownerValidation: try d.load(.ownerValidation), test: try d.load(.test), pools: AttackPools())
            data.normalization = try d.normalization(train: data.train)
            data.classNames = d.classNames
        }
        if let limit = configuration.testLimit, limit < data.test.count {
            data.test = data.test.subset(0..<limit, name: "\(data.test.name)[0..<\(limit)]")
        }
        if let limit = configuration.victim.trainLimit, limit < data.train.count { data.train = data.train.subset(0..<limit) }
        var kinds = Set(configuration.attacks.map { configuration.pool(of: $0) })
        if configuration.ownerDataInEffect == .testSet { kinds.insert(.mnist5k) }  // that protocol's calibration set
        if configuration.attacks.contains(where: { $0.variant == .dDAE }) { kinds.insert(DDAERecovery.Settings().shadowData) }
        let described = kinds.remove(.described) != nil
        data.pools = try AttackPools.load(kinds, imageShape: data.train.imageShape)
        if described, let a = configuration.attackerDataset, let d = sets.attacker {
            data.pools[.described] = try a.images(of: d).withRole(.attackerPool)
        }
        dataShape = data.train.imageShape
        // A pool of another shape than the victim's input cannot be queried.
        for (kind, pool) in data.pools.datasets.sorted(by: { $0.key.rawValue < $1.key.rawValue }) where pool.imageShape != data.train.imageShape {
            throw ExperimentError("the \(kind.rawValue) pool (\(pool.name)) holds \(pool.imageShape) images, the victim's input is \(data.train.imageShape); "
                                  + (kind == .described ? "name an attackerDataset of the owner's shape" : "use the \"described\" pool with an attackerDataset"))
        }
        return data
    }

    func prepareVictim(_ data: ExperimentData) throws -> TrainedModel {
        let train = data.train, test = data.test
        let dir = configuration.victim.directory ?? path("victim")
        if FileManager.default.fileExists(atPath: dir + "/model.json") {
            log("victim: \(dir)")
            let victim = try ModelDirectory.load(dir)
            if configuration.hasOwnerValidation, let trained = victim.manifest.data {
                // The owner's validation images must be unseen: the victim trained on this grid's training split.
                guard trained.sha256 == DataFingerprint(train).sha256 else {
                    throw ExperimentError("\(dir) trained on \(trained.name) (\(trained.count) images), not on this grid's \(train.name) (\(train.count)); under the held-out protocol the victim must not have seen the owner validation split")
                }
            }
            return victim
        }
        if configuration.victim.directory != nil { throw ExperimentError("\(dir): no model directory there") }
        let v = configuration.victim
        var recipe = TrainingRecipe.fashionMNISTDefault(v.architecture, seed: v.seed)
        if let e = v.epochs { recipe.epochs = e; recipe.schedule = .cosine(epochs: e, minimum: 0) }
        if v.outlierExposure > 0 { recipe.outlierExposure = OutlierExposure(weight: v.outlierExposure) }
        log("victim: training \(v.architecture.rawValue) for \(recipe.epochs) epochs on \(train.count) images")
        let model = try FashionMNISTTraining.train(v.architecture, recipe: recipe, on: train, test: test, source: "trained",
                                                   normalization: data.normalization, classNames: data.classNames, onEpoch: { e in
            self.log(String(format: "  epoch %d loss %.4f train accuracy %.2f%%", e.epoch, e.loss, 100 * e.trainAccuracy))
        })
        try ModelDirectory.save(model, to: dir)
        return model
    }

    func prepareKey(victim: TrainedModel, data: ExperimentData) throws -> WatermarkKey {
        let keyPath = path("key.htkey")
        if FileManager.default.fileExists(atPath: keyPath) {
            let key = try WatermarkKey.load(keyPath)
            try key.check(model: victim)
            return key
        }
        let owner = data.ownerSide
        var outlierName: String?
        let (key, result) = try configuration.makeKey(model: victim, data: owner, outliers: {
            let ood = try data.calibrationOutliers(seed: configuration.keySeed)
            outlierName = ood?.name
            return ood
        }, seed: configuration.keySeed)
        guard let calibration = result else {
            log(String(format: "key: built from \(owner.name); d held at %.4f (not calibrated)", key.defense.offset))
            try key.save(to: keyPath)
            return key
        }
        log("key: built from \(owner.name); calibrated on it and \(outlierName ?? "no out-of-distribution set")")
        log(String(format: "key: d = %.4f, defended accuracy %.2f%% (bare %.2f%%)", calibration.chosen.offset,
                   100 * calibration.chosen.defendedAccuracy, 100 * calibration.bareAccuracy))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(calibration), to: path("calibration.json"))
        try key.save(to: keyPath)
        return key
    }

    /// Refuses to mix runs of different configurations in one directory.
    func checkManifest() throws {
        guard let data = FileManager.default.contents(atPath: path("manifest.json")) else { return }
        guard let manifest = try? JSONDecoder().decode(ExperimentManifest.self, from: data) else {
            throw ExperimentError("\(path("manifest.json")): not an experiment manifest")
        }
        guard manifest.configuration == configuration else {
            throw ExperimentError("\(directory.path) holds runs of another configuration ('\(manifest.configuration.name)'); use a new --out directory")
        }
    }

    func writeManifest(victim: TrainedModel, key: WatermarkKey) throws {
        var runs: [String: ExperimentManifest.Run] = [:]
        for cell in cells {
            if let data = FileManager.default.contents(atPath: path("runs", cell.id + ".json")),
               let r = try? JSONDecoder().decode(RunRecord.self, from: data) {
                runs[cell.id] = .init(queriesSpent: r.queriesSpent, surrogateSHA256: r.surrogateSHA256, seed: r.seed)
            }
        }
        if dataSetRecords == nil {
            dataSetRecords = try [("owner", configuration.ownerDataset), ("attacker", configuration.attackerDataset)].compactMap { role, reference in
                try reference.map { try DataSetRecord.make(role: role, $0) }
            }
        }
        let manifest = ExperimentManifest(configuration: configuration, victimSHA256: victim.manifest.weightsSHA256,
                                          keyFingerprint: key.secretFingerprint, codeVersion: ExperimentManifest.codeVersion(),
                                          machine: ComputeEnvironment.summary, datasets: dataSetRecords?.isEmpty == false ? dataSetRecords : nil, runs: runs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(manifest), to: path("manifest.json"))
    }
}

/// The data of one grid, by role.
struct ExperimentData {
    /// The victim's training images.
    var train: ImageDataset
    /// The owner validation split (held-out protocol only).
    var ownerValidation: ImageDataset?
    /// Reported figures (and, in the test-set protocol, the owner's data too).
    var test: ImageDataset
    var pools: AttackPools
    /// The models' input normalisation and class names: Fashion-MNIST's, or the description's.
    var normalization: Normalization = .fashionMNIST
    var classNames: [String]? = FashionMNIST.classNames

    /// What the owner builds its key and calibration from.
    var ownerSide: ImageDataset { ownerValidation ?? test }

    /// The calibration's out-of-distribution set: outliers generated from the owner validation
    /// split under the held-out protocol; MNIST-5k in the test-set protocol (as published then).
    func calibrationOutliers(seed: UInt64) throws -> ImageDataset? {
        if let ownerValidation { return try GeneratedOutliers.make(from: ownerValidation, count: 5_000, seed: seed) }
        // The test-set protocol calibrated on the weak thief's own pool; kept only to reproduce those grids.
        return pools[.mnist5k]?.withRole(nil)
    }
}
