import Datasets
import Diffusion
import Extraction
import Formats
import Foundation
import Honeytrace
import NeuralNet
import TensorEngine

/// Neural Honeytrace for a generative model (the paper's appendix A.1; docs/algorithms.md §12): the
/// owner trains a DDPM noise predictor, serves it behind the defense, two thieves ask it (defended
/// and undefended) the same questions and train their own U-Nets on the answers, and the owner's
/// triggered/control pairs test every model for the watermark. Also measured: what the defense
/// costs honest users (the answers' error to the true noise on clean queries) and samples of the
/// victim and the copies.
public enum DDPMExperiment {
    public struct Settings: Codable, Sendable, Equatable {
        /// Base seed: the victim's initialisation and batches, the thieves' queries and initialisation,
        /// the verification noise, the cost queries and the samples each derive their own from it.
        public var seed: UInt64
        /// Seed of the watermark W.
        public var keySeed: UInt64
        /// Diffusion steps T.
        public var diffusionSteps: Int
        /// β at the last step (β rises linearly from 1e-4).
        public var betaLast: Double
        public var width: Int
        public var victimSteps: Int
        public var thiefWidth: Int
        public var thiefQueries: Int
        public var thiefSteps: Int
        public var batchSize: Int
        public var learningRate: Float
        /// Mixing strength α of the defense; 0.5 by default, half W inside M for a plain trigger at a quarter
        /// of the added error of α = 1 (docs/algorithms.md §12.2).
        public var alpha: Double
        /// Prior share π of triggered queries in s.
        public var prior: Double
        public var verificationImages: Int
        public var verificationTimesteps: [Int]
        public var nullKeys: Int
        /// Clean held-out queries on which the answers' error to the true noise is measured.
        public var costQueries: Int
        /// Images sampled from each model for the grid.
        public var samples: Int

        public init(seed: UInt64 = 2, keySeed: UInt64 = 2, diffusionSteps: Int = 1_000, betaLast: Double = 0.02, width: Int = 16, victimSteps: Int = 3_000,
                    thiefWidth: Int = 16, thiefQueries: Int = 20_000, thiefSteps: Int = 3_000, batchSize: Int = 64,
                    learningRate: Float = 1e-3, alpha: Double = 0.5, prior: Double = 0.5, verificationImages: Int = 100,
                    verificationTimesteps: [Int] = [200, 400, 600, 800], nullKeys: Int = 999, costQueries: Int = 1_000, samples: Int = 16) {
            self.seed = seed; self.keySeed = keySeed; self.diffusionSteps = diffusionSteps; self.betaLast = betaLast; self.width = width
            self.victimSteps = victimSteps; self.thiefWidth = thiefWidth; self.thiefQueries = thiefQueries; self.thiefSteps = thiefSteps
            self.batchSize = batchSize; self.learningRate = learningRate; self.alpha = alpha; self.prior = prior
            self.verificationImages = verificationImages; self.verificationTimesteps = verificationTimesteps; self.nullKeys = nullKeys
            self.costQueries = costQueries; self.samples = samples
        }

        public func validate() throws {
            guard width >= 1, thiefWidth >= 1 else { throw ExperimentError("U-Net widths must be ≥ 1, found \(width) and \(thiefWidth)") }
            guard victimSteps >= 1, thiefSteps >= 1 else { throw ExperimentError("training needs ≥ 1 step, found victim \(victimSteps), thief \(thiefSteps)") }
            guard thiefQueries >= 1 else { throw ExperimentError("the thieves need ≥ 1 query, found \(thiefQueries)") }
            guard (0...1).contains(alpha) else { throw ExperimentError("α must lie in [0, 1], found \(alpha)") }
            guard prior > 0, prior < 1 else { throw ExperimentError("the prior π must lie in (0, 1), found \(prior)") }
            guard costQueries >= 1, samples >= 0, nullKeys >= 1 else {
                throw ExperimentError("cost queries and null keys must be ≥ 1 and samples ≥ 0, found \(costQueries), \(nullKeys), \(samples)")
            }
        }
    }

    /// The three data roles: the owner's training images, the thief's images (disjoint from the
    /// owner's) and the owner's held-out images (verification pairs, cost queries).
    public struct Images: Sendable {
        public var victim: DiffusionImages
        public var thief: DiffusionImages
        public var heldOut: DiffusionImages
        public init(victim: DiffusionImages, thief: DiffusionImages, heldOut: DiffusionImages) {
            self.victim = victim; self.thief = thief; self.heldOut = heldOut
        }

