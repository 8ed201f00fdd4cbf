import Datasets
import Foundation
import NeuralNet
import TensorEngine
import Training

/// `honeytrace export --onnx`: a model directory's model as an ONNX file that takes [0, 1]
/// pixels (its normalisation as Sub and Div at the head) and answers the same logits.
public enum ONNXExport {
    /// The opset written; its operators are the ones the importer reads back.
    public static let opset: Int64 = 17

    /// The serialised ONNX model.
    public static func data(of model: TrainedModel) throws -> Data {
        let network: GraphNetwork
        do {
            network = try model.classifier.asGraph(inputShape: model.inputShape)
        } catch let error as GraphError {
            throw ONNXError(.unsupportedGraph, file: "model", error.description)
        }
        return try proto(network, normalization: model.manifest.normalization, inputShape: model.inputShape).serializedData()
    }

    /// Writes `model` to `path`.
    public static func write(_ model: TrainedModel, to path: String) throws {
        let bytes = try data(of: model)
        do {
            try bytes.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ONNXError(.invalidOption, file: path, "cannot be written: \(error.localizedDescription)")
        }
    }

    static func proto(_ network: GraphNetwork, normalization: Normalization, inputShape: [Int]) -> Onnx_ModelProto {
        let spec = network.spec
        var graph = Onnx_GraphProto()
        graph.name = "honeytrace"
        var used = Set(spec.nodes.map(\.output) + [spec.input])
        func fresh(_ base: String) -> String {
            var name = base, n = 2
            while used.contains(name) { name = "\(base)_\(n)"; n += 1 }
            used.insert(name)
            return name
        }

        // The normalisation of [0, 1] pixels, unless it is the identity.
        var pixels = spec.input
        if normalization != .identity {
            pixels = fresh("pixels")
            let c = inputShape[0]
            let mean = normalization.mean.count == c ? normalization.mean : Array(repeating: normalization.mean[0], count: c)
            let std = normalization.std.count == c ? normalization.std : Array(repeating: normalization.std[0], count: c)
            let meanName = fresh("normalization.mean"), stdName = fresh("normalization.std"), centred = fresh("normalization_centred")
            graph.initializer.append(ONNXTensor.proto(name: meanName, shape: [1, c, 1, 1], floats: mean))
            graph.initializer.append(ONNXTensor.proto(name: stdName, shape: [1, c, 1, 1], floats: std))
            graph.node.append(node("Sub", name: fresh("normalization_sub"), [pixels, meanName], centred))
            graph.node.append(node("Div", name: fresh("normalization_div"), [centred, stdName], spec.input))
        }
        graph.input = [valueInfo(pixels, dims: [nil] + inputShape)]

        for n in spec.nodes {
            let t = network.nodeTensors[n.name]
            func initializer(_ tensor: String, as name: String? = nil) -> String {
                let key = name ?? "\(n.name).\(tensor)"
                let value = t![tensor]!
                graph.initializer.append(ONNXTensor.proto(name: key, shape: value.shape, floats: value.scalars))
                return key
            }
            var attrs: [Onnx_AttributeProto] = []
            let inputs = n.inputs
            switch n.op {
            case .conv(let stride, let padding, let bias):
                let w = t!["weight"]!
                attrs = [ints("kernel_shape", [w.shape[2], w.shape[3]]), ints("strides", [stride, stride]),
                         ints("pads", [padding, padding, padding, padding]), ints("dilations", [1, 1]), int("group", 1)]
                graph.node.append(node("Conv", name: n.name, inputs + [initializer("weight")] + (bias ? [initializer("bias")] : []), n.output, attrs))
            case .batchNorm(let eps, let momentum):
                attrs = [float("epsilon", eps), float("momentum", 1 - momentum)]
                graph.node.append(node("BatchNormalization", name: n.name,
                                       inputs + ["weight", "bias", "running_mean", "running_var"].map { initializer($0) }, n.output, attrs))
            case .linear(let bias):
                attrs = [int("transB", 1)]
                graph.node.append(node("Gemm", name: n.name, inputs + [initializer("weight")] + (bias ? [initializer("bias")] : []), n.output, attrs))
            case .relu:
                graph.node.append(node("Relu", name: n.name, inputs, n.output))
            case .maxPool(let k, let s), .avgPool(let k, let s):
                attrs = [ints("kernel_shape", [k, k]), ints("strides", [s, s])]
                let op = if case .maxPool = n.op { "MaxPool" } else { "AveragePool" }
                graph.node.append(node(op, name: n.name, inputs, n.output, attrs))
            case .globalAvgPool:
                graph.node.append(node("GlobalAveragePool", name: n.name, inputs, n.output))
            case .flatten:
                graph.node.append(node("Flatten", name: n.name, inputs, n.output, [int("axis", 1)]))
            case .reshape(let shape):
                let key = fresh("\(n.name).shape")
                graph.initializer.append(ONNXTensor.proto(name: key, int64s: [0] + shape.map { Int64($0) }))
                graph.node.append(node("Reshape", name: n.name, inputs + [key], n.output))
            case .softmax:
                graph.node.append(node("Softmax", name: n.name, inputs, n.output, [int("axis", -1)]))
            case .identity:
                graph.node.append(node("Identity", name: n.name, inputs, n.output))
            case .binary(let op, let constant, let constantFirst):
                let opType = ["add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"][op.rawValue]!
                var operands = inputs
                if constant {
                    let c = initializer("constant")
                    operands = constantFirst ? [c, inputs[0]] : [inputs[0], c]
                }
                graph.node.append(node(opType, name: n.name, operands, n.output))
            }
        }
        graph.output = [valueInfo(spec.logits, dims: [nil, network.shapes.classes])]

        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "honeytrace"
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = opset
        model.opsetImport = [opsetID]
        var features = Onnx_StringStringEntryProto()
        features.key = ONNXImport.featuresMetadataKey
        features.value = spec.features
        model.metadataProps = [features]
        model.graph = graph
        return model
    }

    private static func node(_ op: String, name: String, _ inputs: [String], _ output: String, _ attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name
        n.input = inputs
        n.output = [output]
        n.attribute = attributes
        return n
    }

    /// A FLOAT tensor value of `dims` (nil: the batch, left open as "N").
    private static func valueInfo(_ name: String, dims: [Int?]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "N" }
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = 1
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }

    private static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = values.map { Int64($0) }
        return a
    }

    private static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    private static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }
}
