import Foundation
import Datasets
import NeuralNet

/// `model.json`: what a model directory holds besides its weights — enough to rebuild the
/// network, feed it correctly normalised inputs, and tell where it came from.
public struct ModelManifest: Codable, Sendable, Equatable {
    /// Bumped when the layout of a model directory changes incompatibly.
    public static let currentFormatVersion = 2
    /// The first format version whose manifest carries `manifestSHA256`.
    public static let firstVersionWithManifestDigest = 2

    public var formatVersion: Int
    public var architecture: Architecture
    public var classes: Int
    /// `[channels, height, width]` of one input image.
    public var inputShape: [Int]
    /// Applied to [0, 1] pixels before the network sees them.
    public var normalization: Normalization
    /// How the weights were made: "trained" (by `honeytrace train`), "imported", or a tool's name.
    public var source: String
    /// The recipe that trained the weights (nil for imported weights).
    public var recipe: TrainingRecipe?
    /// The training data: a name, the number of images and the SHA-256 of its pixels and labels.
    public var data: DataFingerprint?
    /// SHA-256 (hex) of `model.safetensors`, checked on load.
    public var weightsSHA256: String
    /// Measured figures, e.g. "test_accuracy", "train_seconds".
    public var metrics: [String: Double]
    /// Class names by label, when known.
    public var classNames: [String]?
    /// SHA-256 (hex) of the manifest's canonical JSON without this field (`canonicalDigest()`),
    /// filled in by `ModelDirectory.save` and checked on load (format version 2 and later).
    public var manifestSHA256: String?
    /// The network of architecture `graph` (nil for the reference architectures).
    public var graph: GraphSpec?

    public init(architecture: Architecture, classes: Int, inputShape: [Int], normalization: Normalization,
                source: String, recipe: TrainingRecipe? = nil, data: DataFingerprint? = nil,
                weightsSHA256: String = "", metrics: [String: Double] = [:], classNames: [String]? = nil, graph: GraphSpec? = nil) {
        self.formatVersion = Self.currentFormatVersion
        self.architecture = architecture
        self.classes = classes
        self.inputShape = inputShape
        self.normalization = normalization
        self.source = source
        self.recipe = recipe
        self.data = data
        self.weightsSHA256 = weightsSHA256
        self.metrics = metrics
        self.classNames = classNames
        self.graph = graph
    }
}

extension ModelManifest {
    /// Most classes a model may have: past this the output layer alone exhausts memory.
    public static let maxClasses = 100_000
    /// Most channels of an input image.
    public static let maxChannels = 64
    /// Longest side of an input image, in pixels.
    public static let maxImageSide = 1024
    /// Most values (C·H·W) in one input image.
    public static let maxImageValues = 1 << 22
    /// Longest side fmnist-cnn accepts: its first Linear layer grows with the square of the side.
    public static let maxFMNISTCNNSide = 256

    /// What is wrong with `classes` and `inputShape` for `architecture` (the field, what it must
    /// be, what it is), or nil when a network can be built from them. Checked before anything is
    /// allocated from them: a `model.json` or an option is outside data, and out-of-range values
    /// would overflow, exhaust memory or reach the engine's shape preconditions.
    public static func problem(architecture: Architecture, classes: Int, inputShape: [Int]) -> String? {
        guard (2...maxClasses).contains(classes) else {
            return "field 'classes': expected 2…\(maxClasses), found \(classes)"
        }
        guard inputShape.count == 3 else {
            return "field 'inputShape': expected [channels, height, width], found \(inputShape)"
        }
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        guard (1...maxChannels).contains(c) else {
            return "field 'inputShape': channels expected 1…\(maxChannels), found \(c) in \(inputShape)"
        }
        guard (1...maxImageSide).contains(h), (1...maxImageSide).contains(w) else {
            return "field 'inputShape': height and width expected 1…\(maxImageSide), found \(h) and \(w) in \(inputShape)"
        }
        guard c * h * w <= maxImageValues else {
            return "field 'inputShape': at most \(maxImageValues) values per image (C·H·W) expected, found \(c * h * w) in \(inputShape)"
        }
        switch architecture {
        case .fmnistCNN:
            // Its Linear layer is sized from one side, so a non-square input cannot fit it.
            guard h == w else {
                return "field 'inputShape': fmnist-cnn takes square images (height = width), found \(h)×\(w) in \(inputShape)"
            }
            guard (4...maxFMNISTCNNSide).contains(h) else {
                return "field 'inputShape': fmnist-cnn takes sides of 4…\(maxFMNISTCNNSide) pixels, found \(h) in \(inputShape)"
            }
        case .vggMini:
            guard h >= 4, w >= 4 else {
                return "field 'inputShape': vgg-mini pools twice by 2 and needs sides of at least 4 pixels, found \(h)×\(w) in \(inputShape)"
            }
        case .resnet8, .graph:
            // A graph model's spec is checked against the input shape when it is built.
            break
        }
        return nil
    }
}

/// Identifies a training set by content.
public struct DataFingerprint: Codable, Sendable, Equatable {
    public var name: String
    public var count: Int
    public var sha256: String

    public init(name: String, count: Int, sha256: String) {
        self.name = name
        self.count = count
        self.sha256 = sha256
    }

    /// Hashes the dataset's pixels (as Float32 bytes), labels and shape.
    public init(_ dataset: ImageDataset) {
        self.init(name: dataset.name, count: dataset.count, sha256: Hashing.sha256(dataset))
    }
}

extension ModelManifest {
    /// SHA-256 (hex) of the manifest encoded with sorted keys and no whitespace, `manifestSHA256`
    /// left out: any change of a field changes it.
    public func canonicalDigest() throws -> String {
        var unsealed = self
        unsealed.manifestSHA256 = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Hashing.sha256(try encoder.encode(unsealed))
    }
}
