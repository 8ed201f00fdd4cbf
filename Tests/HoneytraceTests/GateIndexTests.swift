@testable import Honeytrace
import TensorEngine
import XCTest

/// The out-of-distribution gate's index must give the textbook answer — some bank feature
/// within the floor — for every row, whatever else shares the batch.
final class GateIndexTests: XCTestCase {
    /// A bank of `clusters` Gaussian blobs in `width` dimensions (features of real nets are
    /// clustered by class), queries from the blobs, between them and far away.
    private func clusteredData(width: Int, bankRows: Int, queries: Int, seed: UInt64) -> (bank: [Float], queries: [Float]) {
        var g = SeededGenerator(seed: seed)
        let clusters = 6
        let centres = (0..<(clusters * width)).map { _ in 4 * g.nextNormal() }
        func sample(spread: Float, shift: Float) -> [Float] {
            let c = Int(g.next() % UInt64(clusters))
            return (0..<width).map { f in centres[c * width + f] + spread * g.nextNormal() + shift }
        }
        let bank = (0..<bankRows).flatMap { _ in sample(spread: 1, shift: 0) }
        var q = [Float]()
        for r in 0..<queries {
            switch r % 3 {
            case 0: q += sample(spread: 1, shift: 0)         // like the bank
            case 1: q += sample(spread: 1.6, shift: 0.3)     // near the floor
            default: q += (0..<width).map { _ in 6 * g.nextNormal() }  // far
            }
        }
        return (bank, q)
    }

    func testAnswersTheTextbookQuestionForEveryRow() {
        for (width, kind) in [(24, DefenseConfiguration.Distance.meanSquared), (24, .meanAbsolute), (7, .meanSquared), (40, .meanSquared)] {
            let (bank, queries) = clusteredData(width: width, bankRows: 300, queries: 600, seed: UInt64(width))
            let rows = queries.count / width
            let toBank = FeatureDistance.naivePairwise(kind, queries: queries, references: bank, width: width)
            let nearest = (0..<rows).map { r in toBank[(r * 300)..<((r + 1) * 300)].min()! }
            let floor = nearest.sorted()[rows / 2]  // half the rows held back
            let index = GateIndex(bank: bank, width: width, distance: kind, floor: floor)
            XCTAssertEqual(index.dimensions, min(width, 16))
            var held = [Bool](repeating: false, count: rows)
            queries.withUnsafeBufferPointer { q in
                held.withUnsafeMutableBufferPointer { h in index.holdsBack(q.baseAddress!, rows: rows, asked: { _ in true }, into: h.baseAddress!) }
            }
            var near = 0, far = 0
            for r in 0..<rows where abs(nearest[r] - floor) > 1e-4 * floor {
                XCTAssertEqual(held[r], nearest[r] <= floor, "\(kind) width \(width) row \(r): nearest \(nearest[r]), floor \(floor)")
                if held[r] { near += 1 } else { far += 1 }
            }
            XCTAssertGreaterThan(near, 100, "both answers occur")
            XCTAssertGreaterThan(far, 100, "both answers occur")

            // The same row gets the same answer alone, and rows not asked are left untouched.
            for r in stride(from: 0, to: rows, by: 37) {
                var alone = [true, !held[r]]
                queries.withUnsafeBufferPointer { q in
                    alone.withUnsafeMutableBufferPointer { h in
                        index.holdsBack(q.baseAddress! + r * width, rows: 2, asked: { $0 == 0 }, into: h.baseAddress!)
                    }
                }
                XCTAssertEqual(alone[0], held[r], "row \(r) alone")
                XCTAssertEqual(alone[1], !held[r], "a row not asked keeps its value")
            }
        }
    }

    func testAQueryOnABankFeatureIsHeldBackAndTheFloorIsInclusive() {
        // Bank (0,0), (3,0), (0,4): a query at (3,0) is at distance 0; (1,0) is 0.5 from (0,0)
        // (mean squared over 2 dimensions), so a floor of 0.5 holds it back and 0.49 does not.
        let bank: [Float] = [0, 0, 3, 0, 0, 4]
        let queries: [Float] = [3, 0, 1, 0]
        for (floor, expected) in [(Float(0.5), [true, true]), (0.49, [true, false])] {
            let index = GateIndex(bank: bank, width: 2, distance: .meanSquared, floor: floor)
            var held = [false, false]
            queries.withUnsafeBufferPointer { q in
                held.withUnsafeMutableBufferPointer { h in index.holdsBack(q.baseAddress!, rows: 2, asked: { _ in true }, into: h.baseAddress!) }
            }
            XCTAssertEqual(held, expected, "floor \(floor)")
            // One query at a time takes the single-query path: the same answers.
            for r in 0..<2 {
                var one = [!expected[r]]
                queries.withUnsafeBufferPointer { q in
                    one.withUnsafeMutableBufferPointer { h in index.holdsBack(q.baseAddress! + 2 * r, rows: 1, asked: { _ in true }, into: h.baseAddress!) }
                }
                XCTAssertEqual(one[0], expected[r], "floor \(floor), query \(r) alone")
            }
        }
    }
}
