import Foundation

extension ModelManifest {
    /// Decodes and checks the bytes of a `model.json`; `path` names the file in errors.
    ///
    /// - Throws: `TrainingError` naming the file and the problem: not JSON, a missing, null or
    ///   wrongly typed field, a newer format version, classes or input shape out of range, or a
    ///   normalisation whose channels differ from the input's, an empty weights hash, or (format
    ///   version 2 on) a manifest whose own SHA-256 is missing or differs (an edited `model.json`).
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
        guard !manifest.weightsSHA256.isEmpty else {
            throw TrainingError(file: path, "field 'weightsSHA256' is empty: nothing would check the weights")
        }
        if manifest.formatVersion >= firstVersionWithManifestDigest {
            guard let recorded = manifest.manifestSHA256 else {
                throw TrainingError(file: path, "field 'manifestSHA256' is missing (format version \(manifest.formatVersion) needs it)")
            }
            let actual = try manifest.canonicalDigest()
            guard actual == recorded else {
                throw TrainingError(file: path, "was changed or damaged: its canonical SHA-256 is \(actual.prefix(16))…, field 'manifestSHA256' says \(recorded.prefix(16))…")
            }
        }
        return manifest
    }
}
