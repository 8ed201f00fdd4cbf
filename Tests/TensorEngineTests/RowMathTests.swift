import TensorEngine
import XCTest

final class RowMathTests: XCTestCase {
    func testArgmaxTakesTheFirstOfTiesIgnoresNaNAndFollowsTheStride() {
        XCTAssertEqual(RowMath.argmax([0.1, 0.7, 0.7, 0.2]), 1)
        XCTAssertEqual(RowMath.argmax([Float.nan, 0.3, 0.5]), 2)
        XCTAssertEqual(RowMath.argmax([0.3, Float.nan, 0.2]), 0)
        XCTAssertEqual(RowMath.argmax([]), 0)
        XCTAssertEqual(RowMath.argmax([-3]), 0)
        // Column 1 of a 3×2 matrix [[0, 5], [1, 9], [2, 4]]: stride 2.
        let m: [Float] = [0, 5, 1, 9, 2, 4]
        m.withUnsafeBufferPointer { XCTAssertEqual(RowMath.argmax($0.baseAddress! + 1, count: 3, stride: 2), 1) }
        // Tensor.argmax goes through the same rule along either axis.
        let t = Tensor(m, shape: [3, 2])
        XCTAssertEqual(t.argmax(axis: 0), [2, 1])
        XCTAssertEqual(t.argmax(axis: 1), [1, 1, 1])
    }

    func testSoftmaxAgainstHandComputedValues() {
        // softmax(0, ln 2, ln 3) = (1, 2, 3) / 6; adding 100 (e^100 overflows a Float) changes nothing
        // beyond the rounding of the shifted logits.
        let z: [Float] = [0, log(2), log(3)]
        for shift: Float in [0, 100] {
            var out = [Float](repeating: 0, count: 3)
            let shifted = z.map { $0 + shift }
            shifted.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { RowMath.softmax(p.baseAddress!, count: 3, into: $0.baseAddress!) } }
            for (o, want) in zip(out, [Float(1) / 6, Float(2) / 6, Float(3) / 6]) { XCTAssertEqual(o, want, accuracy: 2e-5) }
        }
        XCTAssertEqual(Tensor(z, shape: [1, 3]).softmax().scalars[2], 0.5, accuracy: 1e-6)
    }
}
