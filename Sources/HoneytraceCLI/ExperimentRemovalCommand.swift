import ArgumentParser
import Experiments
import Foundation
import Training

/// `honeytrace experiment removal DIR`: the thief's attempt to wash the watermark out of its copies.
struct ExperimentRemovalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "removal",
        abstract: "Fine-tune every copy of a finished grid on the strong thief's labelled images and measure what is left.",
        discussion: """
        Each copy (the grid's surrogates; the files stay as they are) is fine-tuned on the first --images images of \
        the strong thief's pool (Fashion-MNIST train[50000..<60000], true labels) at a constant learning rate; before \
        and after each epoch its test accuracy, the key's specific WSR and the verdict against the grid's null pool are \
        measured. Writes DIR/removal/fine-tuning.json, .csv and .md.
        """)

    @Argument(help: "A finished experiment directory (its manifest names the configuration).") var directory: String
    @Option(help: "Fine-tuning epochs.") var epochs = 5
    @Option(help: "Labelled images the thief fine-tunes on.") var images = 5_000
    @Option(help: "Constant learning rate (SGD, momentum 0.9).") var learningRate: Float = 0.01
    @Option(help: "Seed of the batches' order and augmentation.") var seed: UInt64 = 0
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let manifestPath = URL(fileURLWithPath: directory).appendingPathComponent("manifest.json").path
        guard let data = FileManager.default.contents(atPath: manifestPath) else {
            throw ValidationError("\(manifestPath): no experiment manifest; run the grid first")
        }
        let manifest: ExperimentManifest
        do { manifest = try JSONDecoder().decode(ExperimentManifest.self, from: data) } catch {
            throw ValidationError("\(manifestPath): not an experiment manifest: \(error)")
        }
        let runner = try ExperimentRunner(configuration: manifest.configuration, directory: directory,
                                          log: { ProgressBar.writeError($0 + "\n") })
        let report = try runner.fineTuningRemoval(.init(epochs: epochs, images: images, learningRate: learningRate, seed: seed))
        print(FineTuningRemoval.markdown(report), terminator: "")
        print("wrote \(directory)/removal/fine-tuning.json, .csv and .md")
    }
}
