import ArgumentParser
import Experiments
import Extraction
import Foundation
import TensorEngine
import Training

/// `honeytrace experiment scan DIR`: detection by trigger inversion (Neural Cleanse) on every copy of a finished grid.
struct ExperimentScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan every copy of a finished grid for a backdoor by trigger inversion (Neural Cleanse) and report the target class's anomaly index.",
        discussion: """
        For each copy (the grid's surrogates, defended and undefended columns; the files stay as they are) and each \
        class c, Adam looks for the smallest mask m and a pattern p such that (1 − m)·x + m·p is classified c on \
        --images clean images of the copy's own thief's pool (a seeded sample), minimising cross-entropy + λ·|m|₁ with \
        Neural Cleanse's schedule for λ. The smallest mask's L1 norm per class gives each class an anomaly index, \
        (median − L1_c) / (1.4826 · MAD) over the classes; a class above 2 is flagged. Writes scan.json, .csv, .md and \
        .svg into --out (default DIR/scan), and each copy's scan under --out/copies/ as it finishes: a run started \
        again with the same settings skips the copies already scanned.
        """)

    @Argument(help: "A finished experiment directory (its manifest names the configuration).") var directory: String
    @Option(help: "Where to write the scan (default DIR/scan).") var out: String?
    @Option(help: "Clean images per copy, sampled from its thief's pool.") var images = 1_000
    @Option(help: "Optimisation epochs per class.") var epochs = TriggerInversion().epochs
    @Option(help: "Mini-batch steps per epoch.") var epochSteps = TriggerInversion().epochSteps
    @Option(help: "Images per mini-batch.") var batchSize = TriggerInversion().batchSize
    @Option(help: "Adam's learning rate.") var learningRate = TriggerInversion().learningRate
    @Option(help: "λ at the start (Neural Cleanse: 1e-3).") var lambda = TriggerInversion().initialLambda
    @Option(help: "Epochs in a row at (below) the success threshold before λ rises (falls).") var patience = TriggerInversion().patience
    @Option(help: "Seed of the masks' start, the batches and the clean sample.") var seed: UInt64 = 0
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard images >= 1 else { throw ValidationError("--images must be at least 1, found \(images)") }
        do { try inversion.validate() } catch let e as ExtractionError { throw ValidationError(e.problem) }
    }

    var inversion: TriggerInversion {
        TriggerInversion(epochs: epochs, epochSteps: epochSteps, batchSize: batchSize, learningRate: learningRate,
                         initialLambda: lambda, patience: patience, seed: seed)
    }

    func run() throws {
        compute.apply()
        let runner = try finishedGridRunner(directory)
        let report = try runner.triggerScan(.init(inversion: inversion, images: images), out: out, threads: Parallel.threadCount,
                                            progress: ProgressBar.reporter(title: "scan"))
        print(TriggerScan.markdown(report), terminator: "")
        print("wrote \(out ?? directory + "/scan")/scan.json, .csv, .md and .svg")
    }
}
