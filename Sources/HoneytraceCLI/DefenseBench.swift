import ArgumentParser
import Datasets
import Foundation
import Honeytrace
import NeuralNet
import Training

struct DefenseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defense",
        abstract: "Defended versus bare inference time: `ours defense overhead_pct <percent>` at batch 256, and at batch 1.")

    @Option(help: "Model directory (default: a fresh fmnist-cnn with a key made on the test set).") var model: String?
    @Option(help: "Watermark key for --model.") var key: String?
    @Option(help: "Timed iterations.") var iterations = 50
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let defended: DefendedModel
        if let model, let key {
            defended = try DefendedModel(model: try ModelDirectory.load(model), key: try WatermarkKey.load(key))
        } else {
            defended = try Self.freshDefendedModel()
        }
        let trained = defended.model
        for (batch, label) in [(256, "overhead_pct"), (1, "overhead_pct_batch1")] {
            let r = try DefenseBenchmark.measure(model: trained, defense: defended.defense, batchSize: batch, iterations: iterations)
            print("ours defense \(label) \(String(format: "%.2f", r.overheadPercent))")
        }
    }

    /// An untrained fmnist-cnn (seed 0) behind a key made on the test set: the benchmarks'
    /// default, so they run on a fresh machine without a trained model.
    static func freshDefendedModel() throws -> DefendedModel {
        let trained = TrainedModel(classifier: Architecture.fmnistCNN.build(seed: 0), manifest: ModelManifest(
            architecture: .fmnistCNN, classes: 10, inputShape: [1, 28, 28], normalization: .fashionMNIST, source: "benchmark"))
        let key = try WatermarkKey.create(model: trained, heldOut: try FashionMNIST.load(split: .test), seed: 0)
        return try DefendedModel(model: trained, key: key, name: "fmnist-cnn (untrained, seed 0)")
    }
}
