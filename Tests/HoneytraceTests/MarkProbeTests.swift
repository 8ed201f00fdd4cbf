import Datasets
import Foundation
import Honeytrace
import TensorEngine
import XCTest

@testable import Honeytrace

final class MarkProbeTests: XCTestCase {
    func testCholeskySolveMatchesAHandSolvedSystem() throws {
        // [[4, 2], [2, 3]] x = [2, 1]  →  x = [0.5, 0]; and [[4, 2], [2, 3]] x = [6, 5] → x = [1, 1].
        let a: [Double] = [4, 2, 2, 3]
        let x = try XCTUnwrap(MarkProbe.choleskySolve(a, [2, 1], size: 2))
        XCTAssertEqual(x[0], 0.5, accuracy: 1e-12)
        XCTAssertEqual(x[1], 0, accuracy: 1e-12)
        let y = try XCTUnwrap(MarkProbe.choleskySolve(a, [6, 5], size: 2))
        XCTAssertEqual(y[0], 1, accuracy: 1e-12)
        XCTAssertEqual(y[1], 1, accuracy: 1e-12)
        // Not positive definite.
        XCTAssertNil(MarkProbe.choleskySolve([1, 2, 2, 1], [1, 1], size: 2))
    }

    /// Controls: noise with a wide dimension 0 and a narrow dimension 1; the mark shifts both by
    /// the same amount. Fisher's direction must lean on the narrow dimension, read 0 and 1 at the
    /// group means, and separate the groups far better than the wide dimension alone.
    func testFitLeansOnTheDirectionTheMarkMovesReliably() throws {
        var g = SeededGenerator(seed: 4)
        let rows = 2000
        var controls = [Float](), marked = [Float]()
        for _ in 0..<rows {
            let wide = 5 * g.nextNormal(), narrow = 0.2 * g.nextNormal()
            controls += [wide, narrow, g.nextNormal()]
            let wide2 = 5 * g.nextNormal(), narrow2 = 0.2 * g.nextNormal()
            marked += [wide2 + 1, narrow2 + 1, g.nextNormal()]
        }
        let probe = try MarkProbe.fit(marked: marked, controls: controls, width: 3, shrinkage: 0.01)
        XCTAssertGreaterThan(abs(probe.weights[1]), 10 * abs(probe.weights[0]))
        func readings(_ x: [Float]) -> [Float] {
            x.withUnsafeBufferPointer { p in (0..<rows).map { probe.score(p.baseAddress! + 3 * $0) } }
        }
        let c = readings(controls), m = readings(marked)
        XCTAssertEqual(Double(c.reduce(0, +)) / Double(rows), 0, accuracy: 1e-3)
        XCTAssertEqual(Double(m.reduce(0, +)) / Double(rows), 1, accuracy: 1e-3)
        // Threshold ½: with the narrow dimension (σ 0.2, shift 1) the error rate is Φ(−2.5) ≈ 0.6 %.
        let errors = c.filter { $0 > 0.5 }.count + m.filter { $0 <= 0.5 }.count
        XCTAssertLessThan(Double(errors) / Double(2 * rows), 0.02)
    }

    func testFitRefusesWhatCannotMakeAProbe() {
        assertThrows(try MarkProbe.fit(marked: [], controls: [1, 2], width: 2), mentioning: ["marked and control features"])
        assertThrows(try MarkProbe.fit(marked: [1, 2, 3], controls: [1, 2], width: 2), mentioning: ["width 2"])
        assertThrows(try MarkProbe.fit(marked: [1, 2, 1, 2], controls: [1, 2, 1, 2], width: 2), mentioning: ["does not change"])
        assertThrows(try MarkProbe.fit(marked: [1, 2], controls: [0, 0], width: 2, shrinkage: 0), mentioning: ["shrinkage"])
        assertThrows(try MarkProbe(weights: [1, .nan], bias: 0), mentioning: ["weight 1"])
    }

