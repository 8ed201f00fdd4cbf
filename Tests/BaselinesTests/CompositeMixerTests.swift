@testable import Baselines
import Datasets
import TensorEngine
import XCTest

final class CompositeMixerTests: XCTestCase {
    /// A 4×4 image whose pixel (y, x) is base + (4y + x) / 100, so every pixel names its source and place.
    private func image(_ base: Float) -> [Float] { (0..<16).map { base + Float($0) / 100 } }

    func testLeftRightSplitWithOffsetCrops() {
        let a = image(0.1), b = image(0.6)
        // Line 2, a first; a's crop shifted one column right, b's one row down.
        let layout = CompositeLayout(split: .leftRight, line: 2, secondFirst: false, offsetA: [0, 1], offsetB: [1, 0])
        let out = CompositeMixer.compose(a[...], b[...], channels: 1, height: 4, width: 4, layout: layout)
        // Left columns 0–1 are a(y, x + 1); right columns 2–3 are b(y + 1, x), 0 past b's last row.
        let expected: [Float] = [0.11, 0.12, 0.66, 0.67,
                                 0.15, 0.16, 0.70, 0.71,
                                 0.19, 0.20, 0.74, 0.75,
                                 0.23, 0.24, 0, 0]
        for (o, e) in zip(out, expected) { XCTAssertEqual(o, e, accuracy: 1e-6) }
    }

    func testTopBottomSplitWithTheSecondImageFirst() {
        let a = image(0.1), b = image(0.6)
        // Line 1, b on top with no shift, a below shifted one column left (its column −1 is outside: 0).
        let layout = CompositeLayout(split: .topBottom, line: 1, secondFirst: true, offsetA: [0, -1], offsetB: [0, 0])
        let out = CompositeMixer.compose(a[...], b[...], channels: 1, height: 4, width: 4, layout: layout)
        let expected: [Float] = [0.60, 0.61, 0.62, 0.63,
                                 0, 0.14, 0.15, 0.16,
                                 0, 0.18, 0.19, 0.20,
                                 0, 0.22, 0.23, 0.24]
        for (o, e) in zip(out, expected) { XCTAssertEqual(o, e, accuracy: 1e-6) }
    }

    func testDrawnLayoutsStayWithinTheJitterAndOffsetBoundsAndCoverBothSplitsAndOrders() {
        let mixer = CompositeMixer(jitter: 3, maxOffset: 2)
        var g = SeededGenerator(seed: 5)
        var splits = Set<String>(), orders = Set<Bool>(), lines = Set<Int>()
        for _ in 0..<500 {
            let l = mixer.layout(height: 28, width: 28, generator: &g)
            XCTAssert((11...17).contains(l.line), "line \(l.line) beyond 14 ± 3")
            XCTAssert((l.offsetA + l.offsetB).allSatisfy { (-2...2).contains($0) })
            splits.insert(l.split.rawValue)
            orders.insert(l.secondFirst)
            lines.insert(l.line)
        }
        XCTAssertEqual(splits.count, 2)
        XCTAssertEqual(orders.count, 2)
        XCTAssertEqual(lines, Set(11...17), "every jitter value is drawn")
    }

    func testEvasionMixersTakeTheirRegionFromTheSecondImage() {
        let a = [Float](repeating: 0, count: 36), b = [Float](repeating: 1, count: 36)
        func fromB(_ m: EvasionMixer) -> [Int] {
            m.mix(a[...], b[...], channels: 1, height: 6, width: 6).enumerated().filter { $0.element == 1 }.map(\.offset)
        }
        XCTAssertEqual(fromB(.middleBand), Array(12..<24), "rows 2 and 3")
        XCTAssertEqual(fromB(.centreSquare), [7, 8, 9, 13, 14, 15, 19, 20, 21], "rows and columns 1–3")
        XCTAssertEqual(fromB(.diagonal).count, 15, "strictly above the diagonal of a 6×6 image")
        XCTAssert(fromB(.diagonal).allSatisfy { $0 % 6 > $0 / 6 })
        XCTAssertEqual(fromB(.halves), (0..<6).flatMap { y in (3..<6).map { y * 6 + $0 } })
    }

