import TensorEngine

/// The out-of-distribution gate's question — does any in-distribution feature of the key's bank
/// lie within the floor of this query? — answered without the full distance of the query to
/// every bank feature.
///
/// A lower bound first: with P the bank's top principal directions (orthonormal rows) and every
/// vector centred on the bank's mean, ‖q − b‖² = ‖P(q − b)‖² + ‖r_q − r_b‖² where r is the part
/// outside P's span, and ‖r_q − r_b‖ ≥ |‖r_q‖ − ‖r_b‖|. So
/// ‖q − b‖² ≥ ‖Pq − Pb‖² + (‖r_q‖ − ‖r_b‖)², one product of width `dimensions + 1` per pair
/// instead of F. Only the pairs whose bound does not already exceed the floor get the full
/// distance, and a row stops at its first bank feature within the floor.
///
/// The answer is the textbook one for every row: "some member's D(query, member) ≤ floor", with
/// D computed from the differences (Σ (q − b)² / F or Σ |q − b| / F, the latter bounded through
/// Σ |d| ≥ ‖d‖); the bound skips a pair only with a margin far above float rounding. It does not
/// depend on which other rows share the batch (the GEMM identity ‖q‖² + ‖b‖² − 2·q·b rounds
/// with the batch's shape).
struct GateIndex: Sendable {
    let width: Int
    let distance: DefenseConfiguration.Distance
    /// The gate's floor on D.
    let floor: Float
    /// Principal directions kept.
    let dimensions: Int
    /// Bank rows `[M, F]`, as given.
    private let members: [Float]
    /// The bank's mean `[F]` and its top principal directions `[dimensions, F]`.
    private let mean: [Float]
    private let basis: [Float]
    /// Per member b: its coordinates in the basis and its residual's norm a_b, then
    /// (1 − ε)·‖a_b‖² (ε the bound's rounding margin), stored by column, `[dimensions + 2, M]`:
    /// one product with a query's (−2·a_q, 1) gives the part of the bound that depends on b.
    private let projected: [Float]
    /// Bank rows M.
    private let count: Int

    /// The bound's margin for rounding, relative to the norms it cancels.
    static let normMargin: Float = 1e-4
    /// The bound's margin relative to the limit.
    static let limitMargin: Float = 1e-3

    /// Principal directions for features of width F (the bound's product costs dimensions + 1
    /// per pair, the projection of a query dimensions·F).
    static func dimensions(width: Int) -> Int { min(width, 16) }

    /// An index over the `[M, F]` `bank` for the gate's `floor` on `distance`.
    init(bank: [Float], width: Int, distance: DefenseConfiguration.Distance, floor: Float) {
        precondition(width > 0 && bank.count % width == 0 && !bank.isEmpty, "the bank must hold rows of width \(width)")
        self.width = width
        self.distance = distance
        self.floor = floor
        members = bank
        let m = bank.count / width
        var mean = [Double](repeating: 0, count: width)
        for i in bank.indices { mean[i % width] += Double(bank[i]) }
        self.mean = mean.map { Float($0 / Double(m)) }
        var centred = bank
        for i in centred.indices { centred[i] -= self.mean[i % width] }
        // Covariance (up to the factor 1/M, which does not change the directions) by one GEMM.
        var covariance = [Float](repeating: 0, count: width * width)
        centred.withUnsafeBufferPointer { c in
            covariance.withUnsafeMutableBufferPointer { out in
                BLAS.gemm(transA: true, m: width, n: width, k: m, a: c.baseAddress!, lda: width, b: c.baseAddress!, ldb: width,
                          c: out.baseAddress!, ldc: width)
            }
        }
        let p = GateIndex.dimensions(width: width)
        if let eigen = BLAS.symmetricEigen(covariance, size: width) {
            basis = Array(eigen.vectors[((width - p) * width)...])  // ascending eigenvalues: the last p
            dimensions = p
        } else {
            basis = []  // no bound: every pair gets the full distance
            dimensions = 0
        }
        let augmented = GateIndex.project(centred, rows: m, width: width, basis: basis, dimensions: dimensions)
        let k = dimensions + 1
        var extended = [Float](repeating: 0, count: m * (k + 1))
        augmented.withUnsafeBufferPointer { a in
            for r in 0..<m {
                let row = a.baseAddress! + r * k
                for j in 0..<k { extended[j * m + r] = row[j] }
                extended[k * m + r] = (1 - GateIndex.normMargin) * FeatureDistance.dot(row, row, k)
            }
        }
        projected = extended
        count = m
    }