    /// On a real key, the probe reads higher on fresh triggers than on their controls, and the
    /// mark-probe score mixes triggers more often than controls.
    func testKeyProbeSeparatesFreshTriggersFromControls() throws {
        let fixture = Fixture.shared
        let key = try fixture.key(recipe: .whiteBlock(size: 4))
        let probe = try XCTUnwrap(key.markProbe)
        XCTAssertEqual(probe.width, key.featureWidth)
        let set = try TriggerSet.make(key: key, heldOut: fixture.heldOut, count: 200, seed: 31)
        let t = fixture.victim.outputs(pixels: set.triggers, count: set.count, batchSize: 64).features
        let c = fixture.victim.outputs(pixels: set.controls, count: set.count, batchSize: 64).features
        var higher = 0
        t.withUnsafeBufferPointer { tp in
            c.withUnsafeBufferPointer { cp in
                for i in 0..<set.count where probe.score(tp.baseAddress! + i * key.featureWidth) > probe.score(cp.baseAddress! + i * key.featureWidth) {
                    higher += 1
                }
            }
        }
        XCTAssertGreaterThan(higher, 150, "the probe should read higher on most triggers than on their controls")

        var config = key.defense
        config.score = .markProbe
        config.offset = 0.5  // s > 0 once the probe reads above ½
        let defense = try HoneytraceDefense(key: key, configuration: config)
        let dt = defense.distances(features: t), dc = defense.distances(features: c)
        XCTAssertEqual(dt[0], 1 - t.withUnsafeBufferPointer { probe.score($0.baseAddress!) }, accuracy: 1e-5)
        XCTAssertGreaterThan(dt.filter { $0 < 0.5 }.count, 2 * dc.filter { $0 < 0.5 }.count)
    }

    /// watermark-probe: s = clip(d − dist_wm, 0, 1) · clip(probe, 0, 1), then the confidence rules.
    func testWatermarkTimesProbeWeighsThePaperSimilarityByTheClippedProbe() throws {
        // Features [a, b]; watermark at [0, 0]; the probe reads b.
        var key = try handKey(features: [[0, 0]], references: [[0, 0, 5]])
        key = try WatermarkKey(recipe: key.recipe, inputShape: key.inputShape, classes: key.classes, images: key.images,
                               features: key.features, referenceLogits: key.referenceLogits, secret: key.secret, model: key.model,
                               markProbe: try MarkProbe(weights: [0, 1], bias: 0))
        var config = DefenseConfiguration()
        config.score = .watermarkTimesProbe
        config.offset = 1
        config.confidentThreshold = nil
        config.unconfidentThreshold = nil
        let defense = try HoneytraceDefense(key: key, configuration: config)
        // Rows: b = 0.5 (dist = 0.125, s = 0.875 · 0.5); b = −1 (weight 0); b = 2 (weight 1, dist 2 → s 0).
        let features: [Float] = [0, 0.5, 0, -1, 0, 2]
        XCTAssertEqual(try XCTUnwrap(defense.weights(features: features)), [0.5, 0, 1])
        let logits = [Float](repeating: 0, count: 9)
        let out = try defense.defend(pixels: [Float](repeating: 0.5, count: 12), logits: logits, features: features)
        XCTAssertEqual(out.similarity[0], 0.875 * 0.5, accuracy: 1e-6)
        XCTAssertEqual(out.similarity[1], 0)
        XCTAssertEqual(out.similarity[2], 0)
        // The paper's score ignores the probe.
        config.score = .watermark
        XCTAssertNil(try HoneytraceDefense(key: key, configuration: config).weights(features: features))
    }

