import Datasets
import Extraction

/// The checks of a configuration's data-set descriptions: the fields agree with each other
/// (`validateDataSets`, no file read) and with the files (`checkedDataSets`, before anything is trained).
extension ExperimentConfiguration {
    /// The owner's and the attacker's descriptions, loaded and checked against each other.
    struct DataSets {
        var owner: DatasetDescription?
        var attacker: DatasetDescription?
    }

    func validateDataSets(_ fail: (String) -> ExperimentError) throws {
        if let owner = ownerDataset {
            if let o = ownerData, o != .described {
                throw fail("\"ownerData\": \"\(o.rawValue)\" is a protocol of the built-in Fashion-MNIST; with \"ownerDataset\" leave it out or set \"described\"")
            }
            guard owner.part == nil, owner.range == nil else {
                throw fail("\"ownerDataset\" takes only \"path\": the victim trains on its train part, the owner uses its owner_validation part, figures come from its test part")
            }
        } else if ownerData == .described {
            throw fail("\"ownerData\": \"described\" needs \"ownerDataset\": {\"path\": \"<data-set description>\"}")
        }
        let usesDescribed = attacks.contains { pool(of: $0) == .described }
        if let a = attackerDataset {
            guard usesDescribed else {
                throw fail("\"attackerDataset\" is set but no attack row uses the \"described\" pool")
            }
            do { _ = try a.partInEffect() } catch { throw fail("attackerDataset: \(error)") }
            if let r = a.range, r.count != 2 || r[0] < 0 || r[0] >= r[1] {
                throw fail("attackerDataset.range: expected [start, end) with 0 ≤ start < end, found \(r)")
            }
        } else if usesDescribed {
            throw fail("an attack row uses the \"described\" pool; set \"attackerDataset\": {\"path\": \"<data-set description>\", \"part\": \"train\", \"range\": [start, end]}")
        }
    }

    /// Loads the descriptions and checks them: the owner's names an owner_validation and a test
    /// part; the attacker's slice shares no image with any of the owner's parts.
    /// - Throws: `DatasetError` naming the description file and field; `ExperimentError` for an overlap.
    func checkedDataSets() throws -> DataSets {
        var sets = DataSets()
        if let o = ownerDataset {
            let d = try o.load()
            for part in [DatasetDescription.Part.ownerValidation, .test] where d.files(of: part) == nil {
                throw ExperimentError("\(DatasetDescription.descriptionFile(o.path)): field '\(part.rawValue)' is missing; the grid's owner needs \(part == .test ? "a test part for reported figures" : "an owner_validation part for the key, probe and calibration")")
            }
            sets.owner = d
        }
        if let a = attackerDataset {
            let d = try a.load()
            let thief = try a.slice(in: d)
            if let owner = sets.owner {
                for part in DatasetDescription.Part.allCases {
                    guard let files = owner.files(of: part) else { continue }
                    let mine = try ExperimentDataSet.slice(files, owner, extra: nil)
                    let shared = Set(mine.files).intersection(thief.files)
                    guard !shared.isEmpty else { continue }
                    let field = "attackerDataset (\(DatasetDescription.descriptionFile(a.path)), part '\(try a.partInEffect().rawValue)')"
                    guard mine.files == thief.files else {
                        throw ExperimentError("\(field) shares \(shared.sorted().joined(separator: ", ")) with the owner's '\(part.rawValue)' part, in another file list; name the same files with disjoint ranges, or other files")
                    }
                    if thief.start < (mine.end ?? Int.max), mine.start < (thief.end ?? Int.max) {
                        throw ExperimentError("\(field): images [\(thief.start), \(thief.end.map(String.init) ?? "end")) overlap the owner's '\(part.rawValue)' part [\(mine.start), \(mine.end.map(String.init) ?? "end")) of the same files; the thief's slice must be disjoint")
                    }
                }
            }
            sets.attacker = d
        }
        return sets
    }
}
