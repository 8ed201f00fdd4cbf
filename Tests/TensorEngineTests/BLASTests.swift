import TensorEngine
import XCTest

/// `BLAS.gemm` answers a one-row product by GEMV: every transpose combination must give what
/// the textbook sum gives, as the rows of a larger product do.
final class BLASTests: XCTestCase {
    func testOneRowProductsMatchTheTextbookSumForEveryTranspose() {
        var g = SeededGenerator(seed: 9)
        let k = 37, n = 23
        for transA in [false, true] {
            for transB in [false, true] {
                for m in [1, 3] {
                    // op(A) is [m, k], op(B) is [k, n]; stored with padded leading dimensions.
                    let lda = (transA ? m : k) + 2, ldb = (transB ? k : n) + 3, ldc = n + 1
                    let a = (0..<((transA ? k : m) * lda)).map { _ in g.nextNormal() }
                    let b = (0..<((transB ? n : k) * ldb)).map { _ in g.nextNormal() }
                    var c = (0..<(m * ldc)).map { _ in g.nextNormal() }
                    let c0 = c
                    let alpha: Float = 0.75, beta: Float = 0.5
                    a.withUnsafeBufferPointer { pa in
                        b.withUnsafeBufferPointer { pb in
                            c.withUnsafeMutableBufferPointer { pc in
                                BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: lda,
                                          b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc)
                            }
                        }
                    }
                    for i in 0..<m {
                        for j in 0..<n {
                            var sum: Double = 0
                            for p in 0..<k {
                                let x = transA ? a[p * lda + i] : a[i * lda + p]
                                let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                                sum += Double(x) * Double(y)
                            }
                            let expected = Double(alpha) * sum + Double(beta) * Double(c0[i * ldc + j])
                            XCTAssertEqual(Double(c[i * ldc + j]), expected, accuracy: 1e-4, "transA \(transA) transB \(transB) m \(m) (\(i), \(j))")
                        }
                        // The padding past column n is left alone.
                        XCTAssertEqual(c[i * ldc + n], c0[i * ldc + n])
                    }
                }
            }
        }
    }

    func testSymmetricEigenOfAKnownMatrix() throws {
        // [[2, 1, 0], [1, 2, 0], [0, 0, 5]]: eigenvalues 1, 3, 5 with vectors (1, −1, 0)/√2,
        // (1, 1, 0)/√2 and (0, 0, 1), up to sign.
        let a: [Float] = [2, 1, 0, 1, 2, 0, 0, 0, 5]
        let (values, vectors) = try XCTUnwrap(BLAS.symmetricEigen(a, size: 3))
        for (v, e) in zip(values, [Float(1), 3, 5]) { XCTAssertEqual(v, e, accuracy: 1e-5) }
        let h = Float(0.5).squareRoot()
        for (j, expected) in [[h, -h, 0], [h, h, 0], [Float(0), 0, 1]].enumerated() {
            let v = Array(vectors[(j * 3)..<((j + 1) * 3)])
            let sign: Float = zip(v, expected).reduce(0) { $0 + $1.0 * $1.1 } < 0 ? -1 : 1
            for (x, y) in zip(v, expected) { XCTAssertEqual(sign * x, y, accuracy: 1e-5, "vector \(j)") }
        }
        // A random symmetric matrix: A·v = λ·v and orthonormal vectors.
        var g = SeededGenerator(seed: 4)
        let n = 20
        var m = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0...i { let x = g.nextNormal(); m[i * n + j] = x; m[j * n + i] = x } }
        let (lambda, u) = try XCTUnwrap(BLAS.symmetricEigen(m, size: n))
        XCTAssertEqual(lambda, lambda.sorted(), "ascending")
        for j in 0..<n {
            for i in 0..<n {
                let av = (0..<n).reduce(Float(0)) { $0 + m[i * n + $1] * u[j * n + $1] }
                XCTAssertEqual(av, lambda[j] * u[j * n + i], accuracy: 1e-4)
            }
            for k in 0..<n {
                let d = (0..<n).reduce(Float(0)) { $0 + u[j * n + $1] * u[k * n + $1] }
                XCTAssertEqual(d, j == k ? 1 : 0, accuracy: 1e-5)
            }
        }
    }
}
