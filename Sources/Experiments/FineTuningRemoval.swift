import Datasets
import Extraction
import Foundation
import Formats
import Honeytrace
import NeuralNet
import Prediction
import TensorEngine
import Training

/// Removal by fine-tuning: a thief who holds labelled images like the owner's (the strong thief's
/// pool, Fashion-MNIST train[50000..<60000], with its true labels) fine-tunes its copy on them to wash
/// the watermark out. After each epoch the copy's test accuracy and the key's evidence on it (specific
/// WSR and the verdict against the null pool) are measured, so the table shows what the thief pays in
/// accuracy for what it removes.
public enum FineTuningRemoval {
    public struct Settings: Codable, Sendable, Equatable {
        public var epochs: Int
        /// Labelled images the thief fine-tunes on (the first N of its pool).
        public var images: Int
        /// Constant learning rate of SGD with momentum 0.9 (the surrogate recipe's other settings).
        public var learningRate: Float
        public var seed: UInt64

        public init(epochs: Int = 5, images: Int = 5_000, learningRate: Float = 0.01, seed: UInt64 = 0) {
            self.epochs = epochs; self.images = images; self.learningRate = learningRate; self.seed = seed
        }

        public func validate() throws {
            guard (1...1_000).contains(epochs) else { throw ExperimentError("fine-tuning epochs must lie in 1…1000, found \(epochs)") }
            guard images >= 1 else { throw ExperimentError("fine-tuning needs at least one image, found \(images)") }
            guard learningRate > 0, learningRate.isFinite, learningRate < 10 else {
                throw ExperimentError("the fine-tuning learning rate must lie in (0, 10), found \(learningRate)")
            }
        }
    }

    /// The copy after `epoch` epochs of fine-tuning (0: as stolen).
    public struct Step: Codable, Sendable, Equatable {
        public var epoch: Int
        public var accuracy: Double
        public var wsrSpecific: Double
        public var wsrRaw: Double
        public var controlTargetRate: Double
        public var pValueBinomial: Double
        public var verdict: String
    }

    /// One copy's course.
    public typealias Course = RemovalCourse<Step>

    /// Everything `experiment removal` writes to `<grid>/removal/fine-tuning.json`.
    public struct Report: Codable, Sendable, Equatable {
        public var settings: Settings
        public var data: String
        public var nullModels: Int
        public var courses: [Course]
    }

    /// Fine-tunes `copy` in place on `data` for `settings.epochs` epochs, measuring before and after
    /// each with `measure`.
    static func run(_ copy: TrainedModel, on data: ImageDataset, settings: Settings, measure: (Int) throws -> Step) throws -> [Step] {
        try settings.validate()
        var steps = [try measure(0)]
        for epoch in 1...settings.epochs {
            var recipe = SurrogateRecipe().trainingRecipe(architecture: copy.manifest.architecture, epochs: 1,
                                                         seed: SeedMixing.mix(settings.seed, UInt64(epoch)))
            recipe.learningRate = settings.learningRate
            recipe.schedule = .constant
            recipe.warmupEpochs = 0
            try Trainer(recipe: recipe).fit(copy.classifier, on: data, normalization: copy.manifest.normalization)
            steps.append(try measure(epoch))
        }
        return steps
    }

    /// The report as Markdown: per copy, accuracy and specific WSR after each epoch, and the verdict.
    public static func markdown(_ report: Report) -> String {
        let s = report.settings
        var out = "# Removal by fine-tuning\n\n"
        out += "Each copy fine-tuned for \(s.epochs) epochs on \(report.data) (true labels) at a constant learning rate of "
        out += "\(s.learningRate) (SGD, momentum 0.9, seed \(s.seed)); after each epoch its test accuracy, the key's specific WSR and "
        out += "the verdict against \(report.nullModels) null models. Cells: accuracy / specific WSR (S: stolen).\n\n"
        out += "| copy | defense |" + (0...s.epochs).map { " epoch \($0) |" }.joined() + "\n|---|---|"
        out += String(repeating: "---|", count: s.epochs + 1) + "\n"
        for c in report.courses {
            out += "| \(c.attack) | \(c.defense) |" + c.steps.map {
                String(format: " %.1f %% / %.1f%@ |", 100 * $0.accuracy, 100 * $0.wsrSpecific, $0.verdict == "stolen" ? " S" : "")
            }.joined() + "\n"
        }
        return out
    }

