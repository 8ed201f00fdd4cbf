import Crypto
import Foundation
import Formats

/// A PROWN trigger set as the owner keeps it: the triggers and their labels y*, the settings that made them,
/// the weights they were made for, the per-trigger guarantee and, optionally, the null models' trigger
/// accuracies that turn a suspect's trigger accuracy into a verdict.
///
/// On disk it is one JSON document; the pixels are little-endian Float32 in base64 with their SHA-256, so a
/// damaged or edited file is refused rather than verified against.
public struct PrownTriggerSet: Codable, Sendable, Equatable {
    public static let formatName = "honeytrace-prown-trigger-set"
    public static let formatVersion = 1

    /// The model the triggers were made for.
    public struct ModelIdentity: Codable, Sendable, Equatable {
        public var architecture: String
        public var weightsSHA256: String
        public var name: String
    }

    /// The owner data the pairs came from.
    public struct DataIdentity: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
        public var sha256: String
    }

    public var settings: PrownSettings
    public var model: ModelIdentity
    public var heldOut: DataIdentity
    /// `[C, H, W]`.
    public var imageShape: [Int]
    public var classes: Int
    /// y* of every trigger.
    public var labels: [Int]
    /// Where each trigger came from (pair, λ, source classes).
    public var sources: [PrownCandidate]
    /// `[n, C, H, W]` raw pixels in [0, 1].
    public var pixels: [Float]
    /// Per-trigger transfer probability bound at confidence 1 − α (Clopper–Pearson, m of m).
    public var guarantee: Double
    public var creation: PrownCreationStatistics
    public var nullModels: TriggerNullStatistics?

    public var count: Int { labels.count }
    public var imageSize: Int { imageShape.reduce(1, *) }

    // MARK: - File

    private struct Envelope: Codable {
        var format: String
        var formatVersion: Int
        var settings: PrownSettings
        var model: ModelIdentity
        var heldOut: DataIdentity
        var imageShape: [Int]
        var classes: Int
        var labels: [Int]
        var sources: [PrownCandidate]
        var pixelsFloat32Base64: String
        var pixelsSHA256: String
        var guarantee: Double
        var creation: PrownCreationStatistics
        var nullModels: TriggerNullStatistics?
    }

    static func sha256Hex(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    static func bytes(_ values: [Float]) -> Data {
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    /// The JSON document.
    public func encoded() throws -> Data {
        let raw = Self.bytes(pixels)
        let envelope = Envelope(format: Self.formatName, formatVersion: Self.formatVersion, settings: settings, model: model, heldOut: heldOut,
                                imageShape: imageShape, classes: classes, labels: labels, sources: sources,
                                pixelsFloat32Base64: raw.base64EncodedString(), pixelsSHA256: Self.sha256Hex(raw),
                                guarantee: guarantee, creation: creation, nullModels: nullModels)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(envelope)
    }

    /// Writes the set to `path` atomically.
    public func save(to path: String) throws {
        try AtomicFile.write(try encoded(), to: path)
    }

    /// Reads and checks a trigger-set file.
    /// - Throws: `BaselineError(.malformedFile)` naming the file and the field at fault.
    public static func load(_ path: String) throws -> PrownTriggerSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BaselineError(.malformedFile, "\(path): no such PROWN trigger-set file")
        }
        guard !isDirectory.boolValue else { throw BaselineError(.malformedFile, "\(path): is a directory, not a PROWN trigger-set file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BaselineError(.malformedFile, "\(path): cannot be read (permissions?)")
        }
        return try decode(data, label: path)
    }

    /// Decodes and checks a trigger-set document; `label` names it in errors.
    public static func decode(_ data: Data, label: String) throws -> PrownTriggerSet {
        func fail(_ problem: String) -> BaselineError { BaselineError(.malformedFile, "\(label): \(problem)") }
        let e: Envelope
        do { e = try JSONDecoder().decode(Envelope.self, from: data) } catch { throw fail(DecodingProblem.describe(error)) }
        guard e.format == formatName else { throw fail("field 'format' is '\(e.format)', expected '\(formatName)': not a PROWN trigger set") }
        guard e.formatVersion >= 1 && e.formatVersion <= formatVersion else {
            throw fail("field 'formatVersion' is \(e.formatVersion); this honeytrace reads versions 1...\(formatVersion)")
        }
        guard e.imageShape.count == 3, e.imageShape.allSatisfy({ $0 >= 1 && $0 <= 4096 }) else {
            throw fail("field 'imageShape' must be [channels, height, width] with sides 1...4096, found \(e.imageShape)")
        }
        guard e.classes >= 3 && e.classes <= 100_000 else { throw fail("field 'classes' must lie in 3...100000, found \(e.classes)") }
        let n = e.labels.count
        guard n >= 1 else { throw fail("field 'labels' is empty; a trigger set holds at least one trigger") }
        if let bad = e.labels.firstIndex(where: { !(0..<e.classes).contains($0) }) {
            throw fail("field 'labels[\(bad)]' is \(e.labels[bad]), outside 0..<\(e.classes)")
        }
        guard e.sources.count == n else { throw fail("field 'sources' has \(e.sources.count) entries for \(n) labels") }
        if let bad = e.sources.indices.first(where: { e.sources[$0].label != e.labels[$0] }) {
            throw fail("field 'sources[\(bad)].label' is \(e.sources[bad].label), but 'labels[\(bad)]' is \(e.labels[bad])")
        }
        guard let raw = Data(base64Encoded: e.pixelsFloat32Base64) else { throw fail("field 'pixelsFloat32Base64' is not base64") }
        let size = e.imageShape.reduce(1, *)
        guard raw.count == n * size * 4 else {
            throw fail("field 'pixelsFloat32Base64' holds \(raw.count) bytes, expected \(n * size * 4) (\(n) images of \(e.imageShape), Float32)")
        }
        guard sha256Hex(raw) == e.pixelsSHA256.lowercased() else {
            throw fail("field 'pixelsFloat32Base64' does not match 'pixelsSHA256' (damaged or edited file)")
        }
        var pixels = [Float](repeating: 0, count: n * size)
        raw.withUnsafeBytes { buffer in
            for i in 0..<(n * size) { pixels[i] = Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        }
        if let bad = pixels.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw fail("field 'pixelsFloat32Base64': value \(bad) of trigger \(bad / size) is \(pixels[bad]), outside [0, 1]")
        }
        guard e.guarantee >= 0 && e.guarantee <= 1 else { throw fail("field 'guarantee' is \(e.guarantee), outside [0, 1]") }
        do { try e.settings.validate() } catch let error as BaselineError { throw fail("field 'settings': \(error.problem)") }
        if let null = e.nullModels {
            guard null.models.count >= 2 else { throw fail("field 'nullModels.models' lists \(null.models.count) models; at least 2 are needed") }
            if let bad = null.models.firstIndex(where: { !($0.hits >= 0 && $0.hits <= n) }) {
                throw fail("field 'nullModels.models[\(bad)].hits' is \(null.models[bad].hits), outside 0...\(n)")
            }
        }
        return PrownTriggerSet(settings: e.settings, model: e.model, heldOut: e.heldOut, imageShape: e.imageShape, classes: e.classes,
                               labels: e.labels, sources: e.sources, pixels: pixels, guarantee: e.guarantee, creation: e.creation,
                               nullModels: e.nullModels)
    }
}
