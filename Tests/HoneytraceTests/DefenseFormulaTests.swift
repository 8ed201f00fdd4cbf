import Foundation
import Honeytrace
import TensorEngine
import XCTest

/// `row` repeated `n` times, flattened.
func repeated(_ row: [Float], _ n: Int) -> [Float] { (0..<n).reduce(into: [Float]()) { out, _ in out += row } }

final class DefenseFormulaTests: XCTestCase {
    func testABatchSplitAcrossThreadsIsAnsweredAsOneThreadAnswersIt() throws {
        // defend splits large batches across the engine's threads; every row, its fresh draw
        // (numbered by its place in the batch) included, must come out as on one thread.
        var g = SeededGenerator(seed: 11)
        func rows(_ n: Int) -> [[Float]] { (0..<n).map { _ in (0..<4).map { _ in g.nextNormal() } } }
        let bank = rows(30)
        let n = 300
        let features = rows(n).flatMap { $0 }
        let logits: [Float] = (0..<(n * 3)).map { _ in 2 * g.nextNormal() }
        let pixels: [Float] = (0..<(n * 4)).map { _ in g.nextFloat() }
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        for randomness in [DefenseConfiguration.Randomness.fresh(seed: 5), .keyed, .keyedNeighbourhood] {
            var config = DefenseConfiguration()
            config.offset = 3
            config.outOfDistributionGate = 0.5
            config.randomness = randomness
            let key = try handKey(features: rows(5), references: [[0, 0, 5], [1, 0, 4]], dataFeatures: bank, dataLabels: bank.map { _ in 0 })
            var outputs: [DefenseOutput] = []
            for threads in [1, 2] {
                Parallel.threadCount = threads
                // A fresh defense per thread count: fresh draws number the defend calls.
                outputs.append(try HoneytraceDefense(key: key, configuration: config).defend(pixels: pixels, logits: logits, features: features))
            }
            XCTAssertEqual(outputs[0].probabilities, outputs[1].probabilities, "\(randomness)")
            XCTAssertEqual(outputs[0].similarity, outputs[1].similarity, "\(randomness)")
            XCTAssertEqual(outputs[0].flipped, outputs[1].flipped, "\(randomness)")
            XCTAssertGreaterThan(outputs[0].flipped.filter { $0 }.count, 5, "\(randomness): the case flips rows")
            XCTAssertLessThan(outputs[0].flipped.filter { $0 }.count, n, "\(randomness)")
        }
    }

    let w: [[Float]] = [[0, 0], [3, 1]]
    let ref: [[Float]] = [[0, 0, 5]]

