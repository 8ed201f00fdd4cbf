import ArgumentParser
import Datasets
import Foundation
import Honeytrace
import Training

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Choose d (and optionally α, β) so the defended accuracy stays within a budget while the OOD signal is strongest; writes it into the key.")

    @Argument(help: "Model directory.") var model: String
    @Option(help: "Watermark key (updated in place unless --out).") var key: String
    @Option(help: "Write the calibrated key here instead.") var out: String?
    @Option(name: [.customLong("budget-points"), .customLong("budget")],
            help: "Largest accepted accuracy drop, in percentage points (0.5 = half a point; --budget is the old name).")
    var budgetPoints = 0.5
    @Option(help: ArgumentHelp("Keep the drop within budget on unseen data with this confidence (e.g. 0.95), not just on the calibration images.", discussion: """
        A setting then qualifies only if the one-sided Clopper–Pearson upper bound of the share of images it turns from \
        right to wrong is within the budget.
        """)) var confidence: Double?
    @Option(help: "Mixing powers (the paper's α) to try, comma-separated (default: the key's).") var mixingPowers: String?
    @Option(help: "Flipping powers (the paper's β) to try, comma-separated (default: the key's).") var flippingPowers: String?
    @Option(help: "Similarity score: watermark (the paper), relative, relative-source, mark-probe, watermark-probe or pixel-mark (default: the key's).")
    var score: DefenseConfiguration.Score?
    @Option(help: "Feature space of the distances: raw (the paper) or standardized (default: the key's).")
    var featureSpace: DefenseConfiguration.FeatureSpace?
    @Option(help: "Distance: mean-squared (the paper) or mean-absolute (default: the key's).") var distance: DefenseConfiguration.Distance?
    @Option(help: "Aggregate over watermarks: mean or nearest-K (default: the key's).") var aggregate: String?
    @Option(help: "Out-of-distribution gate: touch only queries farther from the owner's data than this quantile of honest queries (e.g. 0.97), or off (default: the key's).")
    var oodGate: String?
    @Option(help: ArgumentHelp("Give clients past this many queries a stronger defense (or 'off' to remove it from the key).", discussion: """
        The key's defense without the out-of-distribution gate and with β = 0.05 (a key whose score reads the mark probe: the \
        probe alone, without the unconfident boost), its d calibrated to --heavy-client-budget-points; \
        `serve` counts each client's queries and switches it once it passes the threshold.
        """)) var heavyClientAfter: String?
    @Option(name: [.customLong("heavy-client-budget-points"), .customLong("heavy-client-budget")],
            help: "Largest accepted accuracy drop for heavy clients, in percentage points (--heavy-client-budget is the old name).")
    var heavyClientBudgetPoints = HeavyClientPolicy.recommendedBudgetPoints
    @Flag(help: "Heavy clients also keep the flips of the key's own defense.") var heavyClientUnion = false
    @Flag(help: "Use the key with a model it was not made for.") var force = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var dataSet: DataSetOptions
    @OptionGroup var compute: ComputeOptions

    func floats(_ text: String?, _ name: String) throws -> [Float]? {
        guard let text else { return nil }
        let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0.map { $0 > 0 && $0.isFinite } ?? false }) else {
            throw ValidationError("--\(name) '\(text)': expected positive finite numbers, comma-separated")
        }
        return values.map { $0! }
    }

    func validate() throws {
        guard budgetPoints >= 0, budgetPoints < 100 else {
            throw ValidationError("--budget-points \(budgetPoints): expected percentage points in [0, 100) (0.5 = half a point)")
        }
    }

    func run() throws {
        compute.apply()
        let trained = try ModelDirectory.load(model)
        var k = try WatermarkKey.load(key)
        if let score { k.defense.score = score }
        if let featureSpace { k.defense.featureSpace = featureSpace }
        if let distance { k.defense.distance = distance }
        if let oodGate {
            if oodGate.lowercased() == "off" {
                k.defense.outOfDistributionGate = nil
            } else {
                guard let q = Float(oodGate), q > 0, q < 1 else {
                    throw ValidationError("--ood-gate '\(oodGate)': expected a quantile between 0 and 1 (e.g. 0.97) or off")
                }
                k.defense.outOfDistributionGate = q
            }
        }
        if let aggregate {
            guard let a = DefenseConfiguration.Aggregate(argument: aggregate) else {
                throw ValidationError("--aggregate '\(aggregate)': expected mean or nearest-K")
            }
            k.defense.aggregate = a
        }
        let options = Calibration.Options(budgetPoints: budgetPoints, mixingPowers: try floats(mixingPowers, "mixing-powers"), flippingPowers: try floats(flippingPowers, "flipping-powers"),
                                          confidence: confidence, progress: json ? nil : ProgressBar.reporter(title: "calibrate"))
        // The owner's own data: its validation split (Fashion-MNIST train[45000..<50000], which
        // `train` holds out) and outliers generated from it; never an attacker's pool or the test set.
        let heldOut = try dataSet.ownerHeldOut()
        if let warning = dataSet.seenOwnerValidationWarning(model: trained.manifest) {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        let outliers = try GeneratedOutliers.make(from: heldOut, count: 5_000, seed: 0)
        let result = try Calibration.calibrate(key: k, model: trained, inDistribution: heldOut,
                                               outOfDistribution: outliers, options: options, force: force)
        k.defense = result.configuration
        var heavyResult: CalibrationResult?
        if let heavyClientAfter {
            if heavyClientAfter.lowercased() == "off" {
                k.heavyClient = nil
            } else {
                guard let after = Int(heavyClientAfter), after >= 0 else {
                    throw ValidationError("--heavy-client-after '\(heavyClientAfter)': expected a number of queries ≥ 0, or off")
                }
                guard heavyClientBudgetPoints > 0, heavyClientBudgetPoints <= 100 else {
                    throw ValidationError("--heavy-client-budget-points \(heavyClientBudgetPoints): expected percentage points in (0, 100]")
                }
                let heavy = try Calibration.calibrate(key: k, model: trained, inDistribution: heldOut, outOfDistribution: outliers,
                                                      configuration: HeavyClientPolicy.recommendedDefense(from: k.defense),
                                                      options: Calibration.Options(budgetPoints: heavyClientBudgetPoints, confidence: confidence,
                                                                                   progress: json ? nil : ProgressBar.reporter(title: "calibrate heavy clients")),
                                                      force: force)
                k.heavyClient = HeavyClientPolicy(afterQueries: after, defense: heavy.configuration, union: heavyClientUnion)
                heavyResult = heavy
            }
        }
        try k.save(to: out ?? key)
        if json {
            if let heavyResult {
                struct Both: Encodable { let calibration: CalibrationResult; let heavyClient: CalibrationResult }
                try printJSON(Both(calibration: result, heavyClient: heavyResult))
            } else {
                try printJSON(result)
            }
            return
        }
        let d = result.configuration
        print("score \(d.score.rawValue), features \(d.featureSpace.rawValue), distance \(d.distance.rawValue), aggregate \(d.aggregate)"
              + (d.outOfDistributionGateDescription.map { ", \($0)" } ?? ""))
        print("bare accuracy \(percent(result.bareAccuracy)) on \(heldOut.name); budget \(budgetPoints) points"
              + (confidence.map { " at confidence \($0) on unseen data" } ?? "") + "; objective \(result.objective.rawValue) on \(outliers.name)")
        print("     d      α    β   defended acc.  drop    OOD mean s  OOD mixed  OOD flipped")
        for c in result.candidates {
            let mark = c == result.chosen ? "→" : (c.withinBudget ? " " : "✗")
            print(String(format: "%@ %7.4f  %3.1f  %3.1f  %12.2f%%  %5.2f  %10.4f  %8.2f%%  %10.2f%%", mark, c.offset, c.mixingPower, c.flippingPower,
                         100 * c.defendedAccuracy, c.accuracyDropPoints, c.oodMeanSimilarity ?? 0, 100 * (c.oodFractionMixed ?? 0),
                         100 * (c.oodFractionFlipped ?? 0)))
        }
        print("chose d = \(result.chosen.offset), α = \(result.chosen.mixingPower), β = \(result.chosen.flippingPower); wrote \(out ?? key)")
        if let heavyResult, let policy = k.heavyClient {
            print(String(format: "heavy clients (after %d queries): d = %.4f, β = %.2f, defended accuracy %.2f%% (budget %.1f points)",
                         policy.afterQueries, heavyResult.chosen.offset, heavyResult.chosen.flippingPower,
                         100 * heavyResult.chosen.defendedAccuracy, heavyClientBudgetPoints))
        }
    }
}
