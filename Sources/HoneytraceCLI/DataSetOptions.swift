import ArgumentParser
import Datasets
import Training

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
    /// description's `owner_validation` part; for the built-in Fashion-MNIST the owner validation
    /// split train[45000..<50000] of the held-out grids (`honeytrace train` trains on
    /// train[0..<45000]), so the test set is left for reported figures.
    func ownerHeldOut() throws -> ImageDataset {
        guard let description = try description() else { return try FashionMNIST.ownerValidation(directory: dataDir) }
        guard description.ownerValidation != nil else {
            throw ValidationError("\(data): the data set describes no 'owner_validation' part; keys, calibration and verification take the owner's held-out images from it")
        }
        return try description.load(.ownerValidation)
    }

    /// A warning when `model` trained on the built-in owner validation split (a victim trained
    /// on train[0..<50000] before `train` held it out): its accuracy there is training accuracy,
    /// so calibration would underestimate the drop on unseen data. Nil otherwise.
    func seenOwnerValidationWarning(model: ModelManifest) -> String? {
        guard data == "fashion-mnist", let trained = model.data, trained.name.hasPrefix("fashion-mnist/victim-train"),
              trained.count > FashionMNIST.ownerValidationRange.lowerBound else { return nil }
        return "the model trained on \(trained.name) (\(trained.count) images), which includes the owner validation split train[45000..<50000] used here; retrain it with `honeytrace train` (train[0..<45000]) or pass --data with a description"
    }

    /// The test set, for reported figures.
    func testSet() throws -> ImageDataset {
        guard let description = try description() else { return try FashionMNIST.load(split: .test, directory: dataDir) }
        return try description.load(.test)
    }
}
