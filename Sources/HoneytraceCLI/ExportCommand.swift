import ArgumentParser
import ONNX
import Training

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model directory's model as an ONNX file that takes [0, 1] pixels and answers the same logits.",
        discussion: "Any model: the three reference architectures and imported graph models. The file's opset is 17; its normalisation is a Sub and a Div at the head.")

    @Option(name: .customLong("onnx"), help: "Model directory to export.") var model: String
    @Option(help: "Output ONNX file.") var out: String

    func run() throws {
        let loaded = try ModelDirectory.load(model)
        try ONNXExport.write(loaded, to: out)
        print("exported \(model) (\(loaded.manifest.architecture.rawValue)) to \(out)")
    }
}
