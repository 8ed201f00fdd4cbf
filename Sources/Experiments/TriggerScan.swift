import Datasets
import Extraction
import Foundation
import Formats
import Honeytrace
import Stats
import TensorEngine
import Training

/// Detection by trigger inversion (Neural Cleanse; the paper's Fig. 8): every copy of a finished grid,
/// defended and undefended, is scanned class by class for its smallest trigger (`TriggerInversion`) on
/// clean images from its own thief's pool, and the classes' mask norms give each class an anomaly index
/// (`AnomalyIndex`). The question is whether the scan singles out the defense's target class t in the
/// copies of the defended API, and not in the copies of the undefended one.
public enum TriggerScan {
    public struct Settings: Codable, Sendable, Equatable {
        public var inversion: TriggerInversion
        /// Clean images per copy: a seeded sample (the inversion's seed) of the pool its thief queried with.
        public var images: Int

        public init(inversion: TriggerInversion = TriggerInversion(), images: Int = 1_000) {
            self.inversion = inversion; self.images = images
        }

        public func validate() throws {
            try inversion.validate()
            guard images >= 1 else { throw ExperimentError("the scan needs at least one clean image per copy, found \(images)") }
        }
    }

    /// One copy's scan.
    public struct Copy: Codable, Sendable, Equatable {
        public var cell: String
        public var defense: String
        public var attack: String
        /// The clean images the scan used.
        public var data: String
        public var classes: [TriggerInversion.ClassTrigger]
        public var anomalyIndices: [Double]
        /// The classes whose index exceeds 2.
        public var flagged: [Int]
        /// Wall time of the scan of this copy.
        public var seconds: Double

        /// The defense's target class's anomaly index.
        public func targetIndex(_ target: Int) -> Double { anomalyIndices[target] }
    }

    /// Everything `experiment scan` writes to `scan.json`.
    public struct Report: Codable, Sendable, Equatable {
        public var settings: Settings
        /// The defense's target class t (the grid's watermark recipe).
        public var target: Int
        public var machine: String
        public var threads: Int
        public var copies: [Copy]
    }

    /// A scanned copy as saved on its own (`copies/<cell>.json`), so an interrupted scan resumes.
    struct SavedCopy: Codable {
        var settings: Settings
        var copy: Copy
    }

    /// The copies of `defense` whose scan flags `target`, and how many there are.
    public static func targetFlagged(_ report: Report, defense: String) -> (flagged: Int, of: Int) {
        let copies = report.copies.filter { $0.defense == defense }
        return (copies.filter { $0.flagged.contains(report.target) }.count, copies.count)
    }

