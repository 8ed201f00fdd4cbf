import ArgumentParser
import Datasets
import Foundation
import Formats
import NeuralNet
import ONNX
import Training

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn PyTorch weights (a safetensors state dict of a reference architecture) or an ONNX image classifier into a model directory.",
        discussion: """
            Either --arch and --weights (a state dict), or --onnx (a graph exported by torch.onnx.export, opset 13–21, \
            imported as a graph model). With --onnx, --mean/--std give the normalisation the graph's input expects \
            (default: a Sub/Div by constants at the graph's head, taken out of the graph), --features names the node \
            whose output is the penultimate features (default: the input of the last Gemm), and --input-shape is \
            needed only when the graph leaves it open.
            """)

    @Option(help: "Architecture the weights belong to.") var arch: Architecture?
    @Option(help: "safetensors file saved from PyTorch (state_dict names).") var weights: String?
    @Option(help: "ONNX model file (an image classifier) to import as a graph model.") var onnx: String?
    @Option(help: "With --onnx: the node (name or output value) whose output is the penultimate features.") var features: String?
    @Option(help: "Output model directory.") var out: String
    @Option(help: "Number of classes (with --weights; default 10).") var classes: Int?
    @Option(help: "Input shape C,H,W (default with --weights: 1,28,28; with --onnx: the graph's).") var inputShape: String?
    @Option(help: "Normalisation mean (one per channel, comma-separated; default with --weights: 0.2860).") var mean: String?
    @Option(help: "Normalisation std (one per channel, comma-separated; default with --weights: 0.3530).") var std: String?
    @Flag(help: "Evaluate the imported model on the Fashion-MNIST test set.") var evaluate = false

    func floats(_ text: String, _ what: String) throws -> [Float] {
        let parts = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw ValidationError("--\(what) '\(text)': expected comma-separated numbers") }
        return parts.map { $0! }
    }

    /// `--input-shape` as whole numbers, converted without trapping: `nan` or `1e30` is refused here, not in `Int(_:)`.
    func shape(_ text: String) throws -> [Int] {
        let shape = try floats(text, "input-shape").map { value -> Int in
            guard let n = CheckedNumber.wholeInt(Double(value), in: 1...ModelManifest.maxImageSide) else {
                throw ValidationError("--input-shape '\(text)': expected C,H,W of whole numbers in 1…\(ModelManifest.maxImageSide), found \(value)")
            }
            return n
        }
        guard shape.count == 3 else { throw ValidationError("--input-shape '\(text)': expected C,H,W, found \(shape.count) numbers") }
        return shape
    }

    func validate() throws {
        if onnx != nil {
            guard arch == nil, weights == nil else { throw ValidationError("--onnx imports a whole graph; it takes neither --arch nor --weights") }
            guard (mean == nil) == (std == nil) else { throw ValidationError("--mean and --std go together") }
            guard classes == nil else { throw ValidationError("--classes is for --weights; with --onnx the graph's output decides") }
        } else {
            guard arch != nil, weights != nil else { throw ValidationError("give --arch and --weights, or --onnx") }
            guard features == nil else { throw ValidationError("--features is for --onnx") }
        }
    }

    func run() throws {
        let model: TrainedModel
        let source: String
        if let onnx {
            var options = ONNXImportOptions(features: features, inputShape: try inputShape.map(shape))
            if let mean, let std {
                options.normalization = try Normalization.validated(mean: try floats(mean, "mean"), std: try floats(std, "std"))
            }
            let result = try ONNXImport.load(path: onnx, options: options)
            for note in result.notes { print(note) }
            model = result.model
            source = "\(onnx) as a graph model"
        } else {
            model = try importWeights(arch: arch!, weights: weights!)
            source = "\(weights!) as \(arch!.rawValue)"
        }
        if evaluate {
            let e = try model.evaluate(try FashionMNIST.load(split: .test))
            model.manifest.metrics["test_accuracy"] = e.accuracy
            print("test accuracy \(percent(e.accuracy))")
        }
        try ModelDirectory.save(model, to: out)
        print("imported \(source) into \(out)")
    }

    /// A reference architecture with weights from a PyTorch state dict.
    func importWeights(arch: Architecture, weights: String) throws -> TrainedModel {
        let classes = self.classes ?? 10
        let shape = try self.shape(inputShape ?? "1,28,28")
        if let problem = ModelManifest.problem(architecture: arch, classes: classes, inputShape: shape) {
            throw ValidationError("--input-shape '\(inputShape ?? "1,28,28")' / --classes \(classes): \(problem)")
        }
        let normalization = try Normalization.validated(mean: try floats(mean ?? "0.2860", "mean"), std: try floats(std ?? "0.3530", "std"))
        let file = try SafeTensors.read(path: weights)
        let classifier = arch.build(inChannels: shape[0], classes: classes, imageSize: shape[1], seed: 0)
        try ModelDirectory.load(file, into: classifier, label: weights)
        return TrainedModel(classifier: classifier, manifest: ModelManifest(
            architecture: arch, classes: classes, inputShape: shape, normalization: normalization, source: "imported",
            classNames: classes == 10 && shape == [1, 28, 28] ? FashionMNIST.classNames : nil))
    }
}
