import Formats
import Foundation
import TensorEngine

/// One logged DAWN watermark query: the quantised image, the label the model gave and the wrong
/// label answered instead.
public struct DAWNLogEntry: Sendable, Equatable {
    /// The query's canonical bytes (C·H·W pixels, `round(clamp(x, 0, 1) · 255)`).
    public var image: [UInt8]
    /// The model's own top-1 label.
    public var originalLabel: Int
    /// The wrong top-1 label the client received.
    public var answeredLabel: Int
    /// Hex HMAC tag of the query (names it; repeated queries are logged once).
    public var digest: String

    public init(image: [UInt8], originalLabel: Int, answeredLabel: Int, digest: String) {
        self.image = image
        self.originalLabel = originalLabel
        self.answeredLabel = answeredLabel
        self.digest = digest
    }

    /// The entry of a query DAWN marked.
    public init(image: [UInt8], mark: DAWNMark) {
        self.init(image: image, originalLabel: mark.originalLabel, answeredLabel: mark.answeredLabel,
                  digest: Hex.encode(mark.digest))
    }
}

/// One API client's DAWN log: every watermark query it received, in order, the first
/// `watermarkSize` forming its watermark. What an owner keeps to verify a suspect; verification
/// needs the log only, not the secret.
///
/// File (JSON, written atomically to a temporary file and renamed into place):
///
/// ```json
/// {"format": "honeytrace-dawn-log", "version": 1, "client": "alice",
///  "secret_fingerprint": "…16 hex…", "model_sha256": "…64 hex…" or null,
///  "input_shape": [1, 28, 28], "classes": 10, "watermark_size": 100,
///  "entries": [{"image": "<base64 of the C·H·W quantised bytes>", "original_label": 3,
///               "answered_label": 6, "digest": "…64 hex…"}, …]}
/// ```
public struct DAWNWatermarkLog: Sendable, Equatable {
    public static let format = "honeytrace-dawn-log"
    public static let version = 1

    /// The API client the entries were answered to.
    public var client: String
    /// `DAWNSecret.fingerprint` of the secret that chose them.
    public var secretFingerprint: String
    /// SHA-256 of the served model's weights, when known.
    public var modelSHA256: String?
    /// `[C, H, W]` of every image.
    public var inputShape: [Int]
    /// Number of classes of the model (K in the chance rate 1/(K − 1)).
    public var classes: Int
    /// How many first entries form the watermark.
    public var watermarkSize: Int
    public var entries: [DAWNLogEntry]

    public init(client: String, secretFingerprint: String, modelSHA256: String? = nil, inputShape: [Int], classes: Int,
                watermarkSize: Int = DAWNConfiguration().watermarkSize, entries: [DAWNLogEntry] = []) {
        self.client = client
        self.secretFingerprint = secretFingerprint
        self.modelSHA256 = modelSHA256
        self.inputShape = inputShape
        self.classes = classes
        self.watermarkSize = watermarkSize
        self.entries = entries
    }

    /// The client's watermark: its first `watermarkSize` entries.
    public var watermark: ArraySlice<DAWNLogEntry> { entries.prefix(watermarkSize) }

    /// The watermark's images as raw [0, 1] pixels `[n, C, H, W]` (each byte / 255).
    public func watermarkImages() -> Tensor {
        let size = inputShape.reduce(1, *)
        var pixels = [Float]()
        pixels.reserveCapacity(watermark.count * size)
        for e in watermark { pixels.append(contentsOf: e.image.map { Float($0) / 255 }) }
        return Tensor(pixels, shape: [watermark.count] + inputShape)
    }

    // MARK: File

    private struct FileEntry: Codable {
        var image: String
        // Numbers, checked to be integers here: the decoder names no field for a fraction.
        var original_label: Double
        var answered_label: Double
        var digest: String
    }

    private struct File: Codable {
        var format: String
        var version: Int
        var client: String
        var secret_fingerprint: String
        var model_sha256: String?
        var input_shape: [Int]
        var classes: Int
        var watermark_size: Int
        var entries: [FileEntry]
    }

    /// Writes the log to `path` atomically.
    public func write(to path: String) throws {
        let file = File(format: Self.format, version: Self.version, client: client, secret_fingerprint: secretFingerprint,
                        model_sha256: modelSHA256, input_shape: inputShape, classes: classes, watermark_size: watermarkSize,
                        entries: entries.map { FileEntry(image: Data($0.image).base64EncodedString(), original_label: Double($0.originalLabel),
                                                         answered_label: Double($0.answeredLabel), digest: $0.digest) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(file), to: path)
    }

    /// Reads a log file.
    ///
    /// - Throws: `malformedFile` naming the file and the field (`entries[3].answered_label`) when
    ///   the file cannot be read, is not JSON, lacks a field, or holds a value out of range.
    public static func load(_ path: String) throws -> DAWNWatermarkLog {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw BaselineError(.malformedFile, "\(path): cannot read the DAWN log: \(error.localizedDescription)")
        }
        return try decode(data, path: path)
    }

