import Datasets
import Foundation
import NeuralNet
import TensorEngine
import Training

/// What the owner tells the importer that the ONNX file may not say.
public struct ONNXImportOptions: Sendable {
    /// The normalisation of [0, 1] pixels the graph's input expects; nil: take a Sub/Div by
    /// constants at the head of the graph, or none.
    public var normalization: Normalization?
    /// The node (by ONNX node name or output value name) whose output is the penultimate
    /// features; nil: the input of the last Gemm (or MatMul).
    public var features: String?
    /// `[C, H, W]`, needed when the graph leaves them open.
    public var inputShape: [Int]?

    public init(normalization: Normalization? = nil, features: String? = nil, inputShape: [Int]? = nil) {
        self.normalization = normalization
        self.features = features
        self.inputShape = inputShape
    }
}

/// An imported model and what the import decided on the owner's behalf.
public struct ONNXImportResult {
    public let model: TrainedModel
    /// One line per decision (normalisation found, features chosen, a trailing Softmax dropped).
    public let notes: [String]
}

/// `honeytrace import --onnx`: an image classifier exported by `torch.onnx.export` (or by
/// `ONNXExport`) as a graph model with its manifest.
public enum ONNXImport {
    /// The metadata key under which `ONNXExport` names the features value.
    public static let featuresMetadataKey = "honeytrace.features"

    public static func load(path: String, options: ONNXImportOptions = .init()) throws -> ONNXImportResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ONNXError(.malformed, file: path, "cannot be read")
        }
        return try model(from: data, label: path, options: options)
    }

    public static func model(from data: Data, label: String, options: ONNXImportOptions = .init()) throws -> ONNXImportResult {
        let reader = try ONNXGraphReader(data: data, file: label)
        var notes: [String] = []
        let inputShape = try self.inputShape(reader, options: options)

        // The normalisation: the owner's, or the graph's own head, or none.
        var normalization = Normalization.identity
        var skipped = Set<Int>()
        var input = reader.inputName
        if let given = options.normalization {
            guard given.fits(channels: inputShape[0]) else {
                throw ONNXError(.invalidOption, file: label, "the normalisation has \(given.mean.count) channels, the input has \(inputShape[0])")
            }
            normalization = given
            notes.append("normalisation: mean \(given.mean), std \(given.std) (given)")
        } else if let head = ONNXNormalizationHead(reader, channels: inputShape[0]) {
            normalization = head.normalization
            skipped = Set(head.nodeIndices)
            input = head.output
            notes.append("normalisation: mean \(head.normalization.mean), std \(head.normalization.std) (found at the head of the graph)")
        } else {
            notes.append("normalisation: none found at the head of the graph; pixels enter the graph as they are (give --mean and --std if it expects standardised images)")
        }

        var mapping = ONNXNodeMapping(file: label, constants: reader.constants, input: input, inputShape: inputShape, exportBatch: reader.inputBatch)
        for (i, node) in reader.nodes.enumerated() where !skipped.contains(i) { try mapping.map(node) }

        // The logits: the graph's output, before a trailing Softmax.
        var logits = reader.outputName
        if let last = mapping.nodes.last(where: { $0.output == logits }), last.op == .softmax {
            logits = last.inputs[0]
            notes.append("dropped the trailing Softmax '\(last.name)': the model directory's logits are its input")
        }
        guard mapping.shapes[logits] != nil else {
            throw ONNXError(.unsupportedGraph, file: label, "the graph's output '\(reader.outputName)' is not made by a supported node")
        }

        // The features: the owner's node, the exporter's note, or the input of the last linear node.
        let features: String
        if let named = options.features ?? reader.metadata[featuresMetadataKey] {
            guard let value = mapping.outputOfNode[named] ?? (mapping.shapes[named] != nil ? named : nil) else {
                throw ONNXError(.invalidOption, file: label, "no node or value named '\(named)' to take the features from")
            }
            features = value
            notes.append("features: the output of '\(named)'")
        } else {
            guard let value = mapping.linearInputs.last else {
                throw ONNXError(.unsupportedGraph, file: label, "the graph has no Gemm or MatMul whose input could be the penultimate features; name a node with --features")
            }
            features = value
            notes.append("features: the input of the last Gemm/MatMul ('\(value)')")
        }

        // Drop nodes the logits and features do not need (a Softmax cut off above, say).
        let spec = pruned(GraphSpec(input: input, nodes: mapping.nodes, features: features, logits: logits))
        let network: GraphNetwork
        do {
            network = try GraphNetwork(spec: spec, inputShape: inputShape)
        } catch let error as GraphError {
            throw ONNXError(.unsupportedGraph, file: label, error.description)
        }
        for (key, tensor) in network.stateDict() {
            let values = mapping.tensors[key]!
            values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
        }
        let classes = network.shapes.classes
        if let problem = ModelManifest.problem(architecture: .graph, classes: classes, inputShape: inputShape) {
            throw ONNXError(.unsupportedGraph, file: label, problem)
        }
        notes.append("\(spec.nodes.count) nodes, input \(inputShape), \(classes) classes, \(network.shapes.featureWidth) features")
        let manifest = ModelManifest(architecture: .graph, classes: classes, inputShape: inputShape, normalization: normalization,
                                     source: "onnx", classNames: classes == 10 && inputShape == [1, 28, 28] ? FashionMNIST.classNames : nil,
                                     graph: spec)
        return ONNXImportResult(model: TrainedModel(classifier: Classifier(graph: network), manifest: manifest), notes: notes)
    }

    /// `[C, H, W]` from the graph or the option, which must agree when both are given.
    static func inputShape(_ reader: ONNXGraphReader, options: ONNXImportOptions) throws -> [Int] {
        switch (reader.inputShape, options.inputShape) {
        case (let graph?, let given?) where graph != given:
            throw ONNXError(.invalidOption, file: reader.file, "--input-shape \(given) differs from the graph's input \(graph)")
        case (let graph?, _):
            return graph
        case (nil, let given?):
            return given
        case (nil, nil):
            throw ONNXError(.unsupportedGraph, file: reader.file, "the graph's input '\(reader.inputName)' leaves its channels, height or width open; give --input-shape C,H,W")
        }
    }

    /// The spec without nodes that neither the logits nor the features depend on.
    static func pruned(_ spec: GraphSpec) -> GraphSpec {
        var needed: Set<String> = [spec.logits, spec.features]
        var kept: [GraphSpec.Node] = []
        for node in spec.nodes.reversed() where needed.contains(node.output) {
            kept.append(node)
            needed.formUnion(node.inputs)
        }
        var out = spec
        out.nodes = kept.reversed()
        return out
    }
}