    /// `[rows, dimensions + 1]`: each centred row's coordinates in `basis`, then the norm of its
    /// residual outside the basis's span.
    private static func project(_ centred: [Float], rows: Int, width: Int, basis: [Float], dimensions p: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * (p + 1))
        centred.withUnsafeBufferPointer { c in
            basis.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    project(c.baseAddress!, rows: rows, width: width, basis: b.baseAddress, dimensions: p, into: o.baseAddress!)
                }
            }
        }
        return out
    }

    private static func project(_ centred: UnsafePointer<Float>, rows: Int, width: Int, basis: UnsafePointer<Float>?, dimensions p: Int,
                                into out: UnsafeMutablePointer<Float>) {
        // Coordinates: one product; residual r = x − coordinates·basis, its norm from its values
        // (not ‖x‖² − ‖coordinates‖², which cancels).
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rows * width) { buffer in
            let residual = buffer.baseAddress!
            residual.update(from: centred, count: rows * width)
            if let basis, p > 0, rows == 1 {
                // One query (single-image requests): p dot products and p updates, cheaper than two
                // BLAS calls.
                for j in 0..<p { out[j] = GateIndex.dot(centred, basis + j * width, width) }
                for j in 0..<p { GateIndex.addScaled(-out[j], basis + j * width, into: residual, count: width) }
            } else if let basis, p > 0 {
                BLAS.gemm(transB: true, m: rows, n: p, k: width, a: centred, lda: width, b: basis, ldb: width, c: out, ldc: p + 1)
                BLAS.gemm(m: rows, n: width, k: p, alpha: -1, a: out, lda: p + 1, b: basis, ldb: width, beta: 1, c: residual, ldc: width)
            }
            for r in 0..<rows {
                let row = residual + r * width
                out[r * (p + 1) + p] = FeatureDistance.dot(row, row, width).squareRoot()
            }
        }
    }

    /// a · b with two sixteen-lane accumulators and fused multiply–adds (throughput-bound; the
    /// bound's products need no particular rounding).
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ width: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b), stride = MemoryLayout<Float>.stride
        var s0 = SIMD16<Float>(), s1 = SIMD16<Float>()
        var f = 0
        while f + 32 <= width {
            s0.addProduct(ra.loadUnaligned(fromByteOffset: f * stride, as: SIMD16<Float>.self),
                          rb.loadUnaligned(fromByteOffset: f * stride, as: SIMD16<Float>.self))
            s1.addProduct(ra.loadUnaligned(fromByteOffset: (f + 16) * stride, as: SIMD16<Float>.self),
                          rb.loadUnaligned(fromByteOffset: (f + 16) * stride, as: SIMD16<Float>.self))
            f += 32
        }
        var s = (s0 + s1).sum()
        while f < width { s += a[f] * b[f]; f += 1 }
        return s
    }

    /// y += w·x over `count` values, sixteen lanes at a time.
    @inline(__always)
    static func addScaled(_ w: Float, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y), stride = MemoryLayout<Float>.stride
        let lanes = SIMD16<Float>(repeating: w)
        var i = 0
        while i + 16 <= count {
            var v = ry.loadUnaligned(fromByteOffset: i * stride, as: SIMD16<Float>.self)
            v.addProduct(lanes, rx.loadUnaligned(fromByteOffset: i * stride, as: SIMD16<Float>.self))
            ry.storeBytes(of: v, toByteOffset: i * stride, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { y[i] += w * x[i]; i += 1 }
    }

    /// D(a, b) from the differences: the per-dimension mean of squared or absolute differences.
    @inline(__always)
    func featureDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        let sum = distance == .meanSquared ? FeatureDistance.squaredDifferenceSum(a, b, width) : FeatureDistance.absoluteSum(a, b, width)
        return sum * (1 / Float(width))
    }

    /// For each of `rows` queries `[rows, F]` whose `asked(r)` is true: whether some bank feature
    /// lies within the floor (the gate holds the query back). Rows not asked are left alone.
    func holdsBack(_ queries: UnsafePointer<Float>, rows: Int, asked: (Int) -> Bool, into held: UnsafeMutablePointer<Bool>) {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rows) { selected in
            var n = 0
            for r in 0..<rows where asked(r) { selected[n] = r; n += 1 }
            guard n > 0 else { return }
            let m = count, p = dimensions, k = p + 2
            // One scratch block: centred queries, coordinates, product rows, thresholds, bounds
            // (a single query's bounds never leave registers).
            let boundValues = n > 1 ? n * m : 0
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n * (width + (p + 1) + k + 1) + boundValues) { scratch in
                let gathered = scratch.baseAddress!, coordinates = gathered + n * width, queryRows = coordinates + n * (p + 1)
                let thresholds = queryRows + n * k, bounds = thresholds + n
                holdsBack(queries, selected: UnsafeBufferPointer(rebasing: selected[..<n]), gathered: gathered, coordinates: coordinates,
                          queryRows: queryRows, bounds: bounds, thresholds: thresholds, into: held)
            }
        }
    }

    /// `holdsBack(_:rows:asked:into:)` for the `selected` rows, in the caller's scratch memory.
    private func holdsBack(_ queries: UnsafePointer<Float>, selected: UnsafeBufferPointer<Int>, gathered: UnsafeMutablePointer<Float>,
                           coordinates: UnsafeMutablePointer<Float>, queryRows: UnsafeMutablePointer<Float>,
                           bounds: UnsafeMutablePointer<Float>, thresholds: UnsafeMutablePointer<Float>, into held: UnsafeMutablePointer<Bool>) {
        let n = selected.count, m = count, p = dimensions, k = p + 2
        mean.withUnsafeBufferPointer { mu in
            for (i, r) in selected.enumerated() {
                let src = queries + r * width, dst = gathered + i * width
                for f in 0..<width { dst[f] = src[f] - mu[f] }
            }
        }
        basis.withUnsafeBufferPointer { b in
            GateIndex.project(UnsafePointer(gathered), rows: n, width: width, basis: b.baseAddress, dimensions: p, into: coordinates)
        }
        // The full distance is needed where the bound ‖a_q‖² + ‖a_b‖² − 2·a_q·a_b (a = coordinates
        // and residual norm) stays within the limit on Σ (q − b)² — for mean-absolute D,
        // (F·floor)², as Σ |d| ≥ ‖d‖ — with margins for the bound's rounding:
        //   −2·a_q·a_b + (1 − ε)·‖a_b‖² ≤ (1 + δ)·limit − (1 − ε)·‖a_q‖² =: threshold_q,
        // whose left side is one product of the rows (−2·a_q, 1) and the members' rows.
        let sumLimit = Float(width) * floor
        let limit = distance == .meanSquared ? sumLimit : sumLimit * sumLimit
        for i in 0..<n {
            let a = coordinates + i * (p + 1), row = queryRows + i * k
            for j in 0...p { row[j] = -2 * a[j] }
            row[p + 1] = 1
            thresholds[i] = (1 + GateIndex.limitMargin) * limit - (1 - GateIndex.normMargin) * FeatureDistance.dot(a, a, p + 1)
        }
        projected.withUnsafeBufferPointer { a in
            if n >= FeatureDistance.parallelRows {
                BLAS.parallelGemm(m: n, n: m, k: k, a: queryRows, lda: k, b: a.baseAddress!, ldb: m, beta: 0, c: bounds, ldc: m)
            } else if n > 1 {
                BLAS.gemm(m: n, n: m, k: k, a: queryRows, lda: k, b: a.baseAddress!, ldb: m, beta: 0, c: bounds, ldc: m)
            } else {
                // One query: sixteen members at a time, each block's bounds kept in a register and
                // checked at once (a matrix–vector product through BLAS costs more in the call
                // than in the arithmetic).
                held[selected[0]] = members.withUnsafeBufferPointer { mb in
                    singleQueryWithinFloor(queries + selected[0] * width, row: queryRows, threshold: thresholds[0],
                                           columns: a.baseAddress!, members: mb.baseAddress!)
                }
            }
        }
        guard n > 1 else { return }
        members.withUnsafeBufferPointer { mb in
            for (i, r) in selected.enumerated() {
                held[r] = anyWithinFloor(queries + r * width, bounds: UnsafeRawPointer(bounds + i * m), threshold: thresholds[i],
                                         members: mb.baseAddress!)
            }
        }
    }

    /// `anyWithinFloor` for one query whose product row is `row` (`[dimensions + 2]`), with the
    /// bounds computed block by block from the members' columns.
    @inline(__always)
    private func singleQueryWithinFloor(_ q: UnsafePointer<Float>, row: UnsafePointer<Float>, threshold t: Float,
                                        columns: UnsafePointer<Float>, members: UnsafePointer<Float>) -> Bool {
        let m = count, k = dimensions + 2, stride = MemoryLayout<Float>.stride
        let raw = UnsafeRawPointer(columns), lanes = SIMD16<Float>(repeating: t)
        var j = 0
        while j + 16 <= m {
            var bound = raw.loadUnaligned(fromByteOffset: ((k - 1) * m + j) * stride, as: SIMD16<Float>.self)
            for c in 0..<(k - 1) {
                bound.addProduct(SIMD16(repeating: row[c]), raw.loadUnaligned(fromByteOffset: (c * m + j) * stride, as: SIMD16<Float>.self))
            }
            if blockWithinFloor(q, of: bound .<= lanes, block: j, members: members) { return true }
            j += 16
        }
        while j < m {
            var bound = columns[(k - 1) * m + j]
            for c in 0..<(k - 1) { bound += row[c] * columns[c * m + j] }
            if bound <= t && featureDistance(q, members + j * width) <= floor { return true }
            j += 1
        }
        return false
    }

    /// Whether some member whose bound is within `threshold` is within the floor of `q`:
    /// sixteen bounds at a time, the full distance only for the lanes within.
    @inline(__always)
    private func anyWithinFloor(_ q: UnsafePointer<Float>, bounds row: UnsafeRawPointer, threshold t: Float, members: UnsafePointer<Float>) -> Bool {
        let m = count, stride = MemoryLayout<Float>.stride
        let lanes = SIMD16<Float>(repeating: t)
        var j = 0
        while j + 16 <= m {
            if blockWithinFloor(q, of: row.loadUnaligned(fromByteOffset: j * stride, as: SIMD16<Float>.self) .<= lanes, block: j,
                              members: members) { return true }
            j += 16
        }
        while j < m {
            if row.load(fromByteOffset: j * stride, as: Float.self) <= t && featureDistance(q, members + j * width) <= floor { return true }
            j += 1
        }
        return false
    }

    /// Whether one of the sixteen members from `block` whose lane is set in `candidates` (their
    /// bound is within the threshold) is within the floor of `q`.
    @inline(__always)
    private func blockWithinFloor(_ q: UnsafePointer<Float>, of candidates: SIMDMask<SIMD16<Int32>>, block j: Int,
                                members: UnsafePointer<Float>) -> Bool {
        guard any(candidates) else { return false }
        for l in 0..<16 where candidates[l] && featureDistance(q, members + (j + l) * width) <= floor { return true }
        return false
    }
}