    /// One line per copy and epoch.
    public static func csv(_ report: Report) -> String {
        var lines = ["cell,defense,attack,epoch,accuracy,specific_wsr,raw_wsr,control_target_rate,p_binomial,verdict"]
        for c in report.courses {
            for st in c.steps {
                lines.append([c.cell, c.defense, c.attack, String(st.epoch), num(st.accuracy), num(st.wsrSpecific), num(st.wsrRaw),
                              num(st.controlTargetRate), sci(st.pValueBinomial), st.verdict].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// One copy's measurements under a removal attack, step by step.
public struct RemovalCourse<Step: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var cell: String
    public var defense: String
    public var attack: String
    public var steps: [Step]
}

/// What every removal run measures with: the grid's data, the key's verifier, the null pool's
/// answers (or the victim's without a pool) and the stolen copies.
struct RemovalSetting {
    let data: ExperimentData
    let verifier: OwnershipVerifier
    let references: [OwnershipVerifier.ReferenceAnswers]
    let nullModels: Int
    let copies: [ExperimentRunner.Cell]

    /// A copy's test accuracy and the key's evidence on it, against the null pool.
    func measure(_ copy: TrainedModel, cell: ExperimentRunner.Cell) throws -> (accuracy: Double, report: VerificationReport) {
        let answers = try verifier.answers(of: ModelAPI(model: copy, answerMode: .label, name: cell.id))
        return (try copy.evaluate(data.test).accuracy, try verifier.analyze(suspect: answers, references: references))
    }
}

extension ExperimentRunner {
    /// The setting of `experiment removal`: fails when the grid has no stolen copy yet.
    func removalSetting() throws -> RemovalSetting {
        try checkManifest()
        let data = try loadData()
        let victim = try prepareVictim(data)
        let key = try prepareKey(victim: victim, data: data)
        let verifier = try makeVerifier(key: key, data: data)
        let nullAnswers = try loadNullPool().map { try verifier.answers(of: $0) }
        let references = nullAnswers.isEmpty ? [try verifier.answers(of: ModelAPI(model: victim, answerMode: .label, name: "victim"))] : nullAnswers
        let done = cells.filter { hasRecord($0) && FileManager.default.fileExists(atPath: path("surrogates", $0.id, "model.json")) }
        guard !done.isEmpty else { throw ExperimentError("\(directory.path) holds no stolen copies yet; run the grid first") }
        return RemovalSetting(data: data, verifier: verifier, references: references, nullModels: nullAnswers.count, copies: done)
    }

    /// Writes a removal report as `removal/<name>.{json,csv,md}`.
    func writeRemoval<R: Encodable>(_ report: R, name: String, csv: String, markdown: String, svg: String? = nil) throws {
        let out = directory.appendingPathComponent("removal")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(report), to: out.appendingPathComponent("\(name).json").path)
        try AtomicFile.write(Data(csv.utf8), to: out.appendingPathComponent("\(name).csv").path)
        try AtomicFile.write(Data(markdown.utf8), to: out.appendingPathComponent("\(name).md").path)
        if let svg { try AtomicFile.write(Data(svg.utf8), to: out.appendingPathComponent("\(name).svg").path) }
    }

    /// Fine-tunes every copy this grid has stolen (the cells with a record and a surrogate) on the
    /// strong thief's labelled pool and writes `removal/fine-tuning.{json,csv,md}`; the surrogates on
    /// disk stay as they are.
    @discardableResult
    public func fineTuningRemoval(_ settings: FineTuningRemoval.Settings) throws -> FineTuningRemoval.Report {
        try settings.validate()
        let setting = try removalSetting()
        // The strong thief's labelled images: Fashion-MNIST's attacker split, or on an owner's
        // described data set the thief's described pool (the built-in split has another shape).
        let pool: ImageDataset
        if configuration.ownerDataInEffect == .described {
            guard let described = setting.data.pools[.described] else {
                throw ExperimentError("fine-tuning removal on a grid over a described data set uses the thief's \"described\" pool (attackerDataset); this grid has none")
            }
            pool = described
        } else {
            pool = try FashionMNIST.attackerPool()
        }
        let labelled = pool.subset(0..<min(settings.images, pool.count), name: "\(pool.name)[0..<\(min(settings.images, pool.count))]")
        var courses: [FineTuningRemoval.Course] = []
        for (i, cell) in setting.copies.enumerated() {
            log("[\(i + 1)/\(setting.copies.count)] fine-tuning \(cell.id)")
            let copy = try ModelDirectory.load(path("surrogates", cell.id))
            let steps = try FineTuningRemoval.run(copy, on: labelled, settings: settings) { epoch in
                let (accuracy, report) = try setting.measure(copy, cell: cell)
                let step = FineTuningRemoval.Step(epoch: epoch, accuracy: accuracy, wsrSpecific: report.specificWSR,
                                                  wsrRaw: report.rawWSR, controlTargetRate: report.controlRate,
                                                  pValueBinomial: report.binomialPValue, verdict: report.verdict.rawValue)
                log(String(format: "  epoch %d: accuracy %.1f%%, specific WSR %.1f, %@", epoch, 100 * step.accuracy, 100 * step.wsrSpecific, step.verdict))
                return step
            }
            let label = ResultTable.label(try savedRecord(cell), poolsDiffer: true)
            courses.append(.init(cell: cell.id, defense: cell.defense, attack: label, steps: steps))
        }
        let report = FineTuningRemoval.Report(settings: settings, data: labelled.name, nullModels: setting.nullModels, courses: courses)
        try writeRemoval(report, name: "fine-tuning", csv: FineTuningRemoval.csv(report), markdown: FineTuningRemoval.markdown(report))
        return report
    }
}
