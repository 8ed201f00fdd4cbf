import Foundation
import Formats
import NeuralNet
import TensorEngine

/// A model on disk: a directory holding `model.safetensors` (PyTorch state-dict names) and
/// `model.json` (the manifest). Each file is written to a temporary name and renamed into place.
public enum ModelDirectory {
    public static let weightsFile = "model.safetensors"
    public static let manifestFile = "model.json"

    /// Writes `model` to `directory` (created if needed); fills in the weights' hash, then the
    /// manifest's own (over every field, the weights' hash included).
    public static func save(_ model: TrainedModel, to directory: String) throws {
        let url = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw TrainingError(file: directory, "cannot create the model directory: \(error.localizedDescription)")
        }
        let weightsPath = url.appendingPathComponent(weightsFile).path
        let tensors = safeTensors(model.classifier)
        let data = try SafeTensors.encode(tensors, metadata: ["format": "pt", "architecture": model.manifest.architecture.rawValue],
                                          label: weightsPath)
        try AtomicFile.write(data, to: weightsPath)
        model.manifest.weightsSHA256 = Hashing.sha256(data)
        model.manifest.formatVersion = ModelManifest.currentFormatVersion
        model.manifest.manifestSHA256 = try model.manifest.canonicalDigest()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(model.manifest), to: url.appendingPathComponent(manifestFile).path)
    }

    /// Reads a model directory, checking the manifest (its fields, and its own SHA-256 from format
    /// version 2 on), the weights' hash and every tensor's name and shape. `verifyHash: false`
    /// skips only the weights' hash (tests reach the parser's errors with it).
    public static func load(_ directory: String, verifyHash: Bool = true) throws -> TrainedModel {
        let url = URL(fileURLWithPath: directory)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw TrainingError(file: directory, "no such model directory")
        }
        guard isDirectory.boolValue else { throw TrainingError(file: directory, "is a file; a model directory was expected") }
        let manifestPath = url.appendingPathComponent(manifestFile).path
        guard let json = FileManager.default.contents(atPath: manifestPath) else {
            throw TrainingError(file: manifestPath, "missing; a model directory holds \(manifestFile) and \(weightsFile)")
        }
        let manifest = try ModelManifest.decode(json, path: manifestPath)
        let weightsPath = url.appendingPathComponent(weightsFile).path
        guard let bytes = FileManager.default.contents(atPath: weightsPath) else {
            throw TrainingError(file: weightsPath, "missing; a model directory holds \(manifestFile) and \(weightsFile)")
        }
        if verifyHash {
            let actual = Hashing.sha256(bytes)
            guard actual == manifest.weightsSHA256 else {
                throw TrainingError(file: weightsPath, "SHA-256 \(actual) does not match the manifest's \(manifest.weightsSHA256); the weights were changed or damaged")
            }
        }
        let file = try SafeTensors.parse(bytes, label: weightsPath)
        let classifier = try classifier(for: manifest, label: manifestPath)
        try load(file, into: classifier, label: weightsPath)
        return TrainedModel(classifier: classifier, manifest: manifest)
    }

    /// An untrained network of the manifest's architecture: a reference architecture from its
    /// shape, or a graph model from the manifest's graph, checked to fit the input shape and classes.
    public static func classifier(for manifest: ModelManifest, label: String) throws -> Classifier {
        guard manifest.architecture == .graph else {
            guard manifest.graph == nil else { throw TrainingError(file: label, "field 'graph' is only for architecture 'graph'") }
            return manifest.architecture.build(inChannels: manifest.inputShape[0], classes: manifest.classes,
                                               imageSize: manifest.inputShape[1], seed: 0)
        }
        guard let spec = manifest.graph else { throw TrainingError(file: label, "architecture 'graph' needs field 'graph'") }
        let network: GraphNetwork
        do {
            network = try GraphNetwork(spec: spec, inputShape: manifest.inputShape)
        } catch let error as GraphError {
            throw TrainingError(file: label, "field 'graph': \(error)")
        }
        guard network.shapes.classes == manifest.classes else {
            throw TrainingError(file: label, "field 'graph' yields \(network.shapes.classes) classes, field 'classes' says \(manifest.classes)")
        }
        return Classifier(graph: network)
    }

    /// Copies a parsed safetensors file into a classifier, naming the file and tensor on any mismatch
    /// or on a NaN or infinite weight (such a model would answer NaN probabilities to every query).
    public static func load(_ file: SafeTensorsFile, into classifier: Classifier, label: String) throws {
        var values: [String: (shape: [Int], values: [Float])] = [:]
        for (name, t) in file.tensors.sorted(by: { $0.key < $1.key }) {
            let floats = t.int64s.map { $0.map(Float.init) } ?? t.floats
            if let i = floats.firstIndex(where: { !$0.isFinite }) {
                throw TrainingError(file: label, "tensor '\(name)' holds \(floats[i]) at index \(i); weights must be finite numbers")
            }
            values[name] = (t.shape, floats)
        }
        do {
            try classifier.loadStateDict(values)
        } catch let error as StateDictError {
            throw TrainingError(file: label, "does not fit architecture \(classifier.architecture.rawValue): \(error)")
        }
    }

    /// The state dict as safetensors: Float32, except BatchNorm's counter as an I64 scalar like PyTorch.
    public static func safeTensors(_ classifier: Classifier) -> [SafeTensor] {
        classifier.stateDict().map { name, t in
            if name.hasSuffix("num_batches_tracked") {
                return SafeTensor(name: name, shape: [], int64s: [Int64(t.scalars[0])])
            }
            return SafeTensor(name: name, shape: t.shape, floats: t.scalars)
        }
    }
}
