import Crypto
import Formats
import Foundation
import Training

/// Reading and writing watermark keys: one safetensors file, written atomically with owner-only
/// permissions (0600). The layout is documented in docs/key-format.md:
///
/// - tensors `images` [n, C, H, W], `features` [n, F], `reference_logits` [R, K] (F32), and
///   optionally `feature_std` [F], `data_features` [M, F] (F32), `data_labels` [M] (I64),
///   `logo` [c, h, w] and `logo_alpha` [h, w] (F32, logo recipes), `mark_probe` [F + 1] (F32:
///   the probe's weights, then its bias);
/// - `__metadata__`: `format` = `honeytrace-watermark-key` and `honeytrace_key` = a JSON object
///   with the format version, recipe, shapes, secret (hex), model binding, defense settings,
///   creation record and a SHA-256 over all tensors; and (from format version 2)
///   `honeytrace_key_sha256` = the SHA-256 of that JSON's bytes. Both are checked on load, so any
///   damage to, or edit of, the data or the metadata (secret, target, offset…) is caught.
public enum WatermarkKeyFile {
    /// The format version this code writes and the newest it reads.
    public static let formatVersion = 2
    /// The first format version whose metadata JSON is covered by `metadataDigestKey`.
    public static let firstVersionWithMetadataDigest = 2
    /// Value of the `format` metadata entry.
    public static let formatName = "honeytrace-watermark-key"
    /// Metadata entry holding the key's JSON.
    public static let metadataKey = "honeytrace_key"
    /// Metadata entry holding the SHA-256 (hex) of the key's JSON bytes.
    public static let metadataDigestKey = "honeytrace_key_sha256"
    /// File mode of key files: owner read/write only.
    public static let permissions = 0o600

    /// The key's JSON metadata.
    struct Metadata: Codable {
        var formatVersion: Int
        var recipe: WatermarkRecipe
        var inputShape: [Int]
        var classes: Int
        var featureWidth: Int
        var watermarks: Int
        var referenceCount: Int
        var secret: String
        var model: ModelBinding
        var defense: DefenseConfiguration
        /// Absent in keys without a heavy-client defense.
        var heavyClient: HeavyClientPolicy?
        var creation: KeyCreation
        var tensorsSHA256: String

        enum CodingKeys: String, CodingKey {
            case formatVersion = "format_version", recipe, inputShape = "input_shape", classes, featureWidth = "feature_width"
            case watermarks, referenceCount = "reference_count", secret, model, defense, heavyClient = "heavy_client", creation
            case tensorsSHA256 = "tensors_sha256"
        }
    }

    private struct VersionProbe: Decodable {
        var formatVersion: Int?
        enum CodingKeys: String, CodingKey { case formatVersion = "format_version" }
    }

    // MARK: Writing

    /// The key's tensors, in name order.
    static func tensors(of key: WatermarkKey) -> [SafeTensor] {
        let n = key.count, f = key.featureWidth
        var out = [
            SafeTensor(name: "images", shape: [n] + key.inputShape, floats: key.images),
            SafeTensor(name: "features", shape: [n, f], floats: key.features),
            SafeTensor(name: "reference_logits", shape: [key.referenceCount, key.classes], floats: key.referenceLogits),
        ]
        if let std = key.featureStd { out.append(SafeTensor(name: "feature_std", shape: [f], floats: std)) }
        if let df = key.dataFeatures, let dl = key.dataLabels {
            out.append(SafeTensor(name: "data_features", shape: [dl.count, f], floats: df))
            out.append(SafeTensor(name: "data_labels", shape: [dl.count], int64s: dl.map { Int64($0) }))
        }
        if let probe = key.markProbe { out.append(SafeTensor(name: "mark_probe", shape: [f + 1], floats: probe.weights + [probe.bias])) }
        if let logo = key.recipe.logo {
            out.append(SafeTensor(name: "logo", shape: [logo.channels, logo.height, logo.width], floats: logo.pixels))
            out.append(SafeTensor(name: "logo_alpha", shape: [logo.height, logo.width], floats: logo.alpha))
        }
        return out.sorted { $0.name < $1.name }
    }

