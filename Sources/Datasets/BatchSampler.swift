import TensorEngine

/// Splits `0..<count` into batches for each epoch: a seeded shuffle per epoch (or the
/// natural order), batches of `batchSize`, the last partial batch kept or dropped.
///
/// Epoch `e` is shuffled with a generator seeded from (`seed`, `e`) alone, so any epoch
/// can be reproduced without replaying the ones before it.
public struct BatchSampler: Sendable, Equatable {
    /// Number of items to sample from.
    public let count: Int
    /// Items per batch.
    public let batchSize: Int
    /// Whether each epoch uses a fresh seeded permutation.
    public let shuffle: Bool
    /// Whether a final batch smaller than `batchSize` is dropped.
    public let dropLast: Bool
    /// Base seed of the epoch permutations.
    public let seed: UInt64

    /// - Precondition: `count ≥ 0`, `batchSize > 0`.
    public init(count: Int, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false, seed: UInt64 = 0) {
        precondition(count >= 0, "sampler count \(count) must be ≥ 0")
        precondition(batchSize > 0, "batch size \(batchSize) must be positive")
        self.count = count
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
    }

    /// Batches in every epoch (a ceiling division that cannot overflow: the batch size may come
    /// from an option as large as `Int.max`).
    public var batchesPerEpoch: Int { dropLast ? count / batchSize : (count == 0 ? 0 : (count - 1) / batchSize + 1) }

    /// Items visited per epoch (`count`, less the dropped remainder).
    public var itemsPerEpoch: Int { dropLast ? (count / batchSize) * batchSize : count }

    /// The seed of epoch `epoch`'s permutation, derived from `base` and the epoch alone.
    public static func epochSeed(base: UInt64, epoch: Int) -> UInt64 {
        SeedMixing.mix(base, 0x6570_6F63_6800, UInt64(bitPattern: Int64(epoch)))  // salt "epoch"
    }

    /// The visiting order of epoch `epoch`: a Fisher–Yates permutation of `0..<count`
    /// seeded by `epochSeed`, or `0..<count` when not shuffling.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<count)
        guard shuffle, count > 1 else { return order }
        var generator = SeededGenerator(seed: BatchSampler.epochSeed(base: seed, epoch: epoch))
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, generator.nextInt(below: i + 1))
        }
        return order
    }

    /// The batches of epoch `epoch`, in order.
    public func batches(epoch: Int) -> [[Int]] {
        let order = order(epoch: epoch)
        return (0..<batchesPerEpoch).map { b in
            Array(order[(b * batchSize)..<min((b + 1) * batchSize, count)])
        }
    }
}
