import COpenBLAS

/// Row-major single-precision GEMM through OpenBLAS: C = alpha·op(A)·op(B) + beta·C.
///
/// OpenBLAS runs single-threaded; the engine parallelises above it (over the batch, or by
/// splitting large products in two) so that concurrent callers never oversubscribe the cores.
public enum BLAS {
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// Makes sure OpenBLAS uses one thread per call. Called by every engine entry point.
    @inline(__always) public static func configure() { _ = singleThreaded }

    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        configure()
        if m == 1 {
            // One row of C is a matrix–vector product: GEMV reads B once, where GEMM would first
            // copy (pack) all of it, which dominates single-image inference.
            let incx = Int32(transA ? lda : 1)
            if transB {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, incx, beta, c, 1)
            } else {
                cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, incx, beta, c, 1)
            }
            return
        }
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// GEMM split into row blocks of C across the cores when it is large enough to pay off.
    public static func parallelGemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let work = m * n * k
        let threads = Parallel.threadCount
        // A single row (GEMV, memory-bound) pays for waking a worker only when B is large.
        if threads <= 1 || work < 1 << 18 || (m == 1 && work < 1 << 22) {
            gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let pa = UncheckedBox(a), pb = UncheckedBox(b), pc = SendablePointer(c)
        if m >= n {
            Parallel.chunks(m, minimum: 8) { _, rows in
                // Row block of op(A): A rows when not transposed, A columns when transposed.
                let aStart = transA ? pa.value + rows.lowerBound : pa.value + rows.lowerBound * lda
                gemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
                     a: aStart, lda: lda, b: pb.value, ldb: ldb, beta: beta,
                     c: pc.pointer + rows.lowerBound * ldc, ldc: ldc)
            }
        } else {
            Parallel.chunks(n, minimum: 8) { _, cols in
                let bStart = transB ? pb.value + cols.lowerBound * ldb : pb.value + cols.lowerBound
                gemm(transA: transA, transB: transB, m: m, n: cols.count, k: k, alpha: alpha,
                     a: pa.value, lda: lda, b: bStart, ldb: ldb, beta: beta,
                     c: pc.pointer + cols.lowerBound, ldc: ldc)
            }
        }
    }

    /// Eigenvalues (ascending) and orthonormal eigenvectors of the symmetric `n`×`n` matrix `a`
    /// (row-major; only its lower triangle is read), by LAPACK's `ssyev`. Eigenvector j is
    /// `vectors[j·n ..< (j + 1)·n]`; nil when the iteration does not converge.
    public static func symmetricEigen(_ a: [Float], size n: Int) -> (values: [Float], vectors: [Float])? {
        precondition(n > 0 && a.count == n * n, "symmetricEigen needs an \(n)×\(n) matrix")
        configure()
        // Row-major lower = column-major upper; the column-major eigenvectors read row-major are rows.
        var matrix = a, values = [Float](repeating: 0, count: n)
        var size = Int32(n), lda = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, query: Float = 0
        let jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "U"))
        withUnsafePointer(to: jobz) { j in
            withUnsafePointer(to: uplo) { u in
                ssyev_(j, u, &size, &matrix, &lda, &values, &query, &lwork, &info)
                lwork = Int32(query)
                var work = [Float](repeating: 0, count: max(Int(lwork), 1))
                ssyev_(j, u, &size, &matrix, &lda, &values, &work, &lwork, &info)
            }
        }
        return info == 0 ? (values, matrix) : nil
    }
}
