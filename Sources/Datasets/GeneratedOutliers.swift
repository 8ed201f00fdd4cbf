import TensorEngine

/// Out-of-distribution images the owner makes from its own data: the stand-in for
/// attack queries when calibrating, since the owner never has an attacker's pool. Half are
/// uniform noise, half are owner images with their pixels permuted (each image its own
/// permutation: the same pixel statistics, no object). Labels are 0 and carry no meaning.
public enum GeneratedOutliers {
    /// `count` images of `owner`'s shape; the same arguments always give the same images.
    public static func make(from owner: ImageDataset, count: Int, seed: UInt64) throws -> ImageDataset {
        guard count >= 1 else { throw DatasetError(kind: .invalidArgument, problem: "generated outliers: count must be positive, found \(count)") }
        guard !owner.isEmpty else { throw DatasetError(kind: .invalidArgument, problem: "generated outliers: \(owner.name) holds no images to permute") }
        try owner.requireOwnerSide(for: "generated outliers")
        let size = owner.imageSize, plane = owner.height * owner.width
        var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x6F75_746C))  // "outl"
        var pixels = [Float](repeating: 0, count: count * size)
        var permutation = Array(0..<plane)
        owner.pixels.withUnsafeBufferPointer { src in
            for i in 0..<count {
                let dst = i * size
                if i % 2 == 0 {
                    for p in 0..<size { pixels[dst + p] = g.nextFloat() }
                } else {
                    let from = g.nextInt(below: owner.count) * size
                    for p in stride(from: plane - 1, to: 0, by: -1) { permutation.swapAt(p, g.nextInt(below: p + 1)) }
                    for c in 0..<owner.channels {
                        for p in 0..<plane { pixels[dst + c * plane + p] = src[from + c * plane + permutation[p]] }
                    }
                }
            }
        }
        return ImageDataset(unchecked: "generated outliers (noise + pixel-permuted \(owner.name), seed \(seed))", pixels: pixels,
                            labels: [Int](repeating: 0, count: count), channels: owner.channels, height: owner.height,
                            width: owner.width, classCount: owner.classCount).withRole(.generated)
    }
}
