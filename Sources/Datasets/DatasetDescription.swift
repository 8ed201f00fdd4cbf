import Foundation
import Formats

/// An owner's image classification data set, described by a JSON file (`dataset.json`, or any
/// name): the files of each part — `train` (the victim's training images), `owner_validation`
/// (held out from training: keys, probes, calibration and verification triggers come from it)
/// and `test` (reported figures only) — in one format, with optional class names, normalisation
/// and an expected input shape. File names are relative to the description's directory, never to
/// the current one.
///
/// ```json
/// {"name": "my-cifar", "format": "cifar-10", "input_shape": [3, 32, 32],
///  "train": {"files": ["data_batch_1.bin", "data_batch_2.bin"]},
///  "owner_validation": {"files": ["data_batch_3.bin"], "range": [0, 5000]},
///  "test": {"files": ["test_batch.bin"]}}
/// ```
///
/// Formats: `npy` (`images` and `labels` files, see `NPYImages`), `idx` (`images` and `labels`
/// IDX files, optionally gzipped: 1×H×W images), `cifar-10` and `cifar-100` (`files`: binary
/// batches). `range` [start, end) takes a slice of a part's images, so one file can hold two parts.
public struct DatasetDescription: Codable, Sendable, Equatable {
    public enum Format: String, Codable, Sendable, CaseIterable {
        case npy, idx, cifar10 = "cifar-10", cifar100 = "cifar-100"
    }

    /// The parts a description can name.
    public enum Part: String, Sendable, CaseIterable {
        case train, ownerValidation = "owner_validation", test

        /// The role images of this part play.
        public var role: DataRole {
            switch self {
            case .train: return .victimTraining
            case .ownerValidation: return .ownerValidation
            case .test: return .test
            }
        }
    }

    /// The files of one part.
    public struct Files: Codable, Sendable, Equatable {
        /// npy and idx: the images file.
        public var images: String?
        /// npy and idx: the labels file.
        public var labels: String?
        /// cifar-10 / cifar-100: the binary batch files, concatenated in order.
        public var files: [String]?
        /// [start, end): the slice of the part's images to use (default: all).
        public var range: [Int]?

        public init(images: String? = nil, labels: String? = nil, files: [String]? = nil, range: [Int]? = nil) {
            self.images = images; self.labels = labels; self.files = files; self.range = range
        }
    }

    /// Per-channel mean and std (decoded unchecked, validated on load).
    public struct Statistics: Codable, Sendable, Equatable {
        public var mean: [Float]
        public var std: [Float]
    }

    public var name: String
    public var format: Format
    /// `[C, H, W]`; when given, every part must have it.
    public var inputShape: [Int]?
    public var classNames: [String]?
    /// The models' input normalisation; absent: the train part's per-channel mean and std.
    public var normalization: Statistics?
    public var train: Files
    public var ownerValidation: Files?
    public var test: Files?
    /// The directory relative file names are resolved against (the description file's).
    public var baseDirectory: String = ""

    enum CodingKeys: String, CodingKey {
        case name, format, inputShape = "input_shape", classNames = "class_names", normalization, train
        case ownerValidation = "owner_validation", test
    }

