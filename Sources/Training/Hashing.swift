import Crypto
import Datasets
import Formats
import Foundation

/// SHA-256 digests (hex) of files, bytes and datasets, for manifests and key files.
public enum Hashing {
    public static func sha256(_ data: Data) -> String { Hex.encode(SHA256.hash(data: data)) }

    public static func sha256(file path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError(file: path, "cannot read the file to hash it")
        }
        return sha256(data)
    }

    /// Digest of a dataset's shape, pixels (Float32, little-endian) and labels.
    public static func sha256(_ dataset: ImageDataset) -> String {
        var hasher = SHA256()
        let shape = [dataset.count, dataset.channels, dataset.height, dataset.width, dataset.classCount].map { Int64($0).littleEndian }
        shape.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        dataset.pixels.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        let labels = dataset.labels.map { Int32($0).littleEndian }
        labels.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return Hex.encode(hasher.finalize())
    }
}
