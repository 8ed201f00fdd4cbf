import ArgumentParser
import Datasets

/// `--data`: which data set the owner's held-out images and the test set come from — the
/// built-in `fashion-mnist`, or an owner's data-set description (a JSON file, or a directory
/// holding `dataset.json`; see `DatasetDescription`).
struct DataSetOptions: ParsableArguments {
    @Option(help: "Data set: fashion-mnist (built in), or a data-set description (a JSON file or a directory holding dataset.json).")
    var data = "fashion-mnist"
    @Option(help: "Directory of the Fashion-MNIST IDX files.") var dataDir = FashionMNIST.defaultDirectory

    /// The description `--data` names; nil for the built-in Fashion-MNIST.
    func description() throws -> DatasetDescription? {
        data == "fashion-mnist" ? nil : try DatasetDescription.load(data)
    }

    /// The owner's held-out images, for keys, calibration and verification triggers: a
    /// description's `owner_validation` part; for the built-in Fashion-MNIST its test set (the
    /// paper's protocol; `honeytrace train` uses train[0..<50000], so no other split is held out).
    func ownerHeldOut() throws -> ImageDataset {
        guard let description = try description() else { return try FashionMNIST.load(split: .test, directory: dataDir) }
        guard description.ownerValidation != nil else {
            throw ValidationError("\(data): the data set describes no 'owner_validation' part; keys, calibration and verification take the owner's held-out images from it")
        }
        return try description.load(.ownerValidation)
    }

    /// The test set, for reported figures.
    func testSet() throws -> ImageDataset {
        guard let description = try description() else { return try FashionMNIST.load(split: .test, directory: dataDir) }
        return try description.load(.test)
    }
}
