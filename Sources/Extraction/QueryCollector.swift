import Datasets
import TensorEngine

/// Turns attack images into answers through a `QueryBoundary`: one query per image, or, for
/// the smoothing attack, `copies` queries per image, each under a fresh training augmentation,
/// with the answers averaged (docs/algorithms.md §5: 3 copies, random crop with padding and flip).
///
/// A call spends exactly the queries it is given: with q queries for n images,
/// (n − 1)·copies < q ≤ n·copies, the first images get `copies` queries each and the last one
/// the rest. Augmentation draws depend only on the seed and the image's running number.
public struct QueryCollector {
    public let boundary: QueryBoundary
    /// Queries per image (1 = plain querying).
    public let copies: Int
    /// Applied to each copy when `copies` > 1.
    public let augmentation: Augmentation
    public let seed: UInt64
    /// Images per API call.
    public let batchSize: Int

    public init(boundary: QueryBoundary, copies: Int = 1, augmentation: Augmentation = .none, seed: UInt64 = 0,
                batchSize: Int = 256) throws {
        guard copies >= 1 else { throw ExtractionError(.invalidConfiguration, "queries per image must be ≥ 1, found \(copies)") }
        guard batchSize >= 1 else { throw ExtractionError(.invalidConfiguration, "query batch size must be ≥ 1, found \(batchSize)") }
        try augmentation.validate()
        self.boundary = boundary
        self.copies = copies
        self.augmentation = augmentation
        self.seed = seed
        self.batchSize = batchSize
    }

    /// Images that `queries` queries pay for (the last one possibly with fewer copies).
    public func imagesAffordable(queries: Int) -> Int { (max(queries, 0) + copies - 1) / copies }

    /// Answers for `count` images (pixels back to back, raw [0, 1]), spending `queries`
    /// queries (default `count`·`copies`). `firstID` numbers the images for the augmentation
    /// seeds; give each image of a run its own number.
    public func answers(pixels: [Float], count: Int, firstID: Int, queries: Int? = nil) throws -> [[Float]] {
        let shape = boundary.inputShape
        let size = shape.reduce(1, *)
        guard pixels.count == count * size else {
            throw ExtractionError(.invalidQuery, "\(pixels.count) pixel values are not \(count) images of \(shape)")
        }
        let q = queries ?? count * copies
        guard count == 0 ? q == 0 : (q > (count - 1) * copies && q <= count * copies) else {
            throw ExtractionError(.invalidConfiguration, "\(q) queries do not fit \(count) images at \(copies) per image")
        }
        guard q <= boundary.remaining else {
            throw ExtractionError(.budgetExceeded,
                                  "query budget exceeded: \(q) more queries needed, \(boundary.queriesSpent) of \(boundary.budget) already spent")
        }
        if copies == 1 { return try plainAnswers(pixels, count: count, shape: shape) }

        // Smoothing: copy c of image i is query number (i·copies + c) until q runs out.
        let k = boundary.classes
        var sums = [[Float]](repeating: [Float](repeating: 0, count: k), count: count)
        var received = [Int](repeating: 0, count: count)
        var pending: [(image: Int, pixels: [Float])] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            var flat: [Float] = []
            flat.reserveCapacity(pending.count * size)
            for p in pending { flat += p.pixels }
            let rows = try boundary.query(Tensor(flat, shape: [pending.count] + shape))
            for (p, row) in zip(pending, rows) {
                for j in 0..<k { sums[p.image][j] += row[j] }
                received[p.image] += 1
            }
            pending.removeAll(keepingCapacity: true)
        }
        for i in 0..<count {
            let image = Array(pixels[(i * size)..<((i + 1) * size)])
            for c in 0..<min(copies, q - i * copies) {
                var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x736D_6F6F, UInt64(firstID + i), UInt64(c)))  // "smoo"
                pending.append((i, augmentation.apply(to: image, channels: shape[0], height: shape[1], width: shape[2],
                                                      generator: &g)))
                if pending.count == batchSize { try flush() }
            }
        }
        try flush()
        return zip(sums, received).map { row, n in row.map { $0 / Float(n) } }
    }

    private func plainAnswers(_ pixels: [Float], count: Int, shape: [Int]) throws -> [[Float]] {
        let size = shape.reduce(1, *)
        var rows: [[Float]] = []
        rows.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: batchSize) {
            let end = min(start + batchSize, count)
            let batch = Tensor(Array(pixels[(start * size)..<(end * size)]), shape: [end - start] + shape)
            rows += try boundary.query(batch)
        }
        return rows
    }
}