    func softmax(_ z: [Float]) -> [Float] {
        let m = z.max()!
        let e = z.map { expf($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Defends one row with hand-made features and logits; pixels are a fixed 2×2 image.
    func defendOne(_ config: DefenseConfiguration, feature: [Float], logits: [Float], key: WatermarkKey? = nil) throws -> DefenseOutput {
        let k = try key ?? handKey(features: w, references: ref, defense: config)
        return try HoneytraceDefense(key: k, configuration: config).defend(pixels: [0.1, 0.2, 0.3, 0.4], logits: logits, features: feature)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ tol: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tol, "\(a) vs \(b)", file: file, line: line) }
    }

    func testSimilarityAndMixingMatchHandComputedValues() throws {
        // dist = mean(D((1,0),(0,0)), D((1,0),(3,1))) = mean(0.5, 2.5) = 1.5; s = 2.2 − 1.5 = 0.7.
        // max softmax(2, 0, 0) = 0.787: no confidence rule. w = s² = 0.49; β huge: no flip.
        var c = DefenseConfiguration(offset: 2.2, flippingPower: 1000)
        var out = try defendOne(c, feature: [1, 0], logits: [2, 0, 0])
        XCTAssertEqual(out.similarity[0], 0.7, accuracy: 1e-5)
        XCTAssertTrue(out.mixed[0])
        XCTAssertFalse(out.flipped[0])
        assertClose(out.probabilities, softmax([0.51 * 2, 0, 0.49 * 5]))

        // Nearest watermark only: dist 0.5, s = 1.2 − 0.5 = 0.7.
        c = DefenseConfiguration(aggregate: .nearest(1), offset: 1.2, flippingPower: 1000)
        out = try defendOne(c, feature: [1, 0], logits: [2, 0, 0])
        XCTAssertEqual(out.similarity[0], 0.7, accuracy: 1e-5)

        // Mean absolute: mean(0.5, 1.5) = 1.0; s = 1.7 − 1.0 = 0.7. α = 3: w = 0.343.
        c = DefenseConfiguration(distance: .meanAbsolute, offset: 1.7, mixingPower: 3, flippingPower: 1000)
        out = try defendOne(c, feature: [1, 0], logits: [2, 0, 0])
        XCTAssertEqual(out.similarity[0], 0.7, accuracy: 1e-5)
        assertClose(out.probabilities, softmax([0.657 * 2, 0, 0.343 * 5]))

        // Far from the watermarks: s = 0, the answer is softmax(z) untouched.
        c = DefenseConfiguration(offset: 1.0)
        out = try defendOne(c, feature: [10, 10], logits: [2, 0, 0])
        XCTAssertEqual(out.similarity[0], 0)
        XCTAssertFalse(out.mixed[0])
        assertClose(out.probabilities, softmax([2, 0, 0]))

        // Clipping at 1.
        c = DefenseConfiguration(offset: 5, flippingPower: 1000)
        out = try defendOne(c, feature: [1, 0], logits: [2, 0, 0])
        XCTAssertEqual(out.similarity[0], 1)
    }

    func testConfidenceRules() throws {
        let c = DefenseConfiguration(offset: 2.2, flippingPower: 1000)
        // Confident (max p ≈ 0.9999 ≥ 0.95): s = 0.7² = 0.49.
        XCTAssertEqual(try defendOne(c, feature: [1, 0], logits: [10, 0, 0]).similarity[0], 0.49, accuracy: 1e-5)
        // Unconfident (max p = 0.356 < 0.5): s = 0.7^(1/4).
        XCTAssertEqual(try defendOne(c, feature: [1, 0], logits: [0.1, 0, 0]).similarity[0], powf(0.7, 0.25), accuracy: 1e-5)
        // Rules off.
        var off = c
        off.confidentThreshold = nil
        off.unconfidentThreshold = nil
        XCTAssertEqual(try defendOne(off, feature: [1, 0], logits: [10, 0, 0]).similarity[0], 0.7, accuracy: 1e-5)
        XCTAssertEqual(try defendOne(off, feature: [1, 0], logits: [0.1, 0, 0]).similarity[0], 0.7, accuracy: 1e-5)
        // The static helpers agree.
        XCTAssertEqual(HoneytraceDefense.similarity(distance: 1.5, maxProbability: 0.99, configuration: c), 0.49, accuracy: 1e-5)
        var q = c
        q.flippingPower = 3
        q.quantizeFlipProbability = true
        XCTAssertEqual(HoneytraceDefense.flipProbability(similarity: 0.8, configuration: q), 0.5, accuracy: 1e-6)  // 0.512 → 0.5
        q.quantizeFlipProbability = false
        XCTAssertEqual(HoneytraceDefense.flipProbability(similarity: 0.8, configuration: q), 0.512, accuracy: 1e-6)
    }

    func testStandardizedAndRelativeScores() throws {
        // Std (2, 1): floor 0.1 × median 2 = 0.2, so scales (1/2, 1). Watermarks (0,0), (1.5,1), query (0.5,0):
        // D = 0.125 and 1.0, mean 0.5625; s = 1.2625 − 0.5625 = 0.7.
        var c = DefenseConfiguration(featureSpace: .standardized, offset: 1.2625, flippingPower: 1000)
        var key = try handKey(features: w, references: ref, defense: c, featureStd: [2, 1])
        XCTAssertEqual(try defendOne(c, feature: [1, 0], logits: [2, 0, 0], key: key).similarity[0], 0.7, accuracy: 1e-5)

        // Relative: the nearest data feature, (1, 0.1), is 0.005 away; dist = 1.5 − 0.005; s = 2.2 − 1.495 = 0.705.
        c = DefenseConfiguration(score: .relative, offset: 2.2, flippingPower: 1000)
        key = try handKey(features: w, references: ref, defense: c, dataFeatures: [[1, 0.2], [5, 5], [1, 0.1]], dataLabels: [0, 1, 2])
        XCTAssertEqual(try defendOne(c, feature: [1, 0], logits: [2, 0, 0], key: key).similarity[0], 0.705, accuracy: 1e-5)
        // Source classes only (0 and 1): the nearest is (1, 0.2), 0.02 away; s = 2.2 − 1.48 = 0.72.
        c.score = .relativeToSourceClasses
        XCTAssertEqual(try defendOne(c, feature: [1, 0], logits: [2, 0, 0], key: key).similarity[0], 0.72, accuracy: 1e-5)

        // Options the key cannot serve are refused clearly.
        let bare = try handKey(features: w, references: ref)
        assertThrows(try HoneytraceDefense(key: bare, configuration: DefenseConfiguration(featureSpace: .standardized)), mentioning: ["feature_std"])
        assertThrows(try HoneytraceDefense(key: bare, configuration: DefenseConfiguration(score: .relative)), mentioning: ["data features"])
    }

    func testOutOfDistributionGateHoldsBackQueriesNearTheOwnersData() throws {
        // Data features (0,0), (1,0), (0,3), (10,10): each one's nearest other is 0.5, 0.5, 4.5 and 74.5
        // away (mean squared D), so the 0.5-quantile (index round(0.5 · 3) = 2 of the sorted four) is 4.5.
        let data: [[Float]] = [[0, 0], [1, 0], [0, 3], [10, 10]]
        var gated = DefenseConfiguration(offset: 11, flippingPower: 1000)
        gated.outOfDistributionGate = 0.5
        let key = try handKey(features: w, references: ref, dataFeatures: data, dataLabels: [0, 1, 2, 0])
        let defense = try HoneytraceDefense(key: key, configuration: gated)
        XCTAssertEqual(defense.outOfDistributionFloor, 4.5)
        // Queries (4,4) (nearest data 8.5 away: passes), (0,1.5) (1.125: held back), (0,6) (4.5, the floor: held back).
        let queries: [Float] = [4, 4, 0, 1.5, 0, 6]
        let plain = try HoneytraceDefense(key: key, configuration: DefenseConfiguration(offset: 11, flippingPower: 1000)).distances(features: queries)
        let withGate = defense.distances(features: queries)
        XCTAssertEqual(withGate[0], plain[0])
        XCTAssertEqual(plain[0], 10.5, accuracy: 1e-5)   // mean(16, 5), the watermark distance alone
        XCTAssertEqual(withGate[1], .infinity)
        XCTAssertEqual(withGate[2], .infinity)
        // A held-back row is answered bare; without the gate the same row is mixed.
        let near = try defendOne(gated, feature: [0, 1.5], logits: [2, 0, 0], key: key)
        XCTAssertEqual(near.similarity[0], 0)
        XCTAssertFalse(near.mixed[0])
        assertClose(near.probabilities, softmax([2, 0, 0]))
        XCTAssertTrue(try defendOne(DefenseConfiguration(offset: 11, flippingPower: 1000), feature: [0, 1.5], logits: [2, 0, 0], key: key).mixed[0])
        XCTAssertEqual(try defendOne(gated, feature: [4, 4], logits: [2, 0, 0], key: key).similarity[0], 0.5, accuracy: 1e-5)
        // A higher quantile holds back more: at 0.9 the floor is 74.5 and (4,4) is held back too.
        gated.outOfDistributionGate = 0.9
        let strict = try HoneytraceDefense(key: key, configuration: gated)
        XCTAssertEqual(strict.outOfDistributionFloor, 74.5)
        XCTAssertEqual(strict.distances(features: [4, 4])[0], .infinity)

        // The gate needs a data bank of at least two features, and a quantile strictly inside (0, 1).
        assertThrows(try HoneytraceDefense(key: try handKey(features: w, references: ref), configuration: gated),
                     mentioning: ["out-of-distribution gate", "data features"])
        assertThrows(try HoneytraceDefense(key: try handKey(features: w, references: ref, dataFeatures: [[0, 0]], dataLabels: [0]),
                                           configuration: gated), mentioning: ["at least 2", "found 1"])
        for bad: Float in [0, 1, -0.5, .nan] {
            gated.outOfDistributionGate = bad
            assertThrows(try gated.validate(), mentioning: ["out-of-distribution gate", "(0, 1)"])
        }
    }

    func testBatchDistancesAgreeWithTheTextbookFormulaOnEveryRow() throws {
        // 40 random watermarks and a bank of 300 random features of width 12; 600 queries (more
        // than a chunk, enough for the threaded product). defend computes the mean distance by the
        // watermarks' mean and asks the gate only about rows below d; each row's similarity must
        // still be the textbook one: mean over watermarks, nearest bank feature against the floor.
        var g = SeededGenerator(seed: 5)
        let width = 12
        func rows(_ n: Int, scale: Float) -> [[Float]] { (0..<n).map { _ in (0..<width).map { _ in scale * g.nextFloat() } } }
        let watermarks = rows(40, scale: 1), bank = rows(300, scale: 1)
        let queries = (rows(300, scale: 1) + rows(300, scale: 2.5)).flatMap { $0 }  // like the bank; far
        var c = DefenseConfiguration(offset: 0.3, flippingPower: 1000)
        c.outOfDistributionGate = 0.5
        let key = try handKey(features: watermarks, references: ref, dataFeatures: bank, dataLabels: [Int](repeating: 0, count: 300))
        let defense = try HoneytraceDefense(key: key, configuration: c)
        let floor = try XCTUnwrap(defense.outOfDistributionFloor)
        let toWatermarks = FeatureDistance.naivePairwise(.meanSquared, queries: queries, references: watermarks.flatMap { $0 }, width: width)
        let toBank = FeatureDistance.naivePairwise(.meanSquared, queries: queries, references: bank.flatMap { $0 }, width: width)
        let logits = repeated([0.5, 0, 0], 600)
        let out = try defense.defend(pixels: [Float](repeating: 0.5, count: 600 * 4), logits: logits, features: queries)
        var below = 0, gated = 0
        for r in 0..<600 {
            let mean = toWatermarks[(r * 40)..<((r + 1) * 40)].reduce(0, +) / 40
            let nearest = toBank[(r * 300)..<((r + 1) * 300)].min()!
            let raw = max(0, min(1, 0.3 - mean))
            if raw > 0 { below += 1 }
            if raw > 0 && nearest <= floor { gated += 1 }
            let expected: Float = nearest <= floor ? 0
                : HoneytraceDefense.similarity(distance: mean, maxProbability: HoneytraceDefense.maxProbability([0.5, 0, 0], classes: 3), configuration: c)
            // (rows within rounding of d or of the floor could go either way; s^(1/4) magnifies rounding near 0)
            guard abs(0.3 - mean) > 1e-4, abs(nearest - floor) > 1e-5 else { continue }
            XCTAssertEqual(out.similarity[r], expected, accuracy: 1e-3, "row \(r): mean \(mean), nearest \(nearest), floor \(floor)")
            XCTAssertEqual(out.mixed[r], expected > 0, "row \(r)")
        }
        XCTAssertTrue((100...500).contains(below), "\(below) rows below d: the test should see both kinds")
        XCTAssertGreaterThan(gated, 10, "some rows below d are held back by the gate")
        // The distances on their own (what calibration sweeps d over) still gate every row.
        let all = defense.distances(features: queries)
        for r in 0..<600 where toBank[(r * 300)..<((r + 1) * 300)].min()! <= floor { XCTAssertEqual(all[r], .infinity, "row \(r)") }
    }

    func testFlipProbabilityIsSToTheBetaInFreshMode() throws {
        // s = 2.3 − 1.5 = 0.8 on every row; β = 3: flips with probability 0.512.
        let c = DefenseConfiguration(offset: 2.3, flippingPower: 3, randomness: .fresh(seed: 42))
        let key = try handKey(features: w, references: [[0, 0, 5], [0, 1, 6]], defense: c)
        let defense = try HoneytraceDefense(key: key, configuration: c)
        let rows = 4000
        let out = try defense.defend(pixels: [Float](repeating: 0.5, count: rows * 4),
                                     logits: repeated([2, 0, 0], rows),
                                     features: repeated([1, 0], rows))
        let rate = Double(out.flippedCount) / Double(rows)
        let sd = (0.512 * 0.488 / Double(rows)).squareRoot()
        XCTAssertEqual(rate, 0.512, accuracy: 4.5 * sd, "flip rate \(rate)")
        XCTAssertEqual(out.mixedCount, rows)
        // Every flipped row is a proper distribution peaked on the target; mixed rows follow Eq. 9.
        for r in 0..<rows {
            let p = out.probabilities(row: r)
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertTrue(p.allSatisfy { $0 >= 0 && $0 <= 1 })
            if out.flipped[r] { XCTAssertEqual(out.labels[r], 2) }
        }
        // Fresh randomness: the same inputs again get other draws.
        let again = try defense.defend(pixels: [Float](repeating: 0.5, count: 400 * 4), logits: repeated([2, 0, 0], 400),
                                       features: repeated([1, 0], 400))
        XCTAssertNotEqual(Array(out.flipped.prefix(400)), again.flipped)
    }

    func testKeyedFlipsFollowSToTheBetaOverDistinctInputs() throws {
        let c = DefenseConfiguration(offset: 2.3, flippingPower: 3)
        let key = try handKey(features: w, references: ref, defense: c)
        let defense = try HoneytraceDefense(key: key, configuration: c)
        var g = SeededGenerator(seed: 9)
        let rows = 3000
        let pixels = (0..<(rows * 4)).map { _ in g.nextFloat() }
        let out = try defense.defend(pixels: pixels, logits: repeated([2, 0, 0], rows),
                                     features: repeated([1, 0], rows))
        let rate = Double(out.flippedCount) / Double(rows)
        XCTAssertEqual(rate, 0.512, accuracy: 4.5 * (0.512 * 0.488 / Double(rows)).squareRoot(), "keyed flip rate \(rate)")
    }

    func testKeyedRandomnessIsDeterministicPerInputAndSecret() throws {
        let c = DefenseConfiguration(offset: 2.3, flippingPower: 1)  // s = 0.8, flip probability 0.8
        let key = try handKey(features: w, references: [[0, 0, 5], [1, 0, 5], [0, 1, 5]], defense: c)
        let defense = try HoneytraceDefense(key: key, configuration: c)
        var g = SeededGenerator(seed: 4)
        let rows = 64
        // Exact grey levels, so the nudge below stays within the same quantisation step.
        var pixels = (0..<(rows * 4)).map { _ in Float(g.nextInt(below: 256)) / 255 }
        for j in 0..<4 { pixels[5 * 4 + j] = pixels[j] }  // row 5 repeats row 0
        let logits = repeated([2, 0, 0], rows), features = repeated([1, 0], rows)
        let a = try defense.defend(pixels: pixels, logits: logits, features: features)
        let b = try defense.defend(pixels: pixels, logits: logits, features: features)
        XCTAssertEqual(a.probabilities, b.probabilities)
        XCTAssertEqual(a.flipped, b.flipped)
        XCTAssertEqual(a.probabilities(row: 0), a.probabilities(row: 5))
        // A change below half a grey level quantises to the same bytes: same answer.
        var nudged = pixels
        for i in 0..<4 { nudged[i] = min(1, max(0, nudged[i] + 0.0004)) }
        let n = try defense.defend(pixels: nudged, logits: logits, features: features)
        XCTAssertEqual(n.probabilities(row: 0), a.probabilities(row: 0))
        // Another secret gives other draws.
        let other = try HoneytraceDefense(key: handKey(features: w, references: [[0, 0, 5], [1, 0, 5], [0, 1, 5]], defense: c,
                                                       secret: Array(repeating: 8, count: 32)), configuration: c)
        let images = (0..<rows).map { Array(pixels[($0 * 4)..<($0 * 4 + 4)]) }
        let same = images.filter { defense.keyedDraw(pixels: $0) == other.keyedDraw(pixels: $0) }.count
        XCTAssertEqual(same, 0)
        let o = try other.defend(pixels: pixels, logits: logits, features: features)
        XCTAssertNotEqual(o.flipped, a.flipped)
    }

    func testNeighbourhoodRandomnessFollowsFeaturesNotPixels() throws {
        var c = DefenseConfiguration(offset: 2.3, flippingPower: 1)
        c.randomness = .keyedNeighbourhood
        XCTAssertEqual(DefenseConfiguration.Randomness(argument: "keyed-neighbourhood"), .keyedNeighbourhood)
        XCTAssertEqual(try JSONDecoder().decode(DefenseConfiguration.self, from: JSONEncoder().encode(c)).randomness, .keyedNeighbourhood)
        let key = try handKey(features: w, references: [[0, 0, 5], [1, 0, 5], [0, 1, 5]], defense: c)
        let defense = try HoneytraceDefense(key: key, configuration: c)
        var g = SeededGenerator(seed: 9)
        let rows = 200
        let pixels = (0..<(rows * 4)).map { _ in g.nextFloat() }
        // Features on a circle around the key's feature centre: every row has distinct pixels.
        var features = [Float]()
        for r in 0..<rows {
            let angle = 2 * Float.pi * Float(r / 2) / Float(rows / 2)
            features += [1.5 + cosf(angle), 0.5 + sinf(angle)]  // around the watermarks' mean; rows 2i, 2i+1 alike
        }
        let logits = repeated([2, 0, 0], rows)
        let a = try defense.defend(pixels: pixels, logits: logits, features: features)
        // Same features, other pixels: the same draw, hence the same answer.
        for i in stride(from: 0, to: rows, by: 2) { XCTAssertEqual(a.probabilities(row: i), a.probabilities(row: i + 1), "rows \(i), \(i + 1)") }
        // Nearby features mostly share a neighbourhood; far ones do not all share one.
        let codes = (0..<rows).map { r in features.withUnsafeBufferPointer { defense.neighbourhoodCode($0.baseAddress! + r * 2) } }
        let neighboursAlike = stride(from: 0, to: rows - 2, by: 2).filter { codes[$0] == codes[$0 + 2] }.count
        XCTAssertGreaterThan(neighboursAlike, rows / 2 * 3 / 4, "adjacent points on the circle should mostly share a code")
        XCTAssertGreaterThan(Set(codes).count, 4, "points around the circle should fall in several neighbourhoods")
        // Keyed mode over the same rows: rows 2i and 2i+1 (different pixels) are drawn independently.
        let keyed = try HoneytraceDefense(key: key, configuration: DefenseConfiguration(offset: 2.3, flippingPower: 1))
        let k = try keyed.defend(pixels: pixels, logits: logits, features: features)
        XCTAssertTrue(stride(from: 0, to: rows, by: 2).contains { k.flipped[$0] != k.flipped[$0 + 1] })
    }

    func testConcurrentCallsGiveTheSameAnswersAsSequentialOnes() throws {
        let c = DefenseConfiguration(offset: 2.3, flippingPower: 1)
        let key = try handKey(features: w, references: [[0, 0, 5], [1, 0, 5], [0, 1, 5]], defense: c)
        let defense = try HoneytraceDefense(key: key, configuration: c)
        var g = SeededGenerator(seed: 12)
        let rows = 100
        let batches = (0..<8).map { _ in (0..<(rows * 4)).map { _ in g.nextFloat() } }
        let logits = repeated([2, 0, 0], rows), features = repeated([1, 0], rows)
        let expected = try batches.map { try defense.defend(pixels: $0, logits: logits, features: features).probabilities }
        final class Box: @unchecked Sendable { var results = [[Float]](repeating: [], count: 8) }
        let box = Box(), lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let p = try! defense.defend(pixels: batches[i], logits: logits, features: features).probabilities
            lock.lock(); box.results[i] = p; lock.unlock()
        }
        XCTAssertEqual(box.results, expected)
    }

