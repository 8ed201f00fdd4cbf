import Foundation
import Formats

/// Fashion-MNIST from the IDX files of the Debian package `dataset-fashion-mnist`
/// (`/usr/share/datasets/fashion-mnist`), and the splits of docs/algorithms.md §9.
public enum FashionMNIST {
    /// `HONEYTRACE_FASHION_MNIST`, or where `apt-get install dataset-fashion-mnist` puts the files.
    public static var defaultDirectory: String { DataLocations.fashionMNIST() }

    /// The two files of the original distribution.
    public enum Split: String, Sendable, CaseIterable {
        case train
        case test

        /// File names (gzip) of the images and the labels.
        public var fileNames: (images: String, labels: String) {
            switch self {
            case .train: return ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
            case .test: return ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
            }
        }
    }

    /// Class names, by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// Number of classes.
    public static let classCount = 10
    /// The input normalisation used with Fashion-MNIST models (mean 0.2860, std 0.3530).
    public static let normalization = Normalization.fashionMNIST
    /// The victim's training images: train[0..<50000].
    public static let victimTrainRange = 0..<50_000
    /// The attacker's in-distribution pool: train[50000..<60000].
    public static let attackerPoolRange = 50_000..<60_000
    /// Under the held-out protocol the victim trains on train[0..<45000] only ...
    public static let ownerTrainingRange = 0..<45_000
    /// ... and the owner's validation split, train[45000..<50000], never trained on, feeds keys,
    /// probes, banks and calibration.
    public static let ownerValidationRange = 45_000..<50_000

    /// The four roles of the held-out protocol, reading the training files once.
    public struct HeldOutSplits: Sendable {
        public var ownerTraining: ImageDataset
        public var ownerValidation: ImageDataset
        public var attackerPool: ImageDataset
        public var test: ImageDataset
    }

    /// Loads one split (60,000 or 10,000 images of 1×28×28, labels 0–9).
    ///
    /// Each file is looked up as `<name>.gz`, then without `.gz`.
    /// - Throws: `DatasetError.missingData` naming the missing file and how to install it;
    ///   `FormatError` (naming the file) for damaged files; `DatasetError.invalidData` for
    ///   labels outside 0–9.
    public static func load(split: Split, directory: String = defaultDirectory) throws -> ImageDataset {
        let imagesPath = try locate(split.fileNames.images, in: directory)
        let labelsPath = try locate(split.fileNames.labels, in: directory)
        let raw = try IDX.readImagesAndLabels(imagesPath: imagesPath, labelsPath: labelsPath)
        if let bad = raw.labels.firstIndex(where: { $0 >= classCount }) {
            throw DatasetError(file: labelsPath, kind: .invalidData,
                               problem: "label \(raw.labels[bad]) of image \(bad) outside 0..<\(classCount)")
        }
        return ImageDataset(unchecked: "fashion-mnist/\(split.rawValue)", pixels: ImageDataset.unitPixels(raw.pixels),
                            labels: raw.labels.map { Int($0) }, channels: 1, height: raw.rows, width: raw.cols,
                            classCount: classCount).withRole(split == .test ? .test : nil)
    }

    /// The three docs/algorithms.md §9 datasets, reading the training files once: the victim's training
    /// set (train[0..<50000]), the attacker's pool (train[50000..<60000]) and the test set.
    public static func splits(directory: String = defaultDirectory) throws
        -> (victimTrain: ImageDataset, attackerPool: ImageDataset, test: ImageDataset) {
        let train = try load(split: .train, directory: directory)
        try checkTrainSize(train, directory: directory)
        return (train.subset(victimTrainRange, name: "fashion-mnist/victim-train").withRole(.victimTraining),
                train.subset(attackerPoolRange, name: "fashion-mnist/attacker-pool").withRole(.attackerPool),
                try load(split: .test, directory: directory))
    }

    /// The held-out protocol's splits: owner training train[0..<45000], owner
    /// validation train[45000..<50000], the attacker's pool train[50000..<60000], and the test set;
    /// each dataset carries its role, and no image is in two of them.
    public static func heldOutSplits(directory: String = defaultDirectory) throws -> HeldOutSplits {
        let train = try load(split: .train, directory: directory)
        try checkTrainSize(train, directory: directory)
        return HeldOutSplits(
            ownerTraining: train.subset(ownerTrainingRange, name: "fashion-mnist/owner-train").withRole(.victimTraining),
            ownerValidation: train.subset(ownerValidationRange, name: "fashion-mnist/owner-validation").withRole(.ownerValidation),
            attackerPool: train.subset(attackerPoolRange, name: "fashion-mnist/attacker-pool").withRole(.attackerPool),
            test: try load(split: .test, directory: directory))
    }

    /// The victim's training set, train[0..<50000].
    public static func victimTrain(directory: String = defaultDirectory) throws -> ImageDataset {
        let train = try load(split: .train, directory: directory)
        try checkTrainSize(train, directory: directory)
        return train.subset(victimTrainRange, name: "fashion-mnist/victim-train").withRole(.victimTraining)
    }

    /// The held-out protocol's owner training split, train[0..<45000]: what `honeytrace train`
    /// trains on, so that the owner validation split stays unseen.
    public static func ownerTraining(directory: String = defaultDirectory) throws -> ImageDataset {
        let train = try load(split: .train, directory: directory)
        try checkTrainSize(train, directory: directory)
        return train.subset(ownerTrainingRange, name: "fashion-mnist/owner-train").withRole(.victimTraining)
    }

    /// The owner validation split, train[45000..<50000]: keys, probes, calibration and
    /// verification triggers of the built-in data set come from it, never from the test set.
    public static func ownerValidation(directory: String = defaultDirectory) throws -> ImageDataset {
        let train = try load(split: .train, directory: directory)
        try checkTrainSize(train, directory: directory)
        return train.subset(ownerValidationRange, name: "fashion-mnist/owner-validation").withRole(.ownerValidation)
    }

    /// The attacker's in-distribution pool, train[50000..<60000].
    public static func attackerPool(directory: String = defaultDirectory) throws -> ImageDataset {
        let train = try load(split: .train, directory: directory)
        try checkTrainSize(train, directory: directory)
        return train.subset(attackerPoolRange, name: "fashion-mnist/attacker-pool").withRole(.attackerPool)
    }

    /// The 10,000 test images.
    public static func test(directory: String = defaultDirectory) throws -> ImageDataset {
        try load(split: .test, directory: directory)
    }

    private static func checkTrainSize(_ train: ImageDataset, directory: String) throws {
        if train.count < attackerPoolRange.upperBound {
            throw DatasetError(file: directory + "/" + Split.train.fileNames.images, kind: .mismatch,
                               problem: "the docs/algorithms.md §9 splits need \(attackerPoolRange.upperBound) training images, found \(train.count)")
        }
    }

    private static func locate(_ gzName: String, in directory: String) throws -> String {
        let gz = directory + "/" + gzName
        if FileManager.default.fileExists(atPath: gz) { return gz }
        let plain = String(gz.dropLast(3))
        if FileManager.default.fileExists(atPath: plain) { return plain }
        var isDirectory: ObjCBool = false
        let hint = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue
            ? "" : " (directory \(directory) does not exist)"
        throw DatasetError(file: gz, kind: .missingData,
                           problem: "Fashion-MNIST file not found\(hint); run scripts/setup.sh or `sudo apt-get install dataset-fashion-mnist`, or pass the directory holding the IDX files")
    }
}
