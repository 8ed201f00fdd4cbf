import TensorEngine

/// The reference architectures of docs/algorithms.md §9, with module trees identical to
/// bench/peer_torch.py so their parameter names are PyTorch's `state_dict` keys.
public enum Architecture: String, CaseIterable, Sendable, Codable {
    case fmnistCNN = "fmnist-cnn"
    case vggMini = "vgg-mini"
    case resnet8 = "resnet-8"

    /// Builds the network with PyTorch's default initialisation from a seed.
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
        }
    }

    /// Width of the penultimate features.
    public var featureWidth: Int {
        switch self {
        case .fmnistCNN, .vggMini: return 128
        case .resnet8: return 64
        }
    }
}

/// A classifier whose last layer is Linear; one forward pass yields logits and the
/// penultimate features (the Linear layer's input), which the defense needs together.
public final class Classifier: Module, @unchecked Sendable {
    public let architecture: Architecture
    public let layers: [Module]
    public let head: Linear

    public init(architecture: Architecture, layers: [Module]) {
        guard let head = layers.last as? Linear else { preconditionFailure("a Classifier must end with a Linear layer") }
        self.architecture = architecture
        self.layers = layers
        self.head = head
        super.init()
    }

    public var classes: Int { head.weight.shape[0] }

    /// Logits and penultimate features from one forward pass.
    public func forwardWithFeatures(_ x: Tensor) -> (logits: Tensor, features: Tensor) {
        let features = runLayers(layers.dropLast(), x)
        return (head(features), features)
    }

    /// Logits, penultimate features and the outputs of the layers at `hidden` (ascending indices
    /// into `layers`, before the head), from one forward pass; the loss needs hidden activations.
    public func forwardWithActivations(_ x: Tensor, hidden: [Int]) -> (logits: Tensor, features: Tensor, hidden: [Tensor]) {
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
        return (head(features), features, outputs)
    }

    public override func callAsFunction(_ x: Tensor) -> Tensor { forwardWithFeatures(x).logits }

    public override var children: [(String, Module)] { layers.enumerated().map { (String($0.offset), $0.element) } }
}
