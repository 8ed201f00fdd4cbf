import Datasets
import Foundation
import Training

/// What a grid's data-set description was when the grid ran, for its manifest: the path as the
/// configuration gives it, the SHA-256 of the description file and of every file it names, so a
/// result names its data and a changed file is visible.
public struct DataSetRecord: Codable, Sendable, Equatable {
    /// "owner" or "attacker".
    public var role: String
    public var path: String
    public var descriptionSHA256: String
    /// SHA-256 of each file the description names, by its path relative to the description's directory.
    public var files: [String: String]

    /// Hashes `reference`'s description and its files.
    /// - Throws: `DatasetError` for the description, `TrainingError` for a file that cannot be read.
    public static func make(role: String, _ reference: ExperimentDataSet) throws -> DataSetRecord {
        let d = try reference.load()
        let file = DatasetDescription.descriptionFile(reference.path)
        var files: [String: String] = [:]
        for part in DatasetDescription.Part.allCases {
            guard let f = d.files(of: part) else { continue }
            for name in (f.files ?? []) + [f.images, f.labels].compactMap({ $0 }) where files[name] == nil {
                files[name] = try Hashing.sha256(file: name.hasPrefix("/") ? name : d.baseDirectory + "/" + name)
            }
        }
        return DataSetRecord(role: role, path: reference.path, descriptionSHA256: try Hashing.sha256(file: file), files: files)
    }
}
