import ArgumentParser
import Experiments
import Foundation
import Training

/// `honeytrace experiment ddpm --out DIR`: Neural Honeytrace for a generative model (the paper's appendix A.1).
struct ExperimentDDPMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddpm",
        abstract: "Watermark a DDPM noise predictor with Neural Honeytrace, steal it through its one-step API and verify the copies.",
        discussion: """
        The owner trains a small U-Net noise predictor on Fashion-MNIST train[0..<50000] and serves the predicted noise \
        behind the defense (docs/algorithms.md §12): inside the 5×5 upper-left mask the answer is pulled toward a keyed \
        pattern W in proportion to the query's similarity s to the white-patch trigger. Two thieves send the same \
        --thief-queries queries (their own images, train[50000..<60000], noised to uniform steps) to the defended and the \
        undefended API and train their own U-Nets on the answers. Triggered/control pairs from the test set then test the \
        bare victim, the defended API and both copies. Writes ddpm.json, ddpm.md, similarity.svg and samples.png into \
        --out; the trained U-Nets are saved there too, and a run started again with the same settings loads them.
        """)

    @Option(help: "Output directory.") var out: String
    @Option(help: "Base seed (victim, thieves' queries and training, verification noise, cost queries, samples).") var seed: UInt64 = 2
    @Option(help: "Seed of the watermark W.") var keySeed: UInt64 = 2
    @Option(help: "Diffusion steps T.") var diffusionSteps = 1_000
    @Option(help: "β at the last step (linear from 1e-4).") var betaLast = 0.02
    @Option(help: "Victim U-Net width (channels at full resolution).") var width = 16
    @Option(help: "Victim training steps.") var victimSteps = 3_000
    @Option(help: "Thief U-Net width.") var thiefWidth = 16
    @Option(help: "Queries each thief sends.") var thiefQueries = 20_000
    @Option(help: "Thief training steps.") var thiefSteps = 3_000
    @Option(help: "Batch size of all training.") var batchSize = 64
    @Option(help: "Adam's starting learning rate (cosine to a tenth of it).") var learningRate: Float = 1e-3
    @Option(help: "Mixing strength α of the defense, in [0, 1].") var alpha = 0.5
    @Option(help: "Prior share π of triggered queries in the similarity s.") var prior = 0.5
    @Option(help: "Held-out images in the verification pairs.") var verificationImages = 100
    @Option(help: "Verification steps, comma-separated.") var verificationSteps = "200,400,600,800"
    @Option(help: "Other keys in the key-null test.") var nullKeys = 999
    @Option(help: "Clean held-out queries for the cost.") var costQueries = 1_000
    @Option(help: "Images sampled from each model for samples.png (0: none).") var samples = 16
    @OptionGroup var compute: ComputeOptions

    func settings() throws -> DDPMExperiment.Settings {
        let steps = verificationSteps.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !steps.isEmpty, steps.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--verification-steps '\(verificationSteps)': expected integers, comma-separated")
        }
        let s = DDPMExperiment.Settings(seed: seed, keySeed: keySeed, diffusionSteps: diffusionSteps, betaLast: betaLast, width: width, victimSteps: victimSteps,
                                        thiefWidth: thiefWidth, thiefQueries: thiefQueries, thiefSteps: thiefSteps, batchSize: batchSize,
                                        learningRate: learningRate, alpha: alpha, prior: prior, verificationImages: verificationImages,
                                        verificationTimesteps: steps.map { $0! }, nullKeys: nullKeys, costQueries: costQueries, samples: samples)
        do { try s.validate() } catch let e as ExperimentError { throw ValidationError(e.description) }
        return s
    }

    func run() throws {
        compute.apply()
        let report = try DDPMExperiment.run(try settings(), data: try DDPMExperiment.Images.fashionMNIST(), directory: out,
                                            log: { ProgressBar.writeLine($0) })
        print(DDPMExperiment.markdown(report), terminator: "")
        print("wrote \(out)/ddpm.json, ddpm.md and similarity.svg" + (samples > 0 ? " and samples.png" : ""))
    }
}
