import ArgumentParser
import Baselines
import Datasets
import Foundation
import HoneytraceServer
import Prediction
import Training

/// `honeytrace prown`: PROWN trigger sets (docs/algorithms.md §8), the training-free baseline that leaves the API's answers alone.
struct PrownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prown",
        abstract: "PROWN trigger sets: mixes of owner images that noisy copies of the model all label alike.",
        discussion: "Verify a suspect with `honeytrace verify --prown FILE SUSPECT`.",
        subcommands: [PrownCreateCommand.self])
}

struct PrownCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make a PROWN trigger set for a model from the owner's validation split, optionally with null-model statistics.",
        discussion: """
            Pairs of owner-validation images of different classes are mixed with 64 random weights; a mix the model labels \
            as neither source class is kept when all m proxies (the model with Gaussian noise on every parameter) agree. \
            The noise σ gives the perturbation the same share of ‖θ‖ as the paper's (see --relative-noise).
            """)

    @Argument(help: "Model directory of the owner's model.") var model: String
    @Option(help: "Trigger-set file to write.") var out: String
    @Option(help: "Seed of pairs, mixing weights and proxy noise.") var seed: UInt64 = 1
    @Option(help: "Null pool directory (from `honeytrace experiment null-pool`): its models' trigger accuracies go into the file.")
    var nullPool: String?
    @Option(help: "Proxies m.") var proxies = 64
    @Option(help: "Triggers n.") var triggers = 100
    @Option(help: "Confidence level of the guarantee is 1 − alpha.") var alpha = 0.05
    @Option(help: "‖Δθ‖ / ‖θ‖ of the proxies (default: the paper's share, from σ 8e-3 on its ResNet-34).")
    var relativeNoise: Double?
    @Option(help: "Noise σ per parameter (overrides --relative-noise).") var sigma: Double?
    @Option(help: "Complement proxies: copies with larger noise that must all answer other than y* (default: none).")
    var complementProxies: Int?
    @Option(help: "‖Δθ‖ / ‖θ‖ of the complement proxies.") var complementRelativeNoise: Double?
    @Option(help: "Noise σ of the complement proxies (overrides --complement-relative-noise).") var complementSigma: Double?
    @Option(help: "Most pairs to draw before giving up.") var maxPairs = 20_000
    @Flag(help: "Skip measuring each proxy's accuracy on the validation split.") var skipProxyAccuracy = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        var settings = PrownSettings(seed: seed, proxies: proxies, triggers: triggers, alpha: alpha, sigma: sigma,
                                     complementProxies: complementProxies, complementRelativeNoise: complementRelativeNoise,
                                     complementSigma: complementSigma, maxPairs: maxPairs)
        if let relativeNoise { settings.relativeNoise = relativeNoise }
        try settings.validate()
        let owner = try ModelDirectory.load(model)
        let heldOut = try FashionMNIST.heldOutSplits().ownerValidation
        var creator = PrownCreator(settings: settings)
        creator.measureProxyAccuracy = !skipProxyAccuracy
        creator.log = PrownCLI.progress
        if !json {
            var bars: [String: @Sendable (Int, Int) -> Void] = [:]
            creator.progress = { stage, done, total in
                if bars[stage] == nil { bars[stage] = ProgressBar.reporter(title: stage) }
                bars[stage]?(done, total)
            }
        }
        var set = try creator.create(model: owner, modelName: model, heldOut: heldOut)
        if let nullPool {
            set.nullModels = try PrownCLI.nullStatistics(pool: nullPool, on: set, log: PrownCLI.progress)
        }
        try set.save(to: out)
        if json { try printJSON(PrownCLI.Summary(set, file: out)); return }
        print("wrote \(out): \(set.count) triggers, σ \(String(format: "%.3e", set.settings.sigma ?? 0)), guarantee \(String(format: "%.4f", set.guarantee)) per trigger at confidence \(1 - set.settings.alpha)")
        if let null = set.nullModels {
            let t = try null.threshold(falseClaimRate: 0.05)
            print("null models      \(null.models.count): trigger accuracy \(percent(t.mean)) ± \(percent(t.standardDeviation)); threshold at p 0.05 \(percent(t.threshold))")
        }
    }
}

/// The null pool and false-claim rate of the trigger-accuracy watermarks `verify` decides
/// (PROWN's trigger set, a training-time baseline's triggers).
struct TriggerSetVerifyOptions: ParsableArguments {
    @Option(help: "With --prown or --baseline: null pool directory (`honeytrace experiment null-pool`) to measure the threshold on (--prown's default: the statistics stored in the trigger set).")
    var nullPool: String?
    @Option(help: "With --prown or --baseline: false-claim rate p of the threshold μ + z₁₋ₚ·σ.") var falseClaimRate = 0.05
}

