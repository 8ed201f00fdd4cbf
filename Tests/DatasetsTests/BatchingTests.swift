import Foundation
import TensorEngine
import XCTest
@testable import Datasets

final class BatchingTests: DatasetsTestCase {
    func testEveryIndexExactlyOncePerEpoch() {
        for (count, size) in [(10, 3), (12, 4), (1, 5), (0, 2), (1000, 128)] {
            let s = BatchSampler(count: count, batchSize: size, seed: 9)
            for epoch in 0..<3 {
                let batches = s.batches(epoch: epoch)
                XCTAssertEqual(batches.count, s.batchesPerEpoch)
                XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(0..<count))
                XCTAssertTrue(batches.dropLast().allSatisfy { $0.count == size })
                if let last = batches.last { XCTAssertEqual(last.count, count % size == 0 ? size : count % size) }
            }
        }
        let dropping = BatchSampler(count: 10, batchSize: 3, dropLast: true, seed: 1)
        XCTAssertEqual(dropping.batchesPerEpoch, 3)
        XCTAssertEqual(dropping.itemsPerEpoch, 9)
        let batches = dropping.batches(epoch: 0)
        XCTAssertTrue(batches.allSatisfy { $0.count == 3 })
        XCTAssertEqual(Set(batches.flatMap { $0 }).count, 9)
        XCTAssertEqual(BatchSampler(count: 5, batchSize: 2, shuffle: false).batches(epoch: 4), [[0, 1], [2, 3], [4]])
        // A batch size from an option as large as Int.max: one batch of everything, no overflow.
        XCTAssertEqual(BatchSampler(count: 5, batchSize: .max, shuffle: false).batches(epoch: 0), [[0, 1, 2, 3, 4]])
        XCTAssertEqual(BatchSampler(count: 0, batchSize: .max).batchesPerEpoch, 0)
    }

    func testShuffleIsSeededPerEpoch() {
        let a = BatchSampler(count: 500, batchSize: 64, seed: 1)
        let b = BatchSampler(count: 500, batchSize: 64, seed: 1)
        let c = BatchSampler(count: 500, batchSize: 64, seed: 2)
        XCTAssertEqual(a.order(epoch: 3), b.order(epoch: 3))
        XCTAssertNotEqual(a.order(epoch: 3), c.order(epoch: 3))
        XCTAssertNotEqual(a.order(epoch: 0), a.order(epoch: 1))
        XCTAssertNotEqual(a.order(epoch: 0), Array(0..<500))
        // Epoch 5 alone equals epoch 5 after others: no hidden state.
        _ = b.order(epoch: 0); _ = b.order(epoch: 1)
        XCTAssertEqual(a.order(epoch: 5), b.order(epoch: 5))
        XCTAssertNotEqual(BatchSampler.epochSeed(base: 1, epoch: 0), BatchSampler.epochSeed(base: 1, epoch: 1))
    }

    func testLoaderReproducibleBatchesAndAugmentation() {
        let data = SyntheticData.make(count: 300, seed: 5)
        let aug = Augmentation(cropPadding: 2, flipProbability: 0.5, rotationDegrees: 5, scaleMin: 0.95, scaleMax: 1,
                               maxShift: 0.1, noiseStd: 0.02)
        func loader(_ seed: UInt64) -> DataLoader {
            DataLoader(dataset: data, batchSize: 64, seed: seed, normalization: .fashionMNIST, augmentation: aug)
        }
        let e1 = Array(loader(7).epoch(2)), e2 = Array(loader(7).epoch(2)), e3 = Array(loader(8).epoch(2))
        XCTAssertEqual(e1.count, 5)
        XCTAssertEqual(e1.map(\.images.shape), [[64, 1, 28, 28], [64, 1, 28, 28], [64, 1, 28, 28], [64, 1, 28, 28], [44, 1, 28, 28]])
        for (x, y) in zip(e1, e2) {
            XCTAssertEqual(x.indices, y.indices)
            XCTAssertEqual(x.labels, y.labels)
            XCTAssertEqual(x.images.scalars, y.images.scalars)
            XCTAssertEqual(x.labels, x.indices.map { data.labels[$0] })
        }
        XCTAssertNotEqual(e1[0].indices, e3[0].indices)
        // Same images, another seed: different augmentation.
        let other = loader(8).batch(indices: e1[0].indices, epoch: 2, index: 0)
        XCTAssertNotEqual(other.images.scalars, e1[0].images.scalars)
        // Another epoch gives other pixels for the same images.
        let nextEpoch = loader(7).batch(indices: e1[0].indices, epoch: 3, index: 0)
        XCTAssertNotEqual(nextEpoch.images.scalars, e1[0].images.scalars)
        // Values stay within the normalised pixel range.
        let bounds = Normalization.fashionMNIST.bounds()
        XCTAssertTrue(e1[1].images.scalars.allSatisfy { $0 >= bounds.lowerBound - 1e-6 && $0 <= bounds.upperBound + 1e-6 })
        // Threads do not matter: one image at a time gives the same pixels as the whole batch.
        let seed = loader(7).augmentationSeed(epoch: 2, batch: 0)
        let whole = data.batchTensor(e1[0].indices, normalization: .fashionMNIST, augmentation: aug, seed: seed).images.scalars
        XCTAssertEqual(whole, e1[0].images.scalars)

        // Without augmentation the loader yields plain normalised images.
        let plain = DataLoader(dataset: data, batchSize: 100, shuffle: false, dropLast: true, normalization: .fashionMNIST)
        let batches = Array(plain.epoch(0))
        XCTAssertEqual(batches.count, 3)
        XCTAssertEqual(batches[1].indices, Array(100..<200))
        XCTAssertEqual(batches[1].images.scalars, data.batchTensor(Array(100..<200), normalization: .fashionMNIST).images.scalars)
    }

    /// Timing of one training batch (128 images of 1×28×28: gather, crop+flip+affine+noise,
    /// normalise). Printed for reference; meaningful in release builds
    /// (`swift test -c release --filter BatchingTests`).
    func testBatchAssemblyTiming() {
        let data = SyntheticData.make(count: 2000, seed: 1)
        let indices = Array(BatchSampler(count: 2000, batchSize: 128, seed: 3).order(epoch: 0).prefix(128))
        let configs: [(String, Augmentation)] = [
            ("none", .none),
            ("crop2+flip", .cropAndFlip(padding: 2, flip: true)),
            ("verifier affine", .verifier),
            ("crop+flip+affine+noise", Augmentation(cropPadding: 2, flipProbability: 0.5, rotationDegrees: 5, scaleMin: 0.95,
                                                     scaleMax: 1, maxShift: 0.1, noiseStd: 0.05)),
        ]
        for (label, aug) in configs {
            _ = data.batchTensor(indices, normalization: .fashionMNIST, augmentation: aug, seed: 0)
            var times: [Double] = []
            #if DEBUG
            let reps = 10
            #else
            let reps = 100
            #endif
            for r in 0..<reps {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = data.batchTensor(indices, normalization: .fashionMNIST, augmentation: aug, seed: UInt64(r))
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
            }
            times.sort()
            let us = times[times.count / 2]
            print("batch assembly, 128×1×28×28, \(label): median \(String(format: "%.1f", us)) µs, min \(String(format: "%.1f", times[0])) µs")
        }
    }
}

final class SeedMixingTests: XCTestCase {
    func testMixIsStableAndSensitive() {
        XCTAssertEqual(SeedMixing.mix(1, 2), SeedMixing.mix(1, 2))
        XCTAssertNotEqual(SeedMixing.mix(1, 2), SeedMixing.mix(2, 1))
        XCTAssertNotEqual(SeedMixing.mix(1, 2, 3), SeedMixing.mix(1, 3, 2))
        let seeds = Set((0..<1000).map { SeedMixing.mix(7, UInt64($0)) })
        XCTAssertEqual(seeds.count, 1000)
    }
}
