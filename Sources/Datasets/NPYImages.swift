import Formats

/// Images from NumPy `.npy` files: `uint8` pixels 0–255 or `float32`/`float64` pixels in
/// [0, 1], shaped `[N, C, H, W]` or `[N, H, W]` (one channel).
public enum NPYImages {
    /// Loads images, with labels from a second `.npy` of integers (`int64`, `int32` or
    /// `uint8`, shape `[N]`) when `labelsPath` is given; otherwise every label is 0.
    ///
    /// - Parameter classCount: defaults to the largest label + 1.
    /// - Throws: `FormatError` for unreadable files; `DatasetError` (naming the file) for
    ///   a wrong rank, a channels-last layout, an unsupported dtype, float pixels outside
    ///   [0, 1] or not finite, and labels that are not non-negative integers or whose count
    ///   differs from the images'.
    public static func load(_ path: String, labelsPath: String? = nil, classCount: Int? = nil,
                            name: String? = nil) throws -> ImageDataset {
        let array = try NPY.read(path: path)
        let shape = array.shape
        let (n, c, h, w): (Int, Int, Int, Int)
        switch shape.count {
        case 3: (n, c, h, w) = (shape[0], 1, shape[1], shape[2])
        case 4:
            (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
            if c > 4 && [1, 3, 4].contains(w) {
                throw DatasetError(file: path, kind: .invalidData,
                                   problem: "images of shape \(shapeText(shape)) look channels-last (N, H, W, C); expected [N, C, H, W]: save with arr.transpose(0, 3, 1, 2)")
            }
        default:
            throw DatasetError(file: path, kind: .invalidData,
                               problem: "images must have rank 3 [N, H, W] or rank 4 [N, C, H, W], got rank \(shape.count) with shape \(shapeText(shape))")
        }
        if c == 0 || h == 0 || w == 0 {
            throw DatasetError(file: path, kind: .invalidData, problem: "image shape \(shapeText(shape)) has an empty image dimension")
        }
        // The header's shape is checked before any size is computed from it: (0, 2³², 2³²) holds no
        // values yet one image of it has more than `Int` can count.
        guard CheckedNumber.product([c, h, w]) != nil else {
            throw DatasetError(file: path, kind: .invalidData,
                               problem: "image shape \(shapeText(shape)) overflows the addressable size (C·H·W of one image must fit in \(Int.max))")
        }
        let pixels: [Float]
        switch array.dtype {
        case .uint8:
            pixels = ImageDataset.unitPixels(array.uint8 ?? array.floats.map { UInt8($0) })
        case .float32, .float64:
            if let bad = array.floats.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
                let size = c * h * w
                throw DatasetError(file: path, kind: .invalidData,
                                   problem: "float pixels must lie in [0, 1]; element \(bad) (image \(bad / size), offset \(bad % size)) is \(array.floats[bad]) (divide 0–255 data by 255, or save as uint8)")
            }
            pixels = array.floats
        default:
            throw DatasetError(file: path, kind: .invalidData,
                               problem: "image dtype '\(array.dtype.rawValue)' not supported; expected uint8 (0–255) or float32 (0–1)")
        }
        let labels = try labelsPath.map { try loadLabels($0, expected: n) } ?? [Int](repeating: 0, count: n)
        do {
            return try ImageDataset(name: name ?? path, pixels: pixels, labels: labels, channels: c, height: h, width: w,
                                    classCount: classCount)
        } catch let e as DatasetError {
            throw DatasetError(file: labelsPath ?? path, kind: e.kind, problem: e.problem)
        }
    }

    /// Integer labels from a `.npy` of shape `[N]`.
    public static func loadLabels(_ path: String, expected count: Int? = nil) throws -> [Int] {
        let array = try NPY.read(path: path)
        guard array.shape.count == 1 else {
            throw DatasetError(file: path, kind: .invalidData, problem: "labels must have shape [N], got \(shapeText(array.shape))")
        }
        let labels: [Int]
        switch array.dtype {
        case .int64: labels = (array.int64s ?? []).map { Int($0) }
        case .int32, .uint8: labels = array.floats.map { Int($0) }
        default:
            throw DatasetError(file: path, kind: .invalidData,
                               problem: "label dtype '\(array.dtype.rawValue)' not supported; expected int64, int32 or uint8")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 }) {
            throw DatasetError(file: path, kind: .invalidData, problem: "label \(labels[bad]) at \(bad) is negative")
        }
        if let count, labels.count != count {
            throw DatasetError(file: path, kind: .mismatch, problem: "\(labels.count) labels for \(count) images")
        }
        return labels
    }

    /// Writes the dataset's pixels as a float32 `.npy` of shape `[N, C, H, W]`.
    public static func save(_ dataset: ImageDataset, to path: String) throws {
        try NPY.write(floats: dataset.pixels, shape: [dataset.count, dataset.channels, dataset.height, dataset.width],
                      to: path)
    }

    private static func shapeText(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }
}
