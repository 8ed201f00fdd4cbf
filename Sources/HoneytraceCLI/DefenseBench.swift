import ArgumentParser
import Datasets
import Foundation
import Honeytrace
import NeuralNet
import Training

struct DefenseBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defense",
        abstract: "Defended versus bare inference time: `ours defense overhead_pct <percent>` at batch 256, and at batch 1.",
        discussion: "Each batch size also prints the medians behind the ratio: `forward_us` (the bare forward pass) and `defense_us` (the defense on its outputs), in microseconds.")

    @Option(help: "Model directory (default: a fresh fmnist-cnn with a key made on the test set).") var model: String?
    @Option(help: "Watermark key for --model.") var key: String?
    @Option(help: "Timed iterations.") var iterations = 50
    @Option(help: "Measure only this batch size (default: 256, then 1).") var batch: Int?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1, found \(batch)") }
    }

    func run() throws {
        compute.apply()
        let defended: DefendedModel
        if let model, let key {
            defended = try DefendedModel(model: try ModelDirectory.load(model), key: try WatermarkKey.load(key))
        } else {
            defended = try Self.freshDefendedModel()
        }
        let trained = defended.model
        let batches = batch.map { [$0] } ?? [256, 1]
        for size in batches {
            let suffix = size == 256 ? "" : "_batch\(size)"
            let r = try DefenseBenchmark.measure(model: trained, defense: defended.defense, batchSize: size, iterations: iterations)
            print("ours defense overhead_pct\(suffix) \(String(format: "%.2f", r.overheadPercent))")
            print("ours defense forward_us\(suffix) \(String(format: "%.1f", r.forwardSeconds * 1e6))")
            print("ours defense defense_us\(suffix) \(String(format: "%.1f", r.defenseSeconds * 1e6))")
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