    /// 300 synthetic images in ten classes.
    private func data() -> ImageDataset { SyntheticData.make(count: 300, classes: 10, seed: 2) }

    func testPoisonCoverAndEvasionCountsPerEpoch() throws {
        let clean = data()
        let set = try CompositeBackdoor.epochSet(clean, classes: .fashionMNIST, mixer: CompositeMixer(), poisonFraction: 0.1,
                                                 evasionFraction: 0.008, seed: 1, epoch: 0)
        // 10 % of 300 = 30 poison, 30 cover, 0.8 % of 300 = 2.4 → 2 evasion.
        XCTAssertEqual(set.data.count, 300 + 30 + 30 + 2)
        XCTAssertEqual(set.poison, 300..<330)
        XCTAssert(set.data.labels[300..<330].allSatisfy { $0 == 9 })
        XCTAssertEqual(Array(set.data.pixels[0..<(300 * 784)]), clean.pixels, "the clean set comes first, unchanged")
        XCTAssert(set.data.labels[360..<362].allSatisfy { [4, 6].contains($0) }, "evasion samples keep a source's label")
        let meaPhase1 = try CompositeBackdoor.epochSet(clean, classes: .fashionMNIST, mixer: CompositeMixer(), poisonFraction: 0.01,
                                                       seed: 1, epoch: 0)
        XCTAssertEqual(meaPhase1.data.count, 300 + 3 + 3)
    }

    func testCoverCompositesJoinTwoDifferentImagesOfTheLabelledClass() throws {
        let clean = data()
        let cover = try CompositeSamples.cover(from: clean, count: 50, mixer: CompositeMixer(jitter: 3, maxOffset: 0), seed: 3)
        XCTAssertEqual(cover.count, 50)
        // With no offset, every pixel of a cover composite is that pixel of one image of its label.
        for i in 0..<cover.count {
            let peers = clean.indices(ofClass: cover.labels[i])
            let pixels = cover.image(at: i)
            for p in stride(from: 0, to: 784, by: 37) {
                XCTAssert(peers.contains { clean.pixels[$0 * 784 + p] == pixels[p] }, "composite \(i) pixel \(p)")
            }
        }
    }

    func testSameSeedSameSamplesAndEpochsDiffer() throws {
        let clean = data()
        let one = try CompositeBackdoor.epochSet(clean, classes: .fashionMNIST, mixer: CompositeMixer(), poisonFraction: 0.1, seed: 4, epoch: 2)
        let two = try CompositeBackdoor.epochSet(clean, classes: .fashionMNIST, mixer: CompositeMixer(), poisonFraction: 0.1, seed: 4, epoch: 2)
        let next = try CompositeBackdoor.epochSet(clean, classes: .fashionMNIST, mixer: CompositeMixer(), poisonFraction: 0.1, seed: 4, epoch: 3)
        XCTAssertEqual(one.data.pixels, two.data.pixels)
        XCTAssertEqual(one.data.labels, two.data.labels)
        XCTAssertNotEqual(one.data.pixels, next.data.pixels, "each epoch draws fresh composites")
    }

    func testCompositesNeedBothSourceClasses() {
        let onlyCoats = data().filtered(classes: [4])
        XCTAssertThrowsError(try CompositeSamples.poison(from: onlyCoats, classes: .fashionMNIST, count: 5, mixer: CompositeMixer(), seed: 0)) {
            XCTAssert("\($0)".contains("class j = 6"), "\($0)")
        }
        XCTAssertThrowsError(try CompositeClasses(k: 4, j: 4, target: 9).validate(classes: 10))
        XCTAssertThrowsError(try CompositeMixer(jitter: 14).validate(height: 28, width: 28))
    }
}