        /// Fashion-MNIST: the owner trains on train[0..<50000], the thief holds train[50000..<60000],
        /// the owner's held-out images are the test set.
        public static func fashionMNIST() throws -> Images {
            let (victim, thief, test) = try FashionMNIST.splits()
            return Images(victim: DiffusionImages(victim), thief: DiffusionImages(thief), heldOut: DiffusionImages(test))
        }
    }

    /// One thief's figures.
    public struct Thief: Codable, Sendable, Equatable {
        public var api: String
        public var queries: Int
        public var losses: [Float]
        /// Time of querying and training; nil when the copy was loaded from an earlier run.
        public var seconds: Double?
    }

    /// Everything `experiment ddpm` writes to `ddpm.json`.
    public struct Report: Codable, Sendable, Equatable {
        public var settings: Settings
        public var data: [String: String]
        public var machine: String
        public var parameters: [String: Int]
        public var victimLosses: [Float]
        public var victimSeconds: Double?
        public var thieves: [Thief]
        /// Mean s and share of s > 0.1 over the thieves' queries.
        public var thiefQueryMeanS: Double
        public var thiefQueryShareAbove01: Double
        /// Mean s over the clean cost queries.
        public var costQueryMeanS: Double
        /// Mean squared error to the true noise on the clean cost queries, per model or API.
        public var cleanMSE: [String: Double]
        public var verification: [NoiseWatermarkVerification.Report]
    }

    static let victimFile = "victim.safetensors"

