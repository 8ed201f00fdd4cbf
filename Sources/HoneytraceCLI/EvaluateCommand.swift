import ArgumentParser
import Datasets
import Foundation
import Training

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Accuracy, per-class accuracy and confusion matrix of a model directory on a test set.")

    @Argument(help: "Model directory.") var model: String
    @Option(help: "Data set: fashion-mnist (the test set), synthetic, npy, or a data-set description (its test part).") var data = "fashion-mnist"
    @Option(help: "Directory of the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory
    @Option(help: "npy: test images (.npy).") var images: String?
    @Option(help: "npy: test labels (.npy).") var labels: String?
    @Option(help: "synthetic: seed of the data set.") var seed: UInt64 = 0
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    func testSet() throws -> ImageDataset {
        switch data {
        case "fashion-mnist": return try FashionMNIST.load(split: .test, directory: dataDir)
        case "synthetic": return SyntheticData.make(count: 500, seed: seed &+ 1, name: "synthetic/test")
        case "npy":
            guard let images, let labels else { throw ValidationError("--data npy needs --images and --labels") }
            return try NPYImages.load(images, labelsPath: labels)
        default:
            guard FileManager.default.fileExists(atPath: data) else {
                throw ValidationError("--data '\(data)': expected fashion-mnist, synthetic, npy or a data-set description (no such file or directory)")
            }
            return try DatasetDescription.load(data).load(.test)
        }
    }

    func run() throws {
        compute.apply()
        let loaded = try ModelDirectory.load(model)
        let test = try testSet()
        let e = try loaded.evaluate(test)
        if json {
            try printJSON(EvaluateResult(model: model, data: test.name, accuracy: e.accuracy, perClassAccuracy: e.perClassAccuracy,
                                         confusion: e.confusion, count: e.count))
            return
        }
        let names = loaded.manifest.classNames ?? (0..<loaded.classes).map(String.init)
        print("\(model): \(loaded.manifest.architecture.rawValue) on \(test.name) (\(e.count) images)")
        print("accuracy \(percent(e.accuracy))")
        print("\nper class:")
        for (c, a) in e.perClassAccuracy.enumerated() {
            print("  \(c) \(names[c].padding(toLength: 12, withPad: " ", startingAt: 0)) \(a.map(percent) ?? "—")")
        }
        print("\nconfusion (rows: true class, columns: predicted):")
        print("      " + (0..<loaded.classes).map { String(format: "%5d", $0) }.joined())
        for (c, row) in e.confusion.enumerated() {
            print(String(format: "%5d ", c) + row.map { String(format: "%5d", $0) }.joined())
        }
    }
}

struct EvaluateResult: Encodable {
    let model: String
    let data: String
    let accuracy: Double
    let perClassAccuracy: [Double?]
    let confusion: [[Int]]
    let count: Int
}
