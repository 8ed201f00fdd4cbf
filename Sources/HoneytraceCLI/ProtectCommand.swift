import ArgumentParser
import Datasets
import Foundation
import Honeytrace
import Training

struct ProtectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protect",
        abstract: "Put a model behind Neural Honeytrace and measure what the defense does.",
        discussion: "With --evaluate: defended accuracy on the Fashion-MNIST test set, and on the test set and MNIST-5k the mean similarity and the fractions of rows mixed and flipped.")

    @Argument(help: "Model directory.") var model: String
    @Option(help: "Watermark key.") var key: String
    @Flag(help: "Measure the defense on --data's test set (and, for 1×28×28 models, on MNIST-5k as foreign data).") var evaluate = false
    @Flag(help: "Use the key with a model it was not made for.") var force = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var dataSet: DataSetOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let trained = try ModelDirectory.load(model)
        let k = try WatermarkKey.load(key)
        let defended = try DefendedModel(model: trained, key: k, force: force)
        guard evaluate else {
            print("\(model) is protected by \(key) (d = \(defended.defense.configuration.offset)); add --evaluate to measure, or serve it")
            return
        }
        let test = try dataSet.testSet()
        var stats = [try DefenseStatistics.measure(defense: defended.defense, model: trained, on: test)]
        if trained.inputShape == [1, 28, 28] {
            stats.append(try DefenseStatistics.measure(defense: defended.defense, model: trained, on: try MNIST5k.load()))
        }
        if json { try printJSON(stats); return }
        print("data set                 bare acc.  defended acc.  mean s   mixed    flipped  t-rate bare → defended")
        for s in stats {
            print(s.dataset.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: " %8.2f%%  %12.2f%%  %6.4f  %6.2f%%  %6.2f%%  %6.2f%% → %.2f%%",
                         100 * s.bareAccuracy, 100 * s.defendedAccuracy, s.meanSimilarity, 100 * s.fractionMixed,
                         100 * s.fractionFlipped, 100 * s.bareTargetRate, 100 * s.defendedTargetRate))
        }
    }
}