    /// Per column: copies whose scan flags t, copies with any class flagged, mean and max wall time;
    /// then per copy the target's index and L1 beside the classes' median.
    public static func markdown(_ report: Report) -> String {
        let s = report.settings, inv = s.inversion
        var out = "# Detection by trigger inversion (Neural Cleanse)\n\n"
        out += "Each copy scanned class by class for its smallest trigger on \(s.images) clean images of its own thief's pool "
        out += "(\(inv.epochs) epochs × \(inv.epochSteps) steps of \(inv.batchSize) images, Adam at \(f(Double(inv.learningRate))), "
        out += "λ from \(f(Double(inv.initialLambda))) on Neural Cleanse's schedule (×\(f(Double(inv.lambdaUp))) / ÷\(f(Double(inv.lambdaDown))) "
        out += "after \(inv.patience) epochs at / below \(f(100 * inv.successThreshold)) % success), seed \(inv.seed); "
        out += "anomaly index (median − L1_c) / (1.4826 · MAD) over the classes, flagged above 2. Target class t = \(report.target). "
        out += "\(report.machine), \(report.threads) thread(s).\n\n"
        out += "| defense | copies | t flagged | any class flagged | mean t index | mean / max seconds per copy |\n|---|---|---|---|---|---|\n"
        for d in defenses(report) {
            let copies = report.copies.filter { $0.defense == d }
            let (hit, n) = targetFlagged(report, defense: d)
            let seconds = copies.map(\.seconds)
            out += "| \(d) | \(n) | \(hit) of \(n) | \(copies.filter { !$0.flagged.isEmpty }.count) of \(n) | "
            out += "\(f(mean(copies.map { $0.targetIndex(report.target) }))) | \(f(mean(seconds))) / \(f(seconds.max() ?? 0)) |\n"
        }
        out += "\n| copy | defense | t index | t mask L1 | median L1 | flagged classes | seconds |\n|---|---|---|---|---|---|---|\n"
        for c in report.copies {
            let median = (try? AnomalyIndex.median(c.classes.map(\.maskL1))) ?? .nan
            let t = c.classes[report.target]
            out += "| \(c.attack) | \(c.defense) | \(f(c.targetIndex(report.target))) | \(f(t.maskL1))\(t.reachedThreshold ? "" : " *") | "
            out += "\(f(median)) | \(c.flagged.isEmpty ? "—" : c.flagged.map(String.init).joined(separator: ", ")) | \(f(c.seconds)) |\n"
        }
        if report.copies.contains(where: { $0.classes.contains { !$0.reachedThreshold } }) {
            out += "\n*: no mask reached the success threshold for this class; its L1 is the last mask's.\n"
        }
        return out
    }

