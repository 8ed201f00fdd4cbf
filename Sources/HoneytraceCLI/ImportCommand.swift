import ArgumentParser
import Datasets
import Foundation
import Formats
import NeuralNet
import Training

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn PyTorch weights (a safetensors state dict of a reference architecture) into a model directory.")

    @Option(help: "Architecture the weights belong to.") var arch: Architecture
    @Option(help: "safetensors file saved from PyTorch (state_dict names).") var weights: String
    @Option(help: "Output model directory.") var out: String
    @Option(help: "Number of classes.") var classes = 10
    @Option(help: "Input shape C,H,W.") var inputShape = "1,28,28"
    @Option(help: "Normalisation mean (one per channel, comma-separated).") var mean = "0.2860"
    @Option(help: "Normalisation std (one per channel, comma-separated).") var std = "0.3530"
    @Flag(help: "Evaluate the imported model on the Fashion-MNIST test set.") var evaluate = false

    func floats(_ text: String, _ what: String) throws -> [Float] {
        let parts = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw ValidationError("--\(what) '\(text)': expected comma-separated numbers") }
        return parts.map { $0! }
    }

    func run() throws {
        // Whole numbers only, converted without trapping: `nan` or `1e30` is refused here, not in `Int(_:)`.
        let shape = try floats(inputShape, "input-shape").map { value -> Int in
            guard let n = CheckedNumber.wholeInt(Double(value), in: 1...ModelManifest.maxImageSide) else {
                throw ValidationError("--input-shape '\(inputShape)': expected C,H,W of whole numbers in 1…\(ModelManifest.maxImageSide), found \(value)")
            }
            return n
        }
        guard shape.count == 3 else { throw ValidationError("--input-shape '\(inputShape)': expected C,H,W, found \(shape.count) numbers") }
        if let problem = ModelManifest.problem(architecture: arch, classes: classes, inputShape: shape) {
            throw ValidationError("--input-shape '\(inputShape)' / --classes \(classes): \(problem)")
        }
        let normalization = try Normalization.validated(mean: try floats(mean, "mean"), std: try floats(std, "std"))
        let file = try SafeTensors.read(path: weights)
        let classifier = arch.build(inChannels: shape[0], classes: classes, imageSize: shape[1], seed: 0)
        try ModelDirectory.load(file, into: classifier, label: weights)
        let model = TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: arch, classes: classes, inputShape: shape, normalization: normalization, source: "imported",
            classNames: classes == 10 && shape == [1, 28, 28] ? FashionMNIST.classNames : nil))
        if evaluate {
            let e = try model.evaluate(try FashionMNIST.load(split: .test))
            model.manifest.metrics["test_accuracy"] = e.accuracy
            print("test accuracy \(percent(e.accuracy))")
        }
        try ModelDirectory.save(model, to: out)
        print("imported \(weights) as \(arch.rawValue) into \(out)")
    }
}
