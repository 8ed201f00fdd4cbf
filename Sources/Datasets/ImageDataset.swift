import Formats

/// Labelled images held in memory: pixels in [0, 1] (uint8 / 255) as one contiguous
/// N×C×H×W `[Float]`, one class label per image.
///
/// A value type: subsets and concatenations are new datasets (copies of the pixels they
/// keep), so a dataset can be shared across threads freely.
public struct ImageDataset: Sendable {
    /// A human-readable name (e.g. "fashion-mnist/train[0..<50000]").
    public var name: String
    /// Channels per image (1 for grey, 3 for RGB).
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Number of classes; every label is in `0..<classCount`.
    public let classCount: Int
    /// Pixels in [0, 1], image after image, each C×H×W row-major.
    public let pixels: [Float]
    /// One label per image.
    public let labels: [Int]
    /// What these images are for (nil: not stated, e.g. a user's own files). Subsets keep it; a
    /// concatenation keeps it when all parts agree and is an attacker pool when any part is one.
    public var role: DataRole?

    /// Number of images.
    @inline(__always) public var count: Int { labels.count }
    /// Values per image (C·H·W).
    @inline(__always) public var imageSize: Int { channels * height * width }
    /// `[C, H, W]`.
    public var imageShape: [Int] { [channels, height, width] }
    /// Whether the dataset holds no images.
    public var isEmpty: Bool { labels.isEmpty }

    /// Wraps already-validated arrays (internal: loaders that convert from bytes).
    init(unchecked name: String, pixels: [Float], labels: [Int], channels: Int, height: Int, width: Int, classCount: Int) {
        self.name = name
        self.pixels = pixels
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
    }