    /// One line per copy and class.
    public static func csv(_ report: Report) -> String {
        var lines = ["cell,defense,attack,class,is_target,mask_l1,attack_success,reached_threshold,final_lambda,anomaly_index,flagged,seconds"]
        for c in report.copies {
            for k in c.classes {
                lines.append([c.cell, c.defense, c.attack, String(k.target), k.target == report.target ? "1" : "0", num(k.maskL1),
                              num(k.attackSuccess), k.reachedThreshold ? "1" : "0", sci(k.finalLambda), num(c.anomalyIndices[k.target]),
                              c.flagged.contains(k.target) ? "1" : "0", num(c.seconds)].joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The columns in the grid's order, "none" first.
    static func defenses(_ report: Report) -> [String] {
        var seen: [String] = []
        for c in report.copies where !seen.contains(c.defense) { seen.append(c.defense) }
        return seen.sorted { ($0 == "none" ? 0 : 1) < ($1 == "none" ? 0 : 1) }
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
    static func f(_ v: Double) -> String { v.isInfinite ? (v > 0 ? "∞" : "−∞") : String(format: "%.3g", v) }
}

extension ExperimentRunner {
    /// Scans every copy this grid has stolen (the cells with a record and a surrogate) and writes
    /// `scan.{json,csv,md,svg}` into `out` (default `<grid>/scan`), each copy's scan also on its own
    /// under `out/copies/` as it finishes, so that a run started again skips the copies scanned with the
    /// same settings. `progress` hears (classes scanned, classes to scan).
    @discardableResult
    public func triggerScan(_ settings: TriggerScan.Settings, out: String? = nil, threads: Int = 1,
                            progress: ((Int, Int) -> Void)? = nil) throws -> TriggerScan.Report {
        try settings.validate()
        try checkManifest()
        let data = try loadData()
        let copies = cells.filter { hasRecord($0) && FileManager.default.fileExists(atPath: path("surrogates", $0.id, "model.json")) }
        guard !copies.isEmpty else { throw ExperimentError("\(directory.path) holds no stolen copies yet; run the grid first") }
        let target = (configuration.recipe ?? .composite()).target
        let outDirectory = URL(fileURLWithPath: out ?? path("scan"))
        let saved = outDirectory.appendingPathComponent("copies")
        try FileManager.default.createDirectory(at: saved, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]

        var samples: [PoolKind: ImageDataset] = [:]
        var scanned: [TriggerScan.Copy] = []
        var classesDone = 0, classesTotal = 0
        var models: [(ExperimentRunner.Cell, TrainedModel)] = []
        for cell in copies {
            let model = try ModelDirectory.load(path("surrogates", cell.id))
            classesTotal += model.classes
            models.append((cell, model))
        }
        for (i, (cell, model)) in models.enumerated() {
            let file = saved.appendingPathComponent("\(cell.id).json").path
            if let bytes = FileManager.default.contents(atPath: file), let old = try? JSONDecoder().decode(TriggerScan.SavedCopy.self, from: bytes),
               old.settings == settings {
                log("[\(i + 1)/\(models.count)] \(cell.id): scanned before (\(file))")
                scanned.append(old.copy)
                classesDone += model.classes
                progress?(classesDone, classesTotal)
                continue
            }
            let kind = configuration.pool(of: cell.row)
            guard let pool = data.pools[kind] else { throw ExperimentError("\(cell.id): the grid's \(kind.rawValue) pool did not load") }
            guard pool.imageShape == model.inputShape else {
                throw ExperimentError("\(cell.id): the \(kind.rawValue) pool holds \(pool.imageShape) images, the copy takes \(model.inputShape)")
            }
            let images = samples[kind] ?? cleanSample(pool, count: settings.images, seed: settings.inversion.seed)
            samples[kind] = images
            log("[\(i + 1)/\(models.count)] scanning \(cell.id) on \(images.name)")
            let start = Clock.now()
            let base = classesDone
            let triggers = try settings.inversion.scan(model.classifier, normalization: model.manifest.normalization, images: images) { done in
                progress?(base + done, classesTotal)
            }
            classesDone += model.classes
            let classes = triggers.map(\.summary)
            let indices = try AnomalyIndex.indices(classes.map(\.maskL1))
            let label = ResultTable.label(try savedRecord(cell), poolsDiffer: true)
            let copy = TriggerScan.Copy(cell: cell.id, defense: cell.defense, attack: label, data: images.name, classes: classes,
                                        anomalyIndices: indices, flagged: AnomalyIndex.flagged(indices), seconds: Clock.now() - start)
            log(String(format: "  t = %d: index %.2f (mask L1 %.1f); flagged %@; %.0f s", target, indices[target], classes[target].maskL1,
                       copy.flagged.isEmpty ? "none" : copy.flagged.map(String.init).joined(separator: ","), copy.seconds))
            try AtomicFile.write(try encoder.encode(TriggerScan.SavedCopy(settings: settings, copy: copy)), to: file)
            scanned.append(copy)
        }
        let report = TriggerScan.Report(settings: settings, target: target, machine: ComputeEnvironment.summary, threads: threads, copies: scanned)
        try AtomicFile.write(try encoder.encode(report), to: outDirectory.appendingPathComponent("scan.json").path)
        try AtomicFile.write(Data(TriggerScan.csv(report).utf8), to: outDirectory.appendingPathComponent("scan.csv").path)
        try AtomicFile.write(Data(TriggerScan.markdown(report).utf8), to: outDirectory.appendingPathComponent("scan.md").path)
        try AtomicFile.write(Data(ScanPlot.svg(report, title: "Trigger inversion on the copies of \(configuration.name)").utf8),
                             to: outDirectory.appendingPathComponent("scan.svg").path)
        return report
    }

    /// `count` images of `pool` in a seeded random order (all of them when it holds fewer): a mixed
    /// pool is stored one source after the other.
    func cleanSample(_ pool: ImageDataset, count: Int, seed: UInt64) -> ImageDataset {
        var generator = SeededGenerator(seed: SeedMixing.mix(seed, 0x5CA9))
        var order = Array(0..<pool.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, generator.nextInt(below: i + 1)) }
        let n = min(count, pool.count)
        return pool.subset(indices: Array(order.prefix(n)), name: "\(pool.name) (\(n) random, seed \(seed))")
    }
}
