import Datasets
import Foundation

/// A grid's data named by a data-set description (`DatasetDescription`): the owner's data set
/// (`ownerDataset`: the victim trains on its `train` part; key, probe, bank and calibration come
/// from its `owner_validation` part; reported figures from its `test` part) or the thief's pool
/// (`attackerDataset`: one part of a description, optionally a slice, so a strong thief can hold
/// owner-like images disjoint from the owner's).
///
/// `path` is a JSON file or a directory holding `dataset.json`, resolved against the current
/// directory like `nullPool.directory`.
public struct ExperimentDataSet: Codable, Sendable, Equatable {
    public var path: String
    /// The attacker's part (nil: `train`); not used for the owner's data set.
    public var part: String?
    /// [start, end) within the part (nil: all of it); not used for the owner's data set.
    public var range: [Int]?

    public init(path: String, part: String? = nil, range: [Int]? = nil) {
        self.path = path; self.part = part; self.range = range
    }

    /// The part this reference names.
    public func partInEffect() throws -> DatasetDescription.Part {
        let name = part ?? DatasetDescription.Part.train.rawValue
        guard let p = DatasetDescription.Part(rawValue: name) else {
            throw ExperimentError("part '\(name)': expected one of \(DatasetDescription.Part.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return p
    }

    /// Loads and checks the description.
    /// - Throws: `DatasetError` naming the description file and the field.
    public func load() throws -> DatasetDescription { try DatasetDescription.load(path) }

    /// The images of the named part and slice.
    /// - Throws: `ExperimentError` when the range exceeds the part; `DatasetError` for the files.
    public func images(of d: DatasetDescription) throws -> ImageDataset {
        let p = try partInEffect()
        var data = try d.load(p)
        if let range {
            guard range[1] <= data.count else {
                throw ExperimentError("\(path): range \(range) of part '\(p.rawValue)' exceeds its \(data.count) images")
            }
            data = data.subset(range[0]..<range[1], name: "\(data.name)[\(range[0])..<\(range[1])]")
        }
        return data
    }

    /// The part's slice as offsets into its files' images: the part's own `range` composed with
    /// this reference's, for overlap checks (nil end: to the end of the files).
    func slice(in d: DatasetDescription) throws -> (files: [String], start: Int, end: Int?) {
        let p = try partInEffect()
        guard let files = d.files(of: p) else {
            throw ExperimentError("\(path): the data set describes no '\(p.rawValue)' part")
        }
        return try Self.slice(files, d, extra: range)
    }

    static func slice(_ files: DatasetDescription.Files, _ d: DatasetDescription, extra: [Int]?) throws -> (files: [String], start: Int, end: Int?) {
        let names = (files.files ?? [files.images, files.labels].compactMap { $0 }).map {
            URL(fileURLWithPath: $0.hasPrefix("/") ? $0 : d.baseDirectory + "/" + $0).standardizedFileURL.path
        }
        var start = files.range?[0] ?? 0
        var end = files.range?[1]
        if let extra {
            start += extra[0]
            end = end.map { min($0, start - extra[0] + extra[1]) } ?? (start - extra[0] + extra[1])
        }
        return (names, start, end)
    }
}