    /// A dataset from [0, 1] pixels (N×C×H×W) and labels.
    ///
    /// - Parameter classCount: the number of classes; defaults to the largest label + 1.
    /// - Throws: `DatasetError` when the shape is not positive, the pixel count does not
    ///   match `labels.count` images, a pixel is outside [0, 1] (or NaN), or a label is
    ///   outside `0..<classCount`.
    public init(name: String, pixels: [Float], labels: [Int], channels: Int, height: Int, width: Int,
                classCount: Int? = nil) throws {
        let classes = try ImageDataset.checkShapeAndLabels(name: name, valueCount: pixels.count, labels: labels,
                                                           channels: channels, height: height, width: width,
                                                           classCount: classCount)
        if let bad = pixels.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            let size = channels * height * width
            throw DatasetError(kind: .invalidData,
                               problem: "\(name): pixel \(bad % size) of image \(bad / size) is \(pixels[bad]); pixels must lie in [0, 1]")
        }
        self.init(unchecked: name, pixels: pixels, labels: labels, channels: channels, height: height,
                  width: width, classCount: classes)
    }

    /// A dataset from 0–255 bytes (N×C×H×W), converted to [0, 1] as `Float(byte) / 255`.
    public init(name: String, bytes: [UInt8], labels: [Int], channels: Int, height: Int, width: Int,
                classCount: Int? = nil) throws {
        let classes = try ImageDataset.checkShapeAndLabels(name: name, valueCount: bytes.count, labels: labels,
                                                           channels: channels, height: height, width: width,
                                                           classCount: classCount)
        self.init(unchecked: name, pixels: ImageDataset.unitPixels(bytes), labels: labels, channels: channels,
                  height: height, width: width, classCount: classes)
    }

    private static func checkShapeAndLabels(name: String, valueCount: Int, labels: [Int], channels: Int,
                                            height: Int, width: Int, classCount: Int?) throws -> Int {
        guard channels > 0, height > 0, width > 0 else {
            throw DatasetError(kind: .invalidArgument,
                               problem: "\(name): image shape \(channels)×\(height)×\(width) must be positive")
        }
        // Checked: a shape from a file header can overflow `Int` (an empty dataset of 2³²×2³² images).
        guard let size = CheckedNumber.product([channels, height, width]),
              let needed = CheckedNumber.product([labels.count, size]) else {
            throw DatasetError(kind: .invalidData,
                               problem: "\(name): \(labels.count) images of shape \(channels)×\(height)×\(width) overflow the addressable size")
        }
        if valueCount != needed {
            throw DatasetError(kind: .mismatch,
                               problem: "\(name): \(labels.count) labels need \(needed) pixel values (\(channels)×\(height)×\(width) each), got \(valueCount)")
        }
        let largest = labels.max() ?? -1
        // Labels come from files: the largest + 1 must not overflow when it becomes the class count.
        if classCount == nil && largest == Int.max {
            throw DatasetError(kind: .invalidData,
                               problem: "\(name): label \(largest) of image \(labels.firstIndex(of: largest) ?? 0) is too large to count classes up to")
        }
        let classes = classCount ?? (largest + 1)
        if classCount != nil && classes <= 0 {
            throw DatasetError(kind: .invalidArgument, problem: "\(name): class count \(classes) must be positive")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw DatasetError(kind: .invalidData,
                               problem: "\(name): label \(labels[bad]) of image \(bad) outside 0..<\(classes)")
        }
        return max(classes, 1)
    }

    /// `Float(b) / 255` for each byte (torchvision's `ToTensor` arithmetic).
    static func unitPixels(_ bytes: [UInt8]) -> [Float] {
        var table = [Float](repeating: 0, count: 256)
        for i in 0..<256 { table[i] = Float(i) / 255 }
        return [Float](unsafeUninitializedCapacity: bytes.count) { out, initialized in
            bytes.withUnsafeBufferPointer { src in
                table.withUnsafeBufferPointer { t in
                    for i in 0..<src.count { out[i] = t[Int(src[i])] }
                }
            }
            initialized = bytes.count
        }
    }

    // MARK: Access

    /// The pixels of image `i` (C×H×W), as a copy.
    public func image(at i: Int) -> [Float] {
        precondition(i >= 0 && i < count, "image index \(i) out of range 0..<\(count)")
        return Array(pixels[(i * imageSize)..<((i + 1) * imageSize)])
    }

    /// Number of images of each class, indexed by class.
    public func classCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for l in labels { counts[l] += 1 }
        return counts
    }

    /// Indices of the images labelled `label`, ascending.
    public func indices(ofClass label: Int) -> [Int] {
        var out: [Int] = []
        for (i, l) in labels.enumerated() where l == label { out.append(i) }
        return out
    }

    /// Per-channel mean and (population) standard deviation of the pixels, as a
    /// normalisation for data that brings no statistics of its own.
    public func channelStatistics() -> Normalization {
        let plane = height * width
        var sum = [Double](repeating: 0, count: channels), sumSq = sum
        pixels.withUnsafeBufferPointer { p in
            for img in 0..<count {
                for c in 0..<channels {
                    let base = (img * channels + c) * plane
                    var s: Double = 0, q: Double = 0
                    for i in 0..<plane { let v = Double(p[base + i]); s += v; q += v * v }
                    sum[c] += s
                    sumSq[c] += q
                }
            }
        }
        let n = Double(max(count * plane, 1))
        let mean = sum.map { $0 / n }
        let std = zip(sumSq, mean).map { q, m in max((q / n - m * m).squareRoot(), 1e-6) }
        return Normalization(mean: mean.map { Float($0) }, std: std.map { Float($0) })
    }

    // MARK: Subsets and combinations

    /// Images `range` (a copy).
    public func subset(_ range: Range<Int>, name: String? = nil) -> ImageDataset {
        precondition(range.lowerBound >= 0 && range.upperBound <= count,
                     "subset \(range) out of range 0..<\(count) of \(self.name)")
        return ImageDataset(unchecked: name ?? "\(self.name)[\(range.lowerBound)..<\(range.upperBound)]",
                            pixels: Array(pixels[(range.lowerBound * imageSize)..<(range.upperBound * imageSize)]),
                            labels: Array(labels[range]), channels: channels, height: height, width: width,
                            classCount: classCount).withRole(role)
    }

    /// The images at `indices`, in that order (repeats allowed; a copy).
    public func subset(indices: [Int], name: String? = nil) -> ImageDataset {
        let size = imageSize
        var out = [Float](repeating: 0, count: indices.count * size)
        var outLabels = [Int](repeating: 0, count: indices.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count) of \(self.name)")
                    (dst.baseAddress! + k * size).update(from: src.baseAddress! + i * size, count: size)
                    outLabels[k] = labels[i]
                }
            }
        }
        return ImageDataset(unchecked: name ?? "\(self.name)[\(indices.count) indices]", pixels: out,
                            labels: outLabels, channels: channels, height: height, width: width,
                            classCount: classCount).withRole(role)
    }

    /// The images whose label is in `classes`, in their original order (labels unchanged).
    public func filtered(classes: Set<Int>, name: String? = nil) -> ImageDataset {
        let keep = labels.indices.filter { classes.contains(labels[$0]) }
        return subset(indices: keep, name: name ?? "\(self.name)[classes \(classes.sorted())]")
    }

    /// The same images with other labels (e.g. a victim's answers); `classCount`
    /// defaults to the current one.
    public func relabeled(_ newLabels: [Int], classCount: Int? = nil, name: String? = nil) throws -> ImageDataset {
        let classes = try ImageDataset.checkShapeAndLabels(name: name ?? self.name, valueCount: pixels.count,
                                                           labels: newLabels, channels: channels, height: height,
                                                           width: width, classCount: classCount ?? self.classCount)
        return ImageDataset(unchecked: name ?? self.name, pixels: pixels, labels: newLabels, channels: channels,
                            height: height, width: width, classCount: classes).withRole(role)
    }

    /// This dataset followed by `other` (same image shape); the class count is the larger one.
    public func concatenated(with other: ImageDataset, name: String? = nil) throws -> ImageDataset {
        try ImageDataset.concatenate([self, other], name: name)
    }

    /// The datasets one after another. All must have the same image shape.
    public static func concatenate(_ parts: [ImageDataset], name: String? = nil) throws -> ImageDataset {
        guard let first = parts.first else {
            throw DatasetError(kind: .invalidArgument, problem: "cannot concatenate an empty list of datasets")
        }
        for p in parts.dropFirst() where p.imageShape != first.imageShape {
            throw DatasetError(kind: .mismatch,
                               problem: "cannot concatenate \(first.name) (images \(first.imageShape)) and \(p.name) (images \(p.imageShape))")
        }
        var pixels: [Float] = []
        pixels.reserveCapacity(parts.reduce(0) { $0 + $1.pixels.count })
        var labels: [Int] = []
        labels.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts {
            pixels.append(contentsOf: p.pixels)
            labels.append(contentsOf: p.labels)
        }
        let roles = parts.map(\.role)
        let role: DataRole? = roles.contains(.attackerPool) ? .attackerPool : (roles.allSatisfy { $0 == first.role } ? first.role : nil)
        return ImageDataset(unchecked: name ?? parts.map(\.name).joined(separator: " + "), pixels: pixels,
                            labels: labels, channels: first.channels, height: first.height, width: first.width,
                            classCount: parts.map(\.classCount).max()!).withRole(role)
    }
}
