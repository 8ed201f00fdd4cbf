/// The structure of a graph model: engine operations over named values, in an order where
/// every value is made before it is used, from one input image batch to the logits, with
/// the penultimate features at a named value. Saved in `model.json`; the node tensors go to
/// `model.safetensors` as `<node>.<tensor>`.
public struct GraphSpec: Codable, Sendable, Equatable {
    /// One operation: reads values `inputs`, writes value `output`.
    public struct Node: Codable, Sendable, Equatable {
        /// Unique, without dots: the prefix of the node's tensor names.
        public var name: String
        public var op: GraphOp
        public var inputs: [String]
        public var output: String
        /// Shapes of the node's tensors (`op.tensorNames`).
        public var tensorShapes: [String: [Int]]

        public init(name: String, op: GraphOp, inputs: [String], output: String, tensorShapes: [String: [Int]] = [:]) {
            self.name = name
            self.op = op
            self.inputs = inputs
            self.output = output
            self.tensorShapes = tensorShapes
        }
    }

    /// Name of the input value: normalised images [N, C, H, W].
    public var input: String
    public var nodes: [Node]
    /// The value holding the penultimate features (flattened per sample).
    public var features: String
    /// The value holding the logits [N, classes].
    public var logits: String

    public init(input: String, nodes: [Node], features: String, logits: String) {
        self.input = input
        self.nodes = nodes
        self.features = features
        self.logits = logits
    }
}