    func testFlippedAndMixedRowsAreProbabilityVectors() throws {
        // s = 1 everywhere: every row flipped (σ = 0.1 noise); then half-way rows mixed.
        for (offset, beta) in [(Float(10), Float(3)), (2.0, 3.0)] {
            let c = DefenseConfiguration(offset: offset, flippingPower: beta)
            let key = try handKey(features: w, references: [[0, -3, 40], [2, 1, 0]], defense: c)
            var g = SeededGenerator(seed: 1)
            let rows = 200
            let out = try HoneytraceDefense(key: key, configuration: c).defend(
                pixels: (0..<(rows * 4)).map { _ in g.nextFloat() }, logits: (0..<(rows * 3)).map { _ in 10 * g.nextNormal() },
                features: (0..<(rows * 2)).map { _ in g.nextFloat() })
            if offset == 10 { XCTAssertEqual(out.flippedCount, rows) }
            for r in 0..<rows {
                let p = out.probabilities(row: r)
                XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-5, "row \(r): \(p)")
                XCTAssertTrue(p.allSatisfy { $0 >= 0 && $0.isFinite })
            }
        }
        // σ = 0 reproduces softmax(l_ref) exactly on a flipped row (no class-0 quirk).
        let c = DefenseConfiguration(offset: 10, flipNoiseStd: 0)
        let out = try defendOne(c, feature: [1, 0], logits: [9, 0, 0], key: handKey(features: w, references: ref, defense: c))
        XCTAssertTrue(out.flipped[0])
        assertClose(out.probabilities, softmax([0, 0, 5]))
    }

    func testAnswerModes() throws {
        let out = DefenseOutput(rows: 1, classes: 4, probabilities: [0.1, 0.5, 0.15, 0.25], similarity: [0], mixed: [false], flipped: [false])
        XCTAssertEqual(out.answer(row: 0, mode: .label), .label(1))
        XCTAssertEqual(out.answer(row: 0, mode: .topK(2)),
                       .topK([ClassProbability(label: 1, probability: 0.5), ClassProbability(label: 3, probability: 0.25)]))
        XCTAssertEqual(out.answer(row: 0, mode: .probabilities), .probabilities([0.1, 0.5, 0.15, 0.25]))
        XCTAssertEqual(DefendedAnswer.topK([ClassProbability(label: 1, probability: 0.5)]).probabilityRow(classes: 3), [0, 0.5, 0])
        XCTAssertEqual(DefenseConfiguration.AnswerMode(argument: "top-3"), .topK(3))
        XCTAssertEqual(DefenseConfiguration.AnswerMode(argument: "topk:5"), .topK(5))
        XCTAssertEqual(DefenseConfiguration.AnswerMode(argument: "TOPK:1"), .label)
        XCTAssertEqual(DefenseConfiguration.AnswerMode(argument: "probs"), .probabilities)
        for bad in ["topk:0", "top-", "topk:x", "top-2.5", "labels", ""] {
            XCTAssertNil(DefenseConfiguration.AnswerMode(argument: bad), "'\(bad)' must be refused")
        }
        XCTAssertEqual(DefenseConfiguration.Aggregate(argument: "nearest-10"), .nearest(10))
        XCTAssertNil(DefenseConfiguration.Aggregate(argument: "nearest-0"))
    }

    func testConfigurationRoundTripsThroughJSONIncludingSwitchedOffRules() throws {
        var c = DefenseConfiguration(distance: .meanAbsolute, aggregate: .nearest(10), featureSpace: .standardized, score: .relative,
                                     offset: 0.42, randomness: .fresh(seed: 7), answer: .topK(3))
        c.confidentThreshold = nil
        let data = try JSONEncoder().encode(c)
        XCTAssertEqual(try JSONDecoder().decode(DefenseConfiguration.self, from: data), c)
        // Settings are written as their argument text.
        let text = String(decoding: data, as: UTF8.self)
        for field in [#""aggregate":"nearest-10""#, #""randomness":"fresh-7""#, #""answer":"top-3""#] {
            XCTAssertTrue(text.contains(field), "\(field) missing from \(text)")
        }
        XCTAssertThrowsError(try JSONDecoder().decode(DefenseConfiguration.self, from: Data(#"{"answer": "top-0"}"#.utf8))) { error in
            XCTAssertTrue("\(error)".contains("unknown answer mode 'top-0' (probabilities, label, top-<k>)"), "\(error)")
        }
        // Partial objects keep the defaults.
        let partial = try JSONDecoder().decode(DefenseConfiguration.self, from: Data("{\"offset\": 1.5}".utf8))
        XCTAssertEqual(partial.offset, 1.5)
        XCTAssertEqual(partial.confidentThreshold, 0.95)
        // The out-of-distribution gate is written only when on (configurations without it keep their bytes).
        XCTAssertFalse(text.contains("ood_gate"), text)
        XCTAssertNil(partial.outOfDistributionGate)
        c.outOfDistributionGate = 0.97
        let gated = try JSONEncoder().encode(c)
        XCTAssertTrue(String(decoding: gated, as: UTF8.self).contains(#""ood_gate":0.97"#))
        XCTAssertEqual(try JSONDecoder().decode(DefenseConfiguration.self, from: gated), c)
        var bad = DefenseConfiguration()
        bad.mixingPower = -1
        assertThrows(try bad.validate(), mentioning: ["mixing power"])
    }

    func testBadBatchShapesAreRejected() throws {
        let key = try handKey(features: w, references: ref)
        let d = try HoneytraceDefense(key: key)
        assertThrows(try d.defend(pixels: Tensor.zeros([2, 1, 3, 3]), logits: Tensor.zeros([2, 3]), features: Tensor.zeros([2, 2])),
                     mentioning: ["[2, 1, 3, 3]", "[B, 1, 2, 2]"])
        assertThrows(try d.defend(pixels: Tensor.zeros([2, 1, 2, 2]), logits: Tensor.zeros([2, 4]), features: Tensor.zeros([2, 2])),
                     mentioning: ["logits", "[2, 3]"])
        assertThrows(try d.defend(pixels: Tensor.zeros([2, 1, 2, 2]), logits: Tensor.zeros([2, 3]), features: Tensor.zeros([2, 5])),
                     mentioning: ["features", "[2, 2]"])
    }
}
