import TensorEngine

/// The reference architectures of docs/algorithms.md §9, with module trees identical to
/// bench/peer_torch.py so their parameter names are PyTorch's `state_dict` keys; and `graph`,
/// a network described by its own `GraphSpec` (an imported model), which `build` cannot make.
public enum Architecture: String, CaseIterable, Sendable, Codable {
    case fmnistCNN = "fmnist-cnn"
    case vggMini = "vgg-mini"
    case resnet8 = "resnet-8"
    case graph = "graph"

    /// The reference architectures, the ones `build` makes (every case but `graph`).
    public static var allCases: [Architecture] { [.fmnistCNN, .vggMini, .resnet8] }

    /// Builds the network with PyTorch's default initialisation from a seed; a reference architecture only.
    public func build(inChannels: Int = 1, classes: Int = 10, imageSize: Int = 28, seed: UInt64) -> Classifier {
        var g = SeededGenerator(seed: seed)
        let layers: [Module]
        switch self {
        case .fmnistCNN:
            let flat = 64 * (imageSize / 4) * (imageSize / 4)
            layers = [Conv2d(inChannels, 32, kernel: 3, padding: 1, generator: &g), ReLU(), MaxPool2d(2),
                      Conv2d(32, 64, kernel: 3, padding: 1, generator: &g), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(flat, 128, generator: &g), ReLU(), Linear(128, classes, generator: &g)]
        case .vggMini:
            func block(_ i: Int, _ o: Int) -> [Module] {
                [Conv2d(i, o, kernel: 3, padding: 1, bias: false, generator: &g), BatchNorm2d(o), ReLU()]
            }
            layers = block(inChannels, 32) + block(32, 32) + [MaxPool2d(2)]
                + block(32, 64) + block(64, 64) + [MaxPool2d(2)]
                + block(64, 128) + block(128, 128) + [GlobalAvgPool(), Flatten(), Linear(128, classes, generator: &g)]
        case .resnet8:
            layers = [Conv2d(inChannels, 16, kernel: 3, padding: 1, bias: false, generator: &g), BatchNorm2d(16), ReLU(),
                      BasicBlock(16, 16, stride: 1, generator: &g), BasicBlock(16, 32, stride: 2, generator: &g),
                      BasicBlock(32, 64, stride: 2, generator: &g),
                      GlobalAvgPool(), Flatten(), Linear(64, classes, generator: &g)]
        case .graph:
            preconditionFailure("a graph model is built from its GraphSpec (Classifier(graph:)), not from the architecture alone")
        }
        return Classifier(architecture: self, layers: layers)
    }

    /// Indices into `Classifier.layers` of two hidden layers (the ends of the first and second
    /// stages) whose activations feature-space watermarks such as EWE's loss act on.
    public var hiddenLayerIndices: [Int] {
        switch self {
        case .fmnistCNN: return [2, 5]
        case .vggMini: return [6, 13]
        case .resnet8: return [3, 4]
        case .graph: return []
        }
    }

    /// Width of the penultimate features (nil for `graph`, where the spec decides).
    public var featureWidth: Int? {
        switch self {
        case .fmnistCNN, .vggMini: return 128
        case .resnet8: return 64
        case .graph: return nil
        }
    }
}

/// A classifier whose one forward pass yields logits and the penultimate features, which the
/// defense needs together: layers ending with a Linear head (the features are its input), or
/// a graph network that names its features value.
public final class Classifier: Module, @unchecked Sendable {
    public let architecture: Architecture
    public let layers: [Module]
    /// The last Linear layer of a reference architecture; nil for a graph model.
    public let head: Linear?
    /// The network of a graph model; nil for a reference architecture.
    public let graph: GraphNetwork?
    public let classes: Int
    /// Width of the penultimate features.
    public let featureWidth: Int

    public init(architecture: Architecture, layers: [Module]) {
        guard let head = layers.last as? Linear else { preconditionFailure("a Classifier must end with a Linear layer") }
        self.architecture = architecture
        self.layers = layers
        self.head = head
        graph = nil
        classes = head.weight.shape[0]
        featureWidth = head.weight.shape[1]
        super.init()
    }

    /// A graph model: the architecture `graph`, whose state dict is the network's.
    public init(graph: GraphNetwork) {
        architecture = .graph
        layers = [graph]
        head = nil
        self.graph = graph
        classes = graph.shapes.classes
        featureWidth = graph.shapes.featureWidth
        super.init()
    }

    /// Logits and penultimate features from one forward pass.
    public func forwardWithFeatures(_ x: Tensor) -> (logits: Tensor, features: Tensor) {
        if let graph { return graph.run(x) }
        let features = runLayers(layers.dropLast(), x)
        return (head!(features), features)
    }

    /// Logits, penultimate features and the outputs of the layers at `hidden` (ascending indices
    /// into `layers`, before the head), from one forward pass; the loss needs hidden activations.
    public func forwardWithActivations(_ x: Tensor, hidden: [Int]) -> (logits: Tensor, features: Tensor, hidden: [Tensor]) {
        if let graph {
            precondition(hidden.isEmpty, "a graph model names no hidden layers")
            let (logits, features) = graph.run(x)
            return (logits, features, [])
        }
        precondition(zip(hidden, hidden.dropFirst()).allSatisfy { $0 < $1 } && hidden.allSatisfy { (0..<(layers.count - 1)).contains($0) },
                     "hidden layer indices \(hidden) must ascend within 0..<\(layers.count - 1)")
        var outputs: [Tensor] = []
        var h = x, start = 0
        for i in hidden {
            h = runLayers(layers[start...i], h)
            outputs.append(h)
            start = i + 1
        }
        let features = runLayers(layers[start..<(layers.count - 1)], h)
        return (head!(features), features, outputs)
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor { forwardWithFeatures(x).logits }

    public override var children: [(String, Module)] {
        if let graph { return graph.children }
        return layers.enumerated().map { (String($0.offset), $0.element) }
    }
}
