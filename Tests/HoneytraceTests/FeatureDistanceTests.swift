@testable import Honeytrace
import TensorEngine
import XCTest

final class FeatureDistanceTests: XCTestCase {
    func testGemmPathEqualsNaiveLoop() {
        var g = SeededGenerator(seed: 21)
        for (rows, count, width) in [(37, 23, 19), (1, 1, 1), (300, 50, 128)] {
            let q = (0..<(rows * width)).map { _ in 3 * g.nextNormal() }
            let r = (0..<(count * width)).map { _ in 3 * g.nextNormal() }
            for kind in DefenseConfiguration.Distance.allCases {
                let fast = FeatureDistance.pairwise(kind, queries: q, references: r, width: width)
                let slow = FeatureDistance.naivePairwise(kind, queries: q, references: r, width: width)
                XCTAssertEqual(fast.count, slow.count)
                for (a, b) in zip(fast, slow) {
                    XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(kind) \(rows)×\(count)×\(width)")
                }
            }
        }
    }

    func testDotIsTheEightAccumulatorSumBitForBit() {
        // The key's probe, the hyperplane codes and the watermark mean all go through `dot`: its
        // vector form must keep the scalar form's sums (lane k over f ≡ k mod 8, the same tree).
        func scalar(_ a: [Float], _ b: [Float]) -> Float {
            var s = [Float](repeating: 0, count: 8)
            var f = 0
            while f + 8 <= a.count {
                for k in 0..<8 { s[k] += a[f + k] * b[f + k] }
                f += 8
            }
            var sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
            while f < a.count { sum += a[f] * b[f]; f += 1 }
            return sum
        }
        var g = SeededGenerator(seed: 8)
        for width in [1, 7, 8, 9, 16, 23, 128, 130] {
            for _ in 0..<20 {
                let a = (0..<width).map { _ in 100 * g.nextNormal() }, b = (0..<width).map { _ in g.nextNormal() }
                XCTAssertEqual(FeatureDistance.dot(a, b, width).bitPattern, scalar(a, b).bitPattern, "width \(width)")
            }
        }
    }

    func testEightDotsAreDotBitForBit() {
        // The neighbourhood code's eight hyperplane products, interleaved, must equal eight `dot`s:
        // a code bit that flipped with the rounding would change the answer's draw.
        var g = SeededGenerator(seed: 12)
        for width in [1, 8, 13, 128, 131] {
            for _ in 0..<10 {
                let rows = (0..<(8 * width)).map { _ in g.nextNormal() }, x = (0..<width).map { _ in 10 * g.nextNormal() }
                let fast = rows.withUnsafeBufferPointer { r in x.withUnsafeBufferPointer { FeatureDistance.eightDots(r.baseAddress!, $0.baseAddress!, width) } }
                for i in 0..<8 {
                    let one = Array(rows[(i * width)..<((i + 1) * width)])
                    XCTAssertEqual(fast[i].bitPattern, FeatureDistance.dot(one, x, width).bitPattern, "width \(width) row \(i)")
                }
            }
        }
    }

    func testSquaredDifferenceSumIsTheSumOfSquaredDifferences() {
        var g = SeededGenerator(seed: 3)
        for width in [1, 15, 16, 17, 33, 128] {
            let a = (0..<width).map { _ in g.nextNormal() }, b = (0..<width).map { _ in g.nextNormal() }
            let expected = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            XCTAssertEqual(Double(FeatureDistance.squaredDifferenceSum(a, b, width)), expected, accuracy: 1e-5 * max(1, expected), "width \(width)")
        }
    }

    func testIdenticalVectorsAreAtDistanceZero() {
        let v: [Float] = [100, -3, 7.5, 0.25]
        let d = FeatureDistance.pairwise(.meanSquared, queries: v, references: v, width: 4)
        XCTAssertEqual(d[0], 0, accuracy: 1e-3)
        XCTAssertGreaterThanOrEqual(d[0], 0)
    }

    func testNearestKAggregateEqualsSortedMean() {
        var g = SeededGenerator(seed: 5)
        let rows = 20, count = 50
        let d = (0..<(rows * count)).map { _ in g.nextFloat() }
        for k in [1, 3, 10, 50, 80] {
            var out = [Float](repeating: 0, count: rows)
            var scratch = [Float](repeating: 0, count: count)
            d.withUnsafeBufferPointer { p in
                scratch.withUnsafeMutableBufferPointer { s in
                    out.withUnsafeMutableBufferPointer { o in
                        FeatureDistance.aggregate(p.baseAddress!, rows: rows, count: count, .nearest(k), scratch: s.baseAddress!, into: o.baseAddress!)
                    }
                }
            }
            for r in 0..<rows {
                let sorted = d[(r * count)..<((r + 1) * count)].sorted()
                let kk = min(k, count)
                XCTAssertEqual(out[r], sorted.prefix(kk).reduce(0, +) / Float(kk), accuracy: 1e-5)
            }
        }
    }
}
