import ArgumentParser
import Experiments
import Foundation
import Training

/// `honeytrace experiment removal DIR`: the thief's attempt to wash the watermark out of its copies.
struct ExperimentRemovalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "removal",
        abstract: "Try to remove the watermark from every copy of a finished grid (fine-tuning or CLP pruning) and measure what is left.",
        discussion: """
        Each copy (the grid's surrogates; the files stay as they are) is fine-tuned on the first --images images of \
        the strong thief's pool (Fashion-MNIST train[50000..<60000], true labels) at a constant learning rate; before \
        and after each epoch its test accuracy, the key's specific WSR and the verdict against the grid's null pool are \
        measured. Writes DIR/removal/fine-tuning.json, .csv and .md.

        --method clp prunes instead, without data (channel-Lipschitzness pruning): in every convolution the channels \
        whose Lipschitz upper bound exceeds mean + u·std of their layer are switched off, for each u of --clp-u, each \
        time from the saved copy. Writes DIR/removal/clp.json, .csv and .md.
        """)

    @Argument(help: "A finished experiment directory (its manifest names the configuration).") var directory: String
    @Option(help: "fine-tuning or clp.") var method = "fine-tuning"
    @Option(help: "clp: thresholds u, comma-separated (smaller prunes more).") var clpU = "5,4,3,2"
    @Option(help: "Fine-tuning epochs.") var epochs = 5
    @Option(help: "Labelled images the thief fine-tunes on.") var images = 5_000
    @Option(help: "Constant learning rate (SGD, momentum 0.9).") var learningRate: Float = 0.01
    @Option(help: "Seed of the batches' order and augmentation.") var seed: UInt64 = 0
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let runner = try finishedGridRunner(directory)
        switch method {
        case "fine-tuning":
            let report = try runner.fineTuningRemoval(.init(epochs: epochs, images: images, learningRate: learningRate, seed: seed))
            print(FineTuningRemoval.markdown(report), terminator: "")
            print("wrote \(directory)/removal/fine-tuning.json, .csv and .md")
        case "clp":
            let report = try runner.pruningRemoval(thresholds: try thresholds())
            print(PruningRemoval.markdown(report), terminator: "")
            print("wrote \(directory)/removal/clp.json, .csv, .md and .svg")
        default:
            throw ValidationError("--method '\(method)': expected fine-tuning or clp")
        }
    }

    func thresholds() throws -> [Double] {
        let values = clpU.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0.map { $0.isFinite && $0 >= 0 && $0 <= 100 } ?? false }) else {
            throw ValidationError("--clp-u '\(clpU)': expected numbers in 0…100, comma-separated")
        }
        return values.map { $0! }
    }
}

/// The runner of the finished grid in `directory`, its configuration read from the grid's manifest,
/// logging to standard error.
func finishedGridRunner(_ directory: String) throws -> ExperimentRunner {
    let manifestPath = URL(fileURLWithPath: directory).appendingPathComponent("manifest.json").path
    guard let data = FileManager.default.contents(atPath: manifestPath) else {
        throw ValidationError("\(manifestPath): no experiment manifest; run the grid first")
    }
    let manifest: ExperimentManifest
    do { manifest = try JSONDecoder().decode(ExperimentManifest.self, from: data) } catch {
        throw ValidationError("\(manifestPath): not an experiment manifest: \(error)")
    }
    return try ExperimentRunner(configuration: manifest.configuration, directory: directory, log: { ProgressBar.writeLine($0) })
}