    /// Runs (or resumes: saved U-Nets made with the same settings are loaded, not trained) the
    /// experiment into `directory` and writes `ddpm.json`, `ddpm.md`, `similarity.svg` and `samples.png`.
    @discardableResult
    public static func run(_ s: Settings, data: Images, directory: String, log: (String) -> Void = { _ in }) throws -> Report {
        try s.validate()
        let dir = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let schedule: NoiseSchedule
        do { schedule = try NoiseSchedule(steps: s.diffusionSteps, betaLast: s.betaLast) } catch { throw ExperimentError("\(error)") }
        guard s.verificationTimesteps.allSatisfy({ (0..<s.diffusionSteps).contains($0) }) else {
            throw ExperimentError("verification steps \(s.verificationTimesteps) must lie in 0..<\(s.diffusionSteps)")
        }
        let training = { (steps: Int, seed: UInt64) in
            DenoiserTraining(steps: steps, batchSize: s.batchSize, learningRate: s.learningRate, minimumLearningRate: s.learningRate / 10, seed: seed)
        }

        // The victim.
        let victim = NoiseUNet(width: s.width, seed: SeedMixing.mix(s.seed, 1))
        let victimRecipe = "victim width \(s.width) T \(s.diffusionSteps) betaLast \(s.betaLast) steps \(s.victimSteps) batch \(s.batchSize) lr \(s.learningRate) seed \(s.seed) data \(data.victim.name)/\(data.victim.count)"
        var victimLosses: [Float] = [], victimSeconds: Double?
        if try UNetFile.load(into: victim, settings: victimRecipe, from: path(victimFile)) {
            log("victim: loaded \(path(victimFile))")
        } else {
            log("victim: training \(victim.parameterCount) parameters for \(s.victimSteps) steps on \(data.victim.name)")
            let start = Date()
            victimLosses = try training(s.victimSteps, SeedMixing.mix(s.seed, 2)).fit(victim, batch: { size, g in
                data.victim.denoisingBatch(size, schedule: schedule, generator: &g)
            }, progress: { step, loss in log(String(format: "  victim step %d/%d: loss %.4f", step, s.victimSteps, loss)) })
            victimSeconds = Date().timeIntervalSince(start)
            try UNetFile.write(victim, settings: victimRecipe, to: path(victimFile))
        }
        let bare = UNetNoiseAPI(model: victim)
        let watermark = NoiseWatermark(keySeed: s.keySeed)
        let similarity = TriggerPatchSimilarity(prior: s.prior)
        let defended = try NoiseHoneytrace(bare, watermark: watermark, similarity: similarity, schedule: schedule, alpha: s.alpha)

        // The thieves: one question set, two APIs.
        let thiefSettings = DenoiserExtraction.Settings(queries: s.thiefQueries, width: s.thiefWidth,
                                                        training: training(s.thiefSteps, SeedMixing.mix(s.seed, 4)), seed: SeedMixing.mix(s.seed, 3))
        let extraction = try DenoiserExtraction(settings: thiefSettings, schedule: schedule)
        let questions = extraction.queries(from: data.thief)
        let thiefScores = similarity.scores(questions.x, timesteps: questions.timesteps, watermark: watermark, schedule: schedule)
        var thieves: [Thief] = [], copies: [(String, NoiseUNet)] = []
        for (name, api) in [("defended", defended as NoisePredictionAPI), ("undefended", bare)] {
            let recipe = "thief \(name) of [\(victimRecipe)] width \(s.thiefWidth) queries \(s.thiefQueries) steps \(s.thiefSteps) data \(data.thief.name)/\(data.thief.count)"
                + (name == "defended" ? " alpha \(s.alpha) prior \(s.prior) key \(s.keySeed)" : "")
            let file = path("thief-\(name).safetensors")
            let saved = NoiseUNet(width: s.thiefWidth, seed: SeedMixing.mix(thiefSettings.seed, 1))
            if try UNetFile.load(into: saved, settings: recipe, from: file) {
                log("thief (\(name) API): loaded \(file)")
                thieves.append(Thief(api: name, queries: s.thiefQueries, losses: [], seconds: nil))
                copies.append(("thief of the \(name) API", saved))
            } else {
                log("thief (\(name) API): \(s.thiefQueries) queries, then \(s.thiefSteps) training steps")
                let start = Date()
                let copy = try extraction.steal(from: api, queries: questions) { step, loss in
                    log(String(format: "  thief (%@) step %d/%d: loss %.4f", name, step, s.thiefSteps, loss))
                }
                try UNetFile.write(copy.model, settings: recipe, to: file)
                thieves.append(Thief(api: name, queries: copy.queries, losses: copy.losses, seconds: Date().timeIntervalSince(start)))
                copies.append(("thief of the \(name) API", copy.model))
            }
        }

        // Verification of every model, and the defended API itself as a sanity check.
        let verification = try NoiseWatermarkVerification(
            settings: .init(images: s.verificationImages, timesteps: s.verificationTimesteps, seed: SeedMixing.mix(s.seed, 5), nullKeys: s.nullKeys),
            watermark: watermark, images: data.heldOut, schedule: schedule)
        var reports: [NoiseWatermarkVerification.Report] = []
        let suspects: [(String, NoisePredictionAPI)] = [("victim (bare)", bare), ("defended API", defended)] + copies.map { ($0.0, UNetNoiseAPI(model: $0.1)) }
        for (name, api) in suspects {
            let r = try verification.verify(api, name: name)
            log(String(format: "verify %@: WSR %.1f %%, mean r %.3f vs %.3f, paired p %.2g, key p %.3g / %.3g — %@",
                       name, 100 * r.wsr, r.meanTriggered, r.meanControl, r.pairedPValue, r.keyNullPValue, r.keyNullPairedPValue, r.verdict))
            reports.append(r)
        }

        // The cost on clean held-out queries.
        var g = SeededGenerator(seed: SeedMixing.mix(s.seed, 6))
        let clean = data.heldOut.denoisingBatch(s.costQueries, schedule: schedule, generator: &g)
        var mse: [String: Double] = [:]
        for (name, api) in suspects {
            let answer = try api.predictNoise(clean.x, timesteps: clean.timesteps)
            mse[name] = zip(answer.scalars, clean.target.scalars).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(answer.count)
        }
        let costScores = similarity.scores(clean.x, timesteps: clean.timesteps, watermark: watermark, schedule: schedule)

        // Samples: one grid per model.
        if s.samples > 0 {
            var grids: [[Float]] = []
            for (k, (name, api)) in suspects.enumerated() where k != 1 {
                log("sampling \(s.samples) images from \(name)")
                let images = try AncestralSampler.sample(api, schedule: schedule, count: s.samples, imageShape: data.victim.imageShape,
                                                         seed: SeedMixing.mix(s.seed, 7))
                grids.append(DiffusionImages.unitPixels(images))
            }
            try AtomicFile.write(try SampleGrid.png(grids, count: s.samples, imageShape: data.victim.imageShape), to: path("samples.png"))
        }

        let report = Report(
            settings: s, data: ["victim": "\(data.victim.name) (\(data.victim.count))", "thief": "\(data.thief.name) (\(data.thief.count))",
                                "held-out": "\(data.heldOut.name) (\(data.heldOut.count))"],
            machine: ComputeEnvironment.summary,
            parameters: ["victim": victim.parameterCount, "thief": copies.first?.1.parameterCount ?? 0],
            victimLosses: victimLosses, victimSeconds: victimSeconds, thieves: thieves,
            thiefQueryMeanS: thiefScores.reduce(0, +) / Double(thiefScores.count),
            thiefQueryShareAbove01: Double(thiefScores.filter { $0 > 0.1 }.count) / Double(thiefScores.count),
            costQueryMeanS: costScores.reduce(0, +) / Double(costScores.count), cleanMSE: mse, verification: reports)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(report), to: path("ddpm.json"))
        try AtomicFile.write(Data(markdown(report).utf8), to: path("ddpm.md"))
        try AtomicFile.write(Data(SimilarityHistogram.svg(report.verification, title: "r = corr(answer in M, W): triggered vs control").utf8),
                             to: path("similarity.svg"))
        return report
    }

    /// The report as Markdown: the verification table, the cost table and the thieves' budgets.
    public static func markdown(_ r: Report) -> String {
        let s = r.settings
        var out = "# Neural Honeytrace for a DDPM (paper appendix A.1)\n\n"
        out += "Victim: U-Net width \(s.width) (\(r.parameters["victim"] ?? 0) parameters), T = \(s.diffusionSteps) (β 1e-4 → \(s.betaLast)), \(s.victimSteps) steps of batch \(s.batchSize) on \(r.data["victim"] ?? "").\n"
        out += "Thieves: U-Net width \(s.thiefWidth) (\(r.parameters["thief"] ?? 0) parameters), the same \(s.thiefQueries) queries from \(r.data["thief"] ?? "") "
        out += "to each API, \(s.thiefSteps) training steps. Defense: α = \(s.alpha), π = \(s.prior), key seed \(s.keySeed); seed \(s.seed).\n"
        out += String(format: "Mean s over the thieves' queries %.4f (share above 0.1: %.2f %%); over clean held-out queries %.4f.\n\n",
                      r.thiefQueryMeanS, 100 * r.thiefQueryShareAbove01, r.costQueryMeanS)
        out += "Verification: \(s.verificationImages) held-out images × steps \(s.verificationTimesteps.map(String.init).joined(separator: ", ")), "
        out += "triggered vs the same image without the patch (same noise); r = correlation of the answer inside M with W; "
        out += "WSR = share of triggered r above the suspect's 95th percentile of control r; p (paired t) is the paper's test, "
        out += "p (key, r) and p (key, Δr) the share of \(s.nullKeys) other keys doing as well as W on the mean triggered r and on the mean "
        out += "paired difference; verdict: p (key, r) below the false-claim rate of 1 %.\n\n"
        out += "| model | mean r triggered | mean r control | WSR | WSR per step | paired t | p (paired t) | p (key, r) | p (key, Δr) | verdict |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|\n"
        for v in r.verification {
            out += String(format: "| %@ | %.3f | %.3f | %.1f %% | %@ | %@ | %.2g | %.3g | %.3g | %@ |\n", v.suspect, v.meanTriggered, v.meanControl,
                          100 * v.wsr, v.wsrByStep.map { String(format: "%.0f", 100 * $0) }.joined(separator: " / "),
                          v.pairedT.map { String(format: "%.1f", $0) } ?? "—", v.pairedPValue, v.keyNullPValue, v.keyNullPairedPValue, v.verdict)
        }
        out += "\nCost: mean squared error to the true noise on \(s.costQueries) clean held-out queries (uniform steps).\n\n| model | MSE |\n|---|---|\n"
        for v in r.verification { if let m = r.cleanMSE[v.suspect] { out += String(format: "| %@ | %.5f |\n", v.suspect, m) } }
        out += "\n| thief of | queries | seconds (queries and training) |\n|---|---|---|\n"
        for t in r.thieves { out += "| \(t.api) API | \(t.queries) | " + (t.seconds.map { String(format: "%.0f", $0) } ?? "loaded") + " |\n" }
        return out
    }
}