    /// The file that describes a data set: `path` itself, or `path/dataset.json` for a directory.
    public static func descriptionFile(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return URL(fileURLWithPath: path).appendingPathComponent("dataset.json").path
        }
        return path
    }

    /// Reads and checks a description (a file, or a directory holding `dataset.json`).
    /// - Throws: `DatasetError` naming the file and the field: not JSON, a missing or wrong
    ///   field, files of the wrong kind for the format, a bad range or normalisation.
    public static func load(_ path: String) throws -> DatasetDescription {
        let file = descriptionFile(path)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw DatasetError(file: file, kind: .missingData, problem: "no such data-set description (a JSON file, or a directory holding dataset.json)")
        }
        var description: DatasetDescription
        do {
            description = try JSONDecoder().decode(DatasetDescription.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw DatasetError(file: file, kind: .invalidData, problem: "field '\(Self.path(context.codingPath + [key]))' is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw DatasetError(file: file, kind: .invalidData, problem: "field '\(Self.path(context.codingPath))' has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw DatasetError(file: file, kind: .invalidData, problem: "field '\(Self.path(context.codingPath))' is null")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.isEmpty ? "" : "field '\(Self.path(context.codingPath))': "
            throw DatasetError(file: file, kind: .invalidData,
                               problem: "\(field)\(context.codingPath.isEmpty ? "not valid JSON" : context.debugDescription) (formats: \(Format.allCases.map(\.rawValue).joined(separator: ", ")))")
        } catch {
            throw DatasetError(file: file, kind: .invalidData, problem: "cannot be read: \(error)")
        }
        description.baseDirectory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        if let problem = description.problem() { throw DatasetError(file: file, kind: .invalidData, problem: problem) }
        return description
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// What is wrong with the description's fields, or nil.
    public func problem() -> String? {
        if let shape = inputShape, shape.count != 3 || !shape.allSatisfy({ (1...4096).contains($0) }) {
            return "field 'input_shape': expected [channels, height, width] with sides 1…4096, found \(shape)"
        }
        if let names = classNames, names.count < 2 { return "field 'class_names': at least 2 classes expected, found \(names.count)" }
        if let n = normalization, let problem = Normalization.problem(mean: n.mean, std: n.std) {
            return "field 'normalization': \(problem)"
        }
        for part in Part.allCases {
            guard let files = files(of: part) else { continue }
            let field = part.rawValue
            switch format {
            case .npy, .idx:
                guard files.images != nil, files.labels != nil, files.files == nil else {
                    return "field '\(field)': format \(format.rawValue) takes 'images' and 'labels' files"
                }
            case .cifar10, .cifar100:
                guard let list = files.files, !list.isEmpty, files.images == nil, files.labels == nil else {
                    return "field '\(field)': format \(format.rawValue) takes a non-empty 'files' list of binary batches"
                }
            }
            if let range = files.range, range.count != 2 || range[0] < 0 || range[0] >= range[1] {
                return "field '\(field).range': expected [start, end) with 0 ≤ start < end, found \(range)"
            }
        }
        return nil
    }

    /// The files of `part`, when the description names it.
    public func files(of part: Part) -> Files? {
        switch part {
        case .train: return train
        case .ownerValidation: return ownerValidation
        case .test: return test
        }
    }

    func resolve(_ file: String) -> String {
        file.hasPrefix("/") ? file : URL(fileURLWithPath: baseDirectory).appendingPathComponent(file).path
    }

    /// The images of `part`, with its role and the description's class count and shape checked.
    /// - Throws: `DatasetError` when the part is not described, a file is missing or damaged,
    ///   the range exceeds the images, or shapes and labels disagree with the description.
    public func load(_ part: Part) throws -> ImageDataset {
        guard let files = files(of: part) else {
            throw DatasetError(file: name, kind: .missingData, problem: "the data set describes no '\(part.rawValue)' part")
        }
        let label = "\(name)/\(part.rawValue.replacingOccurrences(of: "_", with: "-"))"
        var data: ImageDataset
        switch format {
        case .npy:
            data = try NPYImages.load(resolve(files.images!), labelsPath: resolve(files.labels!), classCount: classNames?.count, name: label)
        case .idx:
            let imagesPath = resolve(files.images!), labelsPath = resolve(files.labels!)
            let raw = try IDX.readImagesAndLabels(imagesPath: imagesPath, labelsPath: labelsPath)
            let classes = classNames?.count ?? (Int(raw.labels.max() ?? 0) + 1)
            if let bad = raw.labels.firstIndex(where: { Int($0) >= classes }) {
                throw DatasetError(file: labelsPath, kind: .invalidData, problem: "label \(raw.labels[bad]) of image \(bad) outside 0..<\(classes)")
            }
            data = ImageDataset(unchecked: label, pixels: ImageDataset.unitPixels(raw.pixels), labels: raw.labels.map { Int($0) },
                                channels: 1, height: raw.rows, width: raw.cols, classCount: max(classes, 2))
        case .cifar10:
            data = try CIFARDataset.load(files: files.files!.map(resolve), variant: .cifar10, name: label)
        case .cifar100:
            data = try CIFARDataset.load(files: files.files!.map(resolve), variant: .cifar100(labels: .fine), name: label)
        }
        if let range = files.range {
            guard range[1] <= data.count else {
                throw DatasetError(file: label, kind: .invalidData, problem: "range \(range) exceeds the part's \(data.count) images")
            }
            data = data.subset(range[0]..<range[1], name: label)
        }
        if let shape = inputShape, data.imageShape != shape {
            throw DatasetError(file: label, kind: .mismatch, problem: "images are \(data.imageShape), the description's input_shape is \(shape)")
        }
        if let names = classNames, data.classCount != names.count {
            throw DatasetError(file: label, kind: .mismatch, problem: "\(data.classCount) classes in the labels, \(names.count) class names")
        }
        return data.withRole(part.role)
    }

    /// The normalisation models of this data set use: the description's, else the per-channel
    /// mean and std of `train`.
    public func normalization(train: ImageDataset) throws -> Normalization {
        if let n = normalization { return try Normalization.validated(mean: n.mean, std: n.std) }
        return train.channelStatistics()
    }
}