    /// SHA-256 over every tensor in name order: name, a zero byte, the shape as little-endian
    /// Int64s, then the values (F32 or I64, little-endian).
    static func checksum(_ tensors: [SafeTensor]) -> String {
        var h = SHA256()
        for t in tensors.sorted(by: { $0.name < $1.name }) {
            h.update(data: Array(t.name.utf8) + [0])
            let shape = t.shape.map { Int64($0).littleEndian }
            shape.withUnsafeBytes { h.update(bufferPointer: $0) }
            if t.dtype == .I64 {
                let v = (t.int64s ?? t.floats.map { Int64($0) }).map { $0.littleEndian }
                v.withUnsafeBytes { h.update(bufferPointer: $0) }
            } else {
                let v = t.floats.map { $0.bitPattern.littleEndian }
                v.withUnsafeBytes { h.update(bufferPointer: $0) }
            }
        }
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The bytes of a key file.
    public static func encode(_ key: WatermarkKey, label: String = "<watermark key>") throws -> Data {
        let tensors = tensors(of: key)
        var recipe = key.recipe
        recipe.logo = nil
        let meta = Metadata(formatVersion: formatVersion, recipe: recipe, inputShape: key.inputShape, classes: key.classes,
                            featureWidth: key.featureWidth, watermarks: key.count, referenceCount: key.referenceCount,
                            secret: key.secret.map { String(format: "%02x", $0) }.joined(), model: key.model,
                            defense: key.defense, heavyClient: key.heavyClient, creation: key.creation, tensorsSHA256: checksum(tensors))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(meta), as: UTF8.self)
        return try SafeTensors.encode(tensors, metadata: ["format": formatName, metadataKey: json, metadataDigestKey: Hashing.sha256(Data(json.utf8))],
                                      label: label)
    }

    /// Writes `key` to `path` atomically with owner-only permissions (0600).
    public static func save(_ key: WatermarkKey, to path: String) throws {
        let data = try encode(key, label: path)
        do {
            try AtomicFile.write(data, to: path, permissions: permissions)
        } catch let e as FormatError {
            throw HoneytraceError(file: path, .invalidArgument, "cannot write the key: \(e.problem)")
        }
    }

    // MARK: Reading

    /// Reads and validates a key file.
    ///
    /// - Throws: `HoneytraceError` (kind `.invalidKey`) naming `path` and the problem: no such
    ///   file, not a safetensors file or truncated, not a Honeytrace key, unknown format version,
    ///   missing or malformed metadata field, missing tensor, wrong dtype or shape, checksum
    ///   mismatch (damaged data), or inconsistent contents.
    public static func load(_ path: String) throws -> WatermarkKey {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw HoneytraceError(file: path, .invalidKey, "no such key file")
        }
        guard !isDirectory.boolValue else { throw HoneytraceError(file: path, .invalidKey, "is a directory, not a key file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HoneytraceError(file: path, .invalidKey, "cannot be read (permissions?)")
        }
        return try decode(data, label: path)
    }

