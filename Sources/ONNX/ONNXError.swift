/// Why an ONNX file cannot be imported or a model exported: the file, and the first problem
/// found (for an unsupported operator or attribute, the node's name and op type).
public struct ONNXError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// Not a readable ONNX protobuf, or inconsistent within itself.
        case malformed
        /// An operator the importer does not map onto the engine.
        case unsupportedOperator
        /// A supported operator with an attribute value (or input) the engine cannot run.
        case unsupportedAttribute
        /// A graph outside what an image classifier import handles (inputs, outputs, opset).
        case unsupportedGraph
        /// An option that does not fit the model.
        case invalidOption
    }

    public let kind: Kind
    public let file: String
    public let problem: String

    public init(_ kind: Kind, file: String, _ problem: String) {
        self.kind = kind
        self.file = file
        self.problem = problem
    }

    /// A problem with one node, named by its name and op type.
    static func node(_ kind: Kind, _ node: Onnx_NodeProto, file: String, _ problem: String) -> ONNXError {
        ONNXError(kind, file: file, "node '\(node.name.isEmpty ? "(unnamed)" : node.name)' (\(node.opType)): \(problem)")
    }

    public var description: String { "\(file): \(problem)" }
}
