import Foundation
import Formats

/// Reads a batch of images a user hands in: NumPy `.npy` (uint8 0–255 or float32 [0, 1],
/// `[N, C, H, W]` or `[N, H, W]`) or IDX (`.idx`, `*-ubyte`, optionally gzip-compressed;
/// uint8 `[N, H, W]`). Labels are all 0; only the pixels matter.
public enum ImageFile {
    public static func load(_ path: String) throws -> ImageDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetError(file: path, kind: .missingData, problem: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw DatasetError(file: path, kind: .invalidArgument, problem: "is a directory; expected a .npy or IDX file of images")
        }
        if path.hasSuffix(".npy") { return try NPYImages.load(path) }
        // The throwing read: `readData(ofLength:)` stops the process on a read error.
        let head: Data
        do {
            head = try FileHandle(forReadingAtPath: path).map { h in defer { try? h.close() }; return try h.read(upToCount: 4) ?? Data() } ?? Data()
        } catch {
            throw DatasetError(file: path, kind: .invalidData, problem: "cannot be read: \(error.localizedDescription)")
        }
        let isGzip = head.count >= 2 && head[head.startIndex] == 0x1F && head[head.startIndex + 1] == 0x8B
        let isIDX = head.count == 4 && head[head.startIndex] == 0 && head[head.startIndex + 1] == 0
        let isNPY = head.count >= 1 && head[head.startIndex] == 0x93
        if isNPY { return try NPYImages.load(path) }
        guard isGzip || isIDX else {
            throw DatasetError(file: path, kind: .invalidData,
                               problem: "not a .npy or IDX file (first bytes \(head.map { String(format: "%02x", $0) }.joined(separator: " ")))")
        }
        let images = try IDX.readImages(path: path)
        guard images.count > 0 else { throw DatasetError(file: path, kind: .invalidData, problem: "holds no images") }
        return ImageDataset(unchecked: path, pixels: ImageDataset.unitPixels(images.pixels),
                            labels: [Int](repeating: 0, count: images.count), channels: 1,
                            height: images.rows, width: images.cols, classCount: 1)
    }
}
