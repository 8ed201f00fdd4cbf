import Datasets

/// The training and test sets a command works on, chosen by name: `fashion-mnist` (docs/algorithms.md §9:
/// the owner training split train[0..<45000], so train[45000..<50000] stays held out for keys and
/// calibration, and the test set), `synthetic` (seeded blobs, for smoke
/// runs), `npy` (the user's `.npy` files) or an owner's data-set description.
public enum DataSource: Sendable, Equatable {
    case fashionMNIST(directory: String)
    case synthetic(trainCount: Int, testCount: Int, seed: UInt64)
    case npy(trainImages: String, trainLabels: String, testImages: String?, testLabels: String?)
    case described(DatasetDescription)

    public var name: String {
        switch self {
        case .fashionMNIST: return "fashion-mnist"
        case .synthetic: return "synthetic"
        case .npy: return "npy"
        case .described(let d): return d.name
        }
    }

    /// The normalisation models trained on this source use.
    public func normalization(for train: ImageDataset) throws -> Normalization {
        switch self {
        case .described(let d): return try d.normalization(train: train)
        case .fashionMNIST: return .fashionMNIST
        case .synthetic: return .identity
        case .npy:
            // Per-channel mean and std of the training pixels.
            let c = train.channels, plane = train.height * train.width
            var mean = [Float](repeating: 0, count: c), std = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                var s = 0.0, s2 = 0.0
                for i in 0..<train.count {
                    let base = i * train.imageSize + ch * plane
                    for p in 0..<plane { let v = Double(train.pixels[base + p]); s += v; s2 += v * v }
                }
                let n = Double(train.count * plane)
                mean[ch] = Float(s / n)
                std[ch] = Float(max((s2 / n - (s / n) * (s / n)).squareRoot(), 1e-3))
            }
            return Normalization(mean: mean, std: std)
        }
    }

    /// Loads (train, test); test may be nil for `npy` without test files.
    public func load(limit: Int? = nil) throws -> (train: ImageDataset, test: ImageDataset?, classNames: [String]?) {
        var result: (ImageDataset, ImageDataset?, [String]?)
        switch self {
        case .fashionMNIST(let directory):
            let train = try FashionMNIST.ownerTraining(directory: directory)
            result = (train, try FashionMNIST.load(split: .test, directory: directory), FashionMNIST.classNames)
        case .synthetic(let trainCount, let testCount, let seed):
            result = (SyntheticData.make(count: trainCount, seed: seed, name: "synthetic/train"),
                      SyntheticData.make(count: testCount, seed: seed &+ 1, name: "synthetic/test"), nil)
        case .npy(let ti, let tl, let vi, let vl):
            let train = try NPYImages.load(ti, labelsPath: tl)
            var test: ImageDataset?
            if let vi {
                guard let vl else { throw TrainingError(file: vi, "test images need test labels (--test-labels)") }
                test = try NPYImages.load(vi, labelsPath: vl, classCount: train.classCount)
            }
            result = (train, test, nil)
        case .described(let d):
            result = (try d.load(.train), try d.test.map { _ in try d.load(.test) }, d.classNames)
        }
        if let limit, limit < result.0.count { result.0 = result.0.subset(0..<limit, name: result.0.name + "[0..<\(limit)]") }
        return result
    }
}