    /// Parses the bytes of a log file; `path` names it in errors.
    public static func decode(_ data: Data, path: String) throws -> DAWNWatermarkLog {
        func fail(_ field: String, _ problem: String) -> BaselineError {
            BaselineError(.malformedFile, "\(path): field \(field): \(problem)")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch let error as DecodingError {
            throw describe(error, path: path)
        } catch {
            throw BaselineError(.malformedFile, "\(path): not a DAWN log: \(error)")
        }
        guard file.format == Self.format else { throw fail("format", "expected \"\(Self.format)\", found \"\(file.format)\"") }
        guard file.version == Self.version else { throw fail("version", "this build reads version \(Self.version), found \(file.version)") }
        guard file.input_shape.count == 3, file.input_shape.allSatisfy({ (1...4096).contains($0) }),
              file.input_shape.reduce(1, *) <= 1 << 24 else {
            throw fail("input_shape", "expected [C, H, W] with sides of 1–4096 and at most 2^24 values, found \(file.input_shape)")
        }
        guard (2...100_000).contains(file.classes) else { throw fail("classes", "expected 2–100000 classes, found \(file.classes)") }
        guard file.watermark_size >= 1 else { throw fail("watermark_size", "expected at least 1, found \(file.watermark_size)") }
        let size = file.input_shape.reduce(1, *)
        var entries: [DAWNLogEntry] = []
        entries.reserveCapacity(file.entries.count)
        for (i, e) in file.entries.enumerated() {
            guard let image = Data(base64Encoded: e.image) else { throw fail("entries[\(i)].image", "not base64") }
            guard image.count == size else {
                throw fail("entries[\(i)].image", "expected \(size) bytes (\(file.input_shape.map(String.init).joined(separator: "×"))), found \(image.count)")
            }
            var labels: [Int] = []
            for (name, label) in [("original_label", e.original_label), ("answered_label", e.answered_label)] {
                guard label >= 0, label < Double(file.classes), label == label.rounded() else {
                    throw fail("entries[\(i)].\(name)", "expected a class in 0..<\(file.classes), found \(label)")
                }
                labels.append(Int(label))
            }
            guard labels[1] != labels[0] else {
                throw fail("entries[\(i)].answered_label", "equals original_label (\(labels[0])); a watermark answer is always a wrong label")
            }
            guard e.digest.count == 64, Hex.decode(e.digest) != nil else {
                throw fail("entries[\(i)].digest", "expected 64 hex digits, found \"\(e.digest.prefix(80))\"")
            }
            entries.append(DAWNLogEntry(image: [UInt8](image), originalLabel: labels[0], answeredLabel: labels[1], digest: e.digest))
        }
        return DAWNWatermarkLog(client: file.client, secretFingerprint: file.secret_fingerprint, modelSHA256: file.model_sha256,
                                inputShape: file.input_shape, classes: file.classes, watermarkSize: file.watermark_size, entries: entries)
    }

    private static func describe(_ error: DecodingError, path: String) -> BaselineError {
        func field(_ codingPath: [any CodingKey]) -> String {
            var s = ""
            for key in codingPath {
                if let i = key.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + key.stringValue }
            }
            return s
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = field(context.codingPath)
            return BaselineError(.malformedFile, "\(path): field \(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue) is missing")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return BaselineError(.malformedFile, "\(path): field \(field(context.codingPath)): expected \(typeName(type))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return BaselineError(.malformedFile, "\(path): not valid JSON, or a number that does not fit its field (\(context.debugDescription))")
            }
            return BaselineError(.malformedFile, "\(path): field \(field(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return BaselineError(.malformedFile, "\(path): not a DAWN log: \(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is String.Type: return "a string"
        case is [Int].Type: return "an array of integers"
        default: return "\(type)"
        }
    }
}

/// Every client's DAWN log, in memory and thread-safe: what a `DAWNAPI` records. A repeated
/// query (same tag) is logged once: asking it again gives the same answer and no new evidence.
public final class DAWNLogBook: @unchecked Sendable {
    private let lock = NSLock()
    private var logs: [String: [DAWNLogEntry]] = [:]
    private var seen: [String: Set<String>] = [:]

    public init() {}

    /// Logs `entry` for `client`; false when the client already had this query.
    @discardableResult
    public func record(client: String, _ entry: DAWNLogEntry) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard seen[client, default: []].insert(entry.digest).inserted else { return false }
        logs[client, default: []].append(entry)
        return true
    }

    /// Clients with at least one entry, by name.
    public var clients: [String] {
        lock.lock()
        defer { lock.unlock() }
        return logs.keys.sorted()
    }

    /// The entries of `client`, in the order they were answered.
    public func entries(client: String) -> [DAWNLogEntry] {
        lock.lock()
        defer { lock.unlock() }
        return logs[client] ?? []
    }
}
