import Foundation

extension ModelManifest {
    /// Decodes and checks the bytes of a `model.json`; `path` names the file in errors.
    ///
    /// - Throws: `TrainingError` naming the file and the problem: not JSON, a missing, null or
    ///   wrongly typed field, a newer format version, classes or input shape out of range, or a
    ///   normalisation whose channels differ from the input's.
    public static func decode(_ json: Data, path: String) throws -> ModelManifest {
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: json)
        } catch let DecodingError.dataCorrupted(context) {
            throw TrainingError(file: path, "not valid JSON: \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw TrainingError(file: path, "field '\(key.stringValue)' is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw TrainingError(file: path, "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw TrainingError(file: path, "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' is null")
        } catch {
            throw TrainingError(file: path, "cannot be read: \(error)")
        }
        guard manifest.formatVersion <= currentFormatVersion else {
            throw TrainingError(file: path, "format version \(manifest.formatVersion) is newer than this honeytrace understands (\(currentFormatVersion))")
        }
        if let problem = problem(architecture: manifest.architecture, classes: manifest.classes, inputShape: manifest.inputShape) {
            throw TrainingError(file: path, problem)
        }
        guard manifest.normalization.fits(channels: manifest.inputShape[0]) else {
            throw TrainingError(file: path, "normalisation has \(manifest.normalization.mean.count) channels, the input has \(manifest.inputShape[0])")
        }
        return manifest
    }
}
