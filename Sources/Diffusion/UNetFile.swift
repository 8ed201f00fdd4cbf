import Foundation
import Formats
import NeuralNet

/// A noise U-Net's weights as safetensors, written through a temporary file and a rename, with
/// the settings that made them in the metadata so a resumed run can tell whether they still fit.
public enum UNetFile {
    static let settingsKey = "honeytrace.unet.settings"

    public static func write(_ model: NoiseUNet, settings: String, to path: String) throws {
        let tensors = model.stateDict().map { SafeTensor(name: $0.0, shape: $0.1.shape, floats: $0.1.scalars) }
        try AtomicFile.write(try SafeTensors.encode(tensors, metadata: [settingsKey: settings], label: path), to: path)
    }

    /// The weights at `path` loaded into `model` when they were written with `settings`; false when
    /// there is no file or it was made with other settings (the caller trains afresh).
    public static func load(into model: NoiseUNet, settings: String, from path: String) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        let file = try SafeTensors.read(path: path)
        guard file.metadata[settingsKey] == settings else { return false }
        do {
            try model.loadStateDict(file.tensors.mapValues { ($0.shape, $0.floats) })
        } catch {
            throw DiffusionError("\(path): the weights do not fit the U-Net: \(error)")
        }
        return true
    }
}