    /// Parses and validates key-file bytes; `label` names them in errors.
    public static func decode(_ data: Data, label: String) throws -> WatermarkKey {
        func fail(_ problem: String) -> HoneytraceError { HoneytraceError(file: label, .invalidKey, problem) }
        let file: SafeTensorsFile
        do {
            file = try SafeTensors.parse(data, label: label)
        } catch let e as FormatError {
            let what = e.kind == .truncated ? "truncated or damaged key file" : "not a valid key file"
            throw fail("\(what): \(e.problem)")
        }
        guard let json = file.metadata[metadataKey] else {
            throw fail("not a Honeytrace watermark key: the safetensors metadata has no '\(metadataKey)' entry")
        }
        let bytes = Data(json.utf8)
        let probe: VersionProbe
        do { probe = try JSONDecoder().decode(VersionProbe.self, from: bytes) } catch {
            throw fail("key metadata is not valid JSON (damaged file?)")
        }
        guard let version = probe.formatVersion else { throw fail("key metadata has no format_version") }
        guard version >= 1 else { throw fail("unknown key format version \(version)") }
        guard version <= formatVersion else {
            throw fail("key format version \(version) is newer than this program understands (\(formatVersion)); upgrade honeytrace")
        }
        let meta: Metadata
        do {
            meta = try JSONDecoder().decode(Metadata.self, from: bytes)
        } catch let DecodingError.keyNotFound(key, context) {
            throw fail("key metadata field '\(path(context.codingPath + [key]))' is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw fail("key metadata field '\(path(context.codingPath))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw fail("key metadata field '\(path(context.codingPath))' is null")
        } catch let DecodingError.dataCorrupted(context) {
            throw fail("key metadata field '\(path(context.codingPath))' is invalid: \(context.debugDescription)")
        } catch {
            throw fail("key metadata cannot be read: \(error)")
        }

        // Shapes.
        guard meta.inputShape.count == 3, meta.inputShape.allSatisfy({ $0 > 0 }) else {
            throw fail("input_shape must be [channels, height, width], found \(meta.inputShape)")
        }
        let n = meta.watermarks, f = meta.featureWidth, k = meta.classes, r = meta.referenceCount
        guard n >= 1, f >= 1, k >= 2, r >= 1 else {
            throw fail("metadata counts must be positive (watermarks \(n), feature_width \(f), classes \(k), reference_count \(r))")
        }
        func tensor(_ name: String, _ shape: [Int]?, dtype: SafeTensorsDType = .F32, required: Bool = true) throws -> SafeTensor? {
            guard let t = file.tensors[name] else {
                if required { throw fail("missing tensor '\(name)'") }
                return nil
            }
            guard t.dtype == dtype else { throw fail("tensor '\(name)' has dtype \(t.dtype.rawValue), \(dtype.rawValue) expected") }
            if let shape, t.shape != shape {
                throw fail("tensor '\(name)' has shape \(t.shape), expected \(shape)")
            }
            return t
        }
        let images = try tensor("images", [n] + meta.inputShape)!
        let features = try tensor("features", [n, f])!
        let refs = try tensor("reference_logits", [r, k])!
        let std = try tensor("feature_std", [f], required: false)
        let dataLabels = try tensor("data_labels", nil, dtype: .I64, required: false)
        let dataFeatures = try tensor("data_features", dataLabels.map { [$0.shape.first ?? 0, f] }, required: false)
        if (dataLabels == nil) != (dataFeatures == nil) { throw fail("tensors 'data_features' and 'data_labels' must come together") }
        if let dataLabels, dataLabels.shape.count != 1 { throw fail("tensor 'data_labels' has shape \(dataLabels.shape), expected [M]") }
        let logo = try tensor("logo", nil, required: false)
        let logoAlpha = try tensor("logo_alpha", logo.map { Array($0.shape.dropFirst()) }, required: false)
        if (logo == nil) != (logoAlpha == nil) { throw fail("tensors 'logo' and 'logo_alpha' must come together") }
        if let logo, logo.shape.count != 3 { throw fail("tensor 'logo' has shape \(logo.shape), expected [channels, height, width]") }
        let probeTensor = try tensor("mark_probe", [f + 1], required: false)
        let known: Set<String> = ["images", "features", "reference_logits", "feature_std", "data_features", "data_labels", "logo", "logo_alpha",
                                  "mark_probe"]
        if let extra = file.orderedNames.first(where: { !known.contains($0) }) { throw fail("unexpected tensor '\(extra)'") }

        // Integrity.
        let actual = checksum(Array(file.tensors.values))
        guard actual == meta.tensorsSHA256 else {
            throw fail("corrupt key file: the tensor data does not match the checksum recorded when it was written (SHA-256 \(actual.prefix(16))…, expected \(meta.tensorsSHA256.prefix(16))…)")
        }
        guard let secret = Hex.decode(meta.secret), secret.count == WatermarkKey.secretLength else {
            throw fail("the secret must be \(WatermarkKey.secretLength * 2) hex digits")
        }

        var recipe = meta.recipe
        if let logo, let logoAlpha {
            do {
                recipe.logo = try LogoMark(pixels: logo.floats, channels: logo.shape[0], height: logo.shape[1], width: logo.shape[2],
                                           alpha: logoAlpha.floats)
            } catch let e as HoneytraceError {
                throw fail("tensor 'logo' is invalid: \(e.problem)")
            }
        } else if recipe.kind == .logo {
            throw fail("a logo key needs tensors 'logo' and 'logo_alpha'")
        }
        do {
            let markProbe = try probeTensor.map { try MarkProbe(weights: Array($0.floats.dropLast()), bias: $0.floats[f]) }
            try meta.heavyClient?.validate()
            var key = try WatermarkKey(recipe: recipe, inputShape: meta.inputShape, classes: k, images: images.floats,
                                       features: features.floats, referenceLogits: refs.floats, secret: secret, model: meta.model,
                                       defense: meta.defense, featureStd: std?.floats, dataFeatures: dataFeatures?.floats,
                                       dataLabels: dataLabels.map { ($0.int64s ?? []).map { Int($0) } }, markProbe: markProbe,
                                       creation: meta.creation)
            key.heavyClient = meta.heavyClient
            // Last, so that an out-of-range field is named as such; a valid edit is caught here.
            if version >= firstVersionWithMetadataDigest {
                guard let recorded = file.metadata[metadataDigestKey] else {
                    throw fail("key metadata has no '\(metadataDigestKey)' entry (format version \(version) needs it)")
                }
                let actual = Hashing.sha256(bytes)
                guard actual == recorded else {
                    throw fail("key metadata was changed or damaged: its SHA-256 is \(actual.prefix(16))…, '\(metadataDigestKey)' says \(recorded.prefix(16))…")
                }
            }
            return key
        } catch let e as HoneytraceError {
            throw fail(e.problem)
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

extension WatermarkKey {
    /// Reads a key file (see `WatermarkKeyFile.load`).
    public static func load(_ path: String) throws -> WatermarkKey { try WatermarkKeyFile.load(path) }

    /// Writes this key to `path` with owner-only permissions (see `WatermarkKeyFile.save`).
    public func save(to path: String) throws { try WatermarkKeyFile.save(self, to: path) }
}