enum PrownCLI {
    /// Progress lines go to standard error, unbuffered, so stdout stays the result.
    static func progress(_ line: String) { ProgressBar.writeLine(line) }

    /// What `prown create --json` prints: the file's settings and figures without the pixels.
    struct Summary: Encodable {
        var file: String
        var triggers: Int
        var settings: PrownSettings
        var model: PrownTriggerSet.ModelIdentity
        var guarantee: Double
        var creation: PrownCreationStatistics
        var nullModels: TriggerNullStatistics?

        init(_ set: PrownTriggerSet, file: String) {
            self.file = file; triggers = set.count; settings = set.settings; model = set.model; guarantee = set.guarantee
            creation = set.creation; nullModels = set.nullModels
        }
    }

    /// Every model of a null pool, answering labels, refusing the owner's own weights.
    static func nullModels(pool: String, ownerWeightsSHA256: String) throws -> [PredictionAPI] {
        try PrownNullPool.modelDirectories(pool: pool).map { entry -> PredictionAPI in
            let m = try ModelDirectory.load(entry.path)
            guard m.manifest.weightsSHA256 != ownerWeightsSHA256 else {
                throw ValidationError("\(entry.path) has the owner model's weights; a null model must never have seen the API")
            }
            return ModelAPI(model: m, answerMode: .label, name: entry.name)
        }
    }

    /// Trigger accuracies of every model of a null pool, refusing the owner's own weights.
    static func nullStatistics(pool: String, on set: PrownTriggerSet, log: (String) -> Void) throws -> TriggerNullStatistics {
        let models = try nullModels(pool: pool, ownerWeightsSHA256: set.model.weightsSHA256)
        let null = try PrownVerification.nullStatistics(models, on: set)
        for m in null.models { log("  \(m.name): \(m.hits)/\(set.count) triggers") }
        return null
    }

    /// The lines that show PROWN's verdict on one suspect.
    static func lines(_ v: PrownVerdict, of watermark: String = "PROWN") -> [String] {
        ["verdict          \(v.verdict)",
         "trigger accuracy \(percent(v.triggerAccuracy)) (\(v.hits) of \(v.triggers) \(watermark) triggers answered their label)",
         "threshold        \(percent(v.threshold)) at false-claim rate \(v.falseClaimRate) (\(v.nullModels) null models, \(percent(v.nullMean)) ± \(percent(v.nullStandardDeviation)))",
         "p-value          \(String(format: "%.3e", v.normalPValue)) (normal fit; empirical \(String(format: "%.3e", v.empiricalPValue)), binomial vs pooled null rate \(percent(v.pooledNullRate)): \(String(format: "%.3e", v.binomialPValue)))",
         "null claims      \(v.nullFalseClaims) of \(v.nullModels) null models over a threshold fitted to the others"]
    }
}

extension VerifyCommand {
    /// `verify --prown FILE SUSPECT…`: the trigger set and its null statistics, loaded once for every suspect.
    func prownVerifier(_ file: String) throws -> (Source) throws -> Result {
        let set = try PrownTriggerSet.load(file)
        let null = try triggerSetOptions.nullPool.map { try PrownCLI.nullStatistics(pool: $0, on: set, log: { _ in }) }
        return { [triggerSetOptions] source in
            let target = try openLive(source)
            let v = try PrownVerification.verify(target, on: set, null: null, falseClaimRate: triggerSetOptions.falseClaimRate)
            return (VerdictRecord(suspect: source.name, evidence: v.evidence, report: v), PrownCLI.lines(v))
        }
    }

    /// `verify --baseline DIR SUSPECT…`: the baseline's fresh triggers, made from the owner's
    /// held-out images, and the null pool's accuracies on them, made once for every suspect.
    func baselineVerifier(_ directory: String) throws -> (Source) throws -> Result {
        let record = try BaselineRecord.load(directory: directory)
        let owner = try ModelDirectory.load(directory)
        let nulls = try PrownCLI.nullModels(pool: triggerSetOptions.nullPool!, ownerWeightsSHA256: owner.manifest.weightsSHA256)
        let defense = try TrainedBaselineDefense(model: owner, record: record, ownerData: try dataSet.ownerHeldOut(), nullModels: nulls,
                                                 falseClaimRate: triggerSetOptions.falseClaimRate)
        return { source in
            let v = try defense.triggers.verdict(suspect: try openLive(source))
            return (VerdictRecord(suspect: source.name, evidence: try defense.triggers.evidence(from: v), report: v), PrownCLI.lines(v, of: record.kind.rawValue))
        }
    }
}