    func testTheGatesShortcutsLeaveEverySimilarityAsTheFullComputationHasIt() throws {
        // defend skips the gate's bank search for rows past the offset and rows the probe weighs 0;
        // the similarity must be what the full distances (every row through the gate) give.
        var g = SeededGenerator(seed: 3)
        func rows(_ n: Int) -> [[Float]] { (0..<n).map { _ in (0..<4).map { _ in g.nextNormal() } } }
        let bank = rows(40)
        var config = DefenseConfiguration()
        config.score = .watermarkTimesProbe
        config.offset = 3
        config.outOfDistributionGate = 0.5
        let hand = try handKey(features: rows(5), references: [[0, 0, 5]], dataFeatures: bank, dataLabels: bank.map { _ in 0 })
        let key = try WatermarkKey(recipe: hand.recipe, inputShape: hand.inputShape, classes: hand.classes, images: hand.images,
                                   features: hand.features, referenceLogits: hand.referenceLogits, secret: hand.secret, model: hand.model,
                                   dataFeatures: hand.dataFeatures, dataLabels: hand.dataLabels,
                                   markProbe: try MarkProbe(weights: [0.5, -0.25, 0.75, 0.1], bias: 0.2))
        let defense = try HoneytraceDefense(key: key, configuration: config)
        // Queries: half near bank rows (the gate holds them back), half anywhere.
        var queries: [[Float]] = []
        for i in 0..<200 {
            let row: [Float] = i % 2 == 0 ? bank[i % 40].map { v in v + 0.05 * g.nextNormal() } : (0..<4).map { _ in 1.5 * g.nextNormal() }
            queries.append(row)
        }
        let features = queries.flatMap { $0 }
        let logits: [Float] = (0..<(200 * 3)).map { _ in 2 * g.nextNormal() }
        let out = try defense.defend(pixels: [Float](repeating: 0.5, count: 200 * 4), logits: logits, features: features)
        let full = defense.distances(features: features), weights = try XCTUnwrap(defense.weights(features: features))
        var gated = 0, positive = 0
        for r in 0..<200 {
            let expected = logits.withUnsafeBufferPointer { z in
                HoneytraceDefense.similarity(distance: full[r], weight: weights[r],
                                             maxProbability: HoneytraceDefense.maxProbability(z.baseAddress! + r * 3, classes: 3), configuration: config)
            }
            XCTAssertEqual(out.similarity[r], expected, "row \(r)")
            if full[r] == .infinity { gated += 1 }
            if expected > 0 { positive += 1 }
        }
        // The case is not vacuous: the gate held rows back and others were scored.
        XCTAssertGreaterThan(gated, 20)
        XCTAssertGreaterThan(positive, 10)
    }

    func testMarkProbeScoreNeedsAKeyWithAProbeAndSurvivesTheKeyFile() throws {
        var config = DefenseConfiguration()
        config.score = .markProbe
        let bare = try handKey(features: [[1, 0], [0, 1]], references: [[0, 0, 1]])
        assertThrows(try HoneytraceDefense(key: bare, configuration: config), mentioning: ["mark-probe score", "mark probe", "recreate the key"])
        config.score = .watermarkTimesProbe
        assertThrows(try HoneytraceDefense(key: bare, configuration: config), mentioning: ["watermark-probe score", "recreate the key"])

        let key = try Fixture.shared.key(recipe: .whiteBlock())
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try key.save(to: dir + "/k.htkey")
        let loaded = try WatermarkKey.load(dir + "/k.htkey")
        XCTAssertEqual(loaded.markProbe, key.markProbe)
        XCTAssertNoThrow(try HoneytraceDefense(key: loaded, configuration: config))
        // A probe of the wrong width is refused by name.
        assertThrows(try WatermarkKey(recipe: key.recipe, inputShape: key.inputShape, classes: key.classes, images: key.images,
                                      features: key.features, referenceLogits: key.referenceLogits, secret: key.secret, model: key.model,
                                      markProbe: try MarkProbe(weights: [1, 2], bias: 0)),
                     mentioning: ["mark probe has 2 weights", "\(key.featureWidth)"])
    }
}
