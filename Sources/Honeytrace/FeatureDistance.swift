import TensorEngine

/// Distances between batches of feature vectors, the defense's only per-query cost beyond
/// the model's own forward pass (docs/algorithms.md §2.1).
///
/// The mean-squared distance of every query to every reference is one GEMM:
/// ‖a − b‖² = ‖a‖² + ‖b‖² − 2·a·b, so a batch of B queries against n references costs one
/// [B, F]·[F, n] product. The mean-absolute distance has no such identity and runs as a tight
/// loop over contiguous rows (vectorised by the compiler).
public enum FeatureDistance {
    /// Query rows from which `pairwise` spreads its product over the engine's threads.
    static let parallelRows = 32

    /// Squared L2 norm of each of `rows` rows of width `width`, into `out[rows]`.
    public static func squaredNorms(_ x: UnsafePointer<Float>, rows: Int, width: Int,
                                    into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { out[r] = dot(x + r * width, x + r * width, width) }
    }

    /// a · b over `width` values with eight independent accumulators, lane k summing the
    /// products at f ≡ k (mod 8), reduced as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)).
    /// Written with SIMD8 so that it is one vector register (the scalar form of the same sums
    /// compiled to shuffles); multiply then add, no fused multiply–add, so every result is the
    /// same as the scalar form's, bit for bit.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ width: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b), stride = MemoryLayout<Float>.stride
        var lanes = SIMD8<Float>()
        var f = 0
        while f + 8 <= width {
            lanes = lanes + ra.loadUnaligned(fromByteOffset: f * stride, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: f * stride, as: SIMD8<Float>.self)
            f += 8
        }
        var s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
        while f < width { s += a[f] * b[f]; f += 1 }
        return s
    }

    /// `dot(rows + i·width, x, width)` for the eight rows i of `rows` `[8, width]`, each bit for
    /// bit as `dot` gives it, with the eight sums interleaved (eight independent chains instead
    /// of one at a time).
    @inline(__always)
    static func eightDots(_ rows: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ width: Int) -> SIMD8<Float> {
        let r = UnsafeRawPointer(rows), rx = UnsafeRawPointer(x), stride = MemoryLayout<Float>.stride
        var l0 = SIMD8<Float>(), l1 = SIMD8<Float>(), l2 = SIMD8<Float>(), l3 = SIMD8<Float>()
        var l4 = SIMD8<Float>(), l5 = SIMD8<Float>(), l6 = SIMD8<Float>(), l7 = SIMD8<Float>()
        @inline(__always) func row(_ i: Int, _ f: Int) -> SIMD8<Float> {
            r.loadUnaligned(fromByteOffset: (i * width + f) * stride, as: SIMD8<Float>.self)
        }
        var f = 0
        while f + 8 <= width {
            let v = rx.loadUnaligned(fromByteOffset: f * stride, as: SIMD8<Float>.self)
            l0 = l0 + row(0, f) * v; l1 = l1 + row(1, f) * v; l2 = l2 + row(2, f) * v; l3 = l3 + row(3, f) * v
            l4 = l4 + row(4, f) * v; l5 = l5 + row(5, f) * v; l6 = l6 + row(6, f) * v; l7 = l7 + row(7, f) * v
            f += 8
        }
        @inline(__always) func finish(_ i: Int, _ lanes: SIMD8<Float>) -> Float {
            var s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
            for g in f..<width { s += rows[i * width + g] * x[g] }
            return s
        }
        return SIMD8(finish(0, l0), finish(1, l1), finish(2, l2), finish(3, l3), finish(4, l4), finish(5, l5), finish(6, l6), finish(7, l7))
    }

    /// The smallest of `count` ≥ 1 values, eight lanes at a time (the gate's nearest bank
    /// feature: a scalar scan of the bank's distances was the defense's largest cost per row).
    @inline(__always)
    static func minimum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var m = x[0], i = 1
        if count >= 16 {
            let raw = UnsafeRawPointer(x)
            var lanes = raw.loadUnaligned(as: SIMD8<Float>.self)
            i = 8
            while i + 8 <= count {
                lanes = pointwiseMin(lanes, raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD8<Float>.self))
                i += 8
            }
            m = lanes.min()
        }
        while i < count {
            if x[i] < m { m = x[i] }
            i += 1
        }
        return m
    }

    /// Squared L2 norms of the rows of a row-major `[rows, width]` array.
    public static func squaredNorms(_ x: [Float], width: Int) -> [Float] {
        precondition(width > 0 && x.count % width == 0, "\(x.count) values are not rows of width \(width)")
        let rows = x.count / width
        return [Float](unsafeUninitializedCapacity: rows) { out, n in
            x.withUnsafeBufferPointer { squaredNorms($0.baseAddress!, rows: rows, width: width, into: out.baseAddress!) }
            n = rows
        }
    }

    /// `out[b·n + i]` = D(query b, reference i) for `rows` queries and `count` references of
    /// width `width`, with D the per-dimension mean of squared or absolute differences.
    ///
    /// - Parameters:
    ///   - queryNorms: ‖q_b‖² per query (squared distance only; computed when nil).
    ///   - referenceNorms: ‖r_i‖² per reference (squared distance only; computed when nil).
    /// - Note: the squared result is clamped at 0 (the GEMM identity can round a tiny
    ///   distance below zero).
    public static func pairwise(_ kind: DefenseConfiguration.Distance,
                                queries: UnsafePointer<Float>, rows: Int,
                                references: UnsafePointer<Float>, count: Int, width: Int,
                                queryNorms: UnsafePointer<Float>? = nil, referenceNorms: UnsafePointer<Float>? = nil,
                                into out: UnsafeMutablePointer<Float>) {
        guard rows > 0, count > 0 else { return }
        precondition(width > 0, "feature width must be positive")
        let scale = 1 / Float(width)
        switch kind {
        case .meanSquared:
            // out = −2·Q·Rᵀ, then add the norms. Small batches on one thread (waking the engine's
            // workers would cost more than the product); large ones on all, like the model's own layers.
            if rows >= parallelRows {
                BLAS.parallelGemm(transB: true, m: rows, n: count, k: width, alpha: -2,
                                  a: queries, lda: width, b: references, ldb: width, beta: 0, c: out, ldc: count)
            } else {
                BLAS.gemm(transB: true, m: rows, n: count, k: width, alpha: -2,
                          a: queries, lda: width, b: references, ldb: width, beta: 0, c: out, ldc: count)
            }
            let qn = queryNorms == nil ? UnsafeMutablePointer<Float>.allocate(capacity: rows) : nil
            let rn = referenceNorms == nil ? UnsafeMutablePointer<Float>.allocate(capacity: count) : nil
            defer { qn?.deallocate(); rn?.deallocate() }
            if let qn { squaredNorms(queries, rows: rows, width: width, into: qn) }
            if let rn { squaredNorms(references, rows: count, width: width, into: rn) }
            let q = queryNorms ?? UnsafePointer(qn!), r = referenceNorms ?? UnsafePointer(rn!)
            for b in 0..<rows {
                let row = out + b * count
                let qb = q[b]
                for i in 0..<count {
                    let v = (row[i] + qb + r[i]) * scale
                    row[i] = v > 0 ? v : 0
                }
            }
        case .meanAbsolute:
            for b in 0..<rows {
                let q = queries + b * width
                let row = out + b * count
                for i in 0..<count { row[i] = absoluteSum(q, references + i * width, width) * scale }
            }
        }
    }

    /// Σ |a_f − b_f| with eight independent accumulators (a single running sum cannot be
    /// vectorised, because the compiler may not reorder a float sum; eight lanes can).
    @inline(__always)
    static func absoluteSum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ width: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
        var f = 0
        while f + 8 <= width {
            s0 += abs(a[f] - b[f]); s1 += abs(a[f + 1] - b[f + 1])
            s2 += abs(a[f + 2] - b[f + 2]); s3 += abs(a[f + 3] - b[f + 3])
            s4 += abs(a[f + 4] - b[f + 4]); s5 += abs(a[f + 5] - b[f + 5])
            s6 += abs(a[f + 6] - b[f + 6]); s7 += abs(a[f + 7] - b[f + 7])
            f += 8
        }
        var s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        while f < width { s += abs(a[f] - b[f]); f += 1 }
        return s
    }

    /// Σ (a_f − b_f)², sixteen lanes at a time.
    @inline(__always)
    static func squaredDifferenceSum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ width: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b), stride = MemoryLayout<Float>.stride
        var lanes = SIMD16<Float>()
        var f = 0
        while f + 16 <= width {
            let d = ra.loadUnaligned(fromByteOffset: f * stride, as: SIMD16<Float>.self)
                - rb.loadUnaligned(fromByteOffset: f * stride, as: SIMD16<Float>.self)
            lanes.addProduct(d, d)
            f += 16
        }
        var s = lanes.sum()
        while f < width { let d = a[f] - b[f]; s += d * d; f += 1 }
        return s
    }

    /// Array version of `pairwise`: `[rows, count]` row-major distances.
    public static func pairwise(_ kind: DefenseConfiguration.Distance, queries: [Float],
                                references: [Float], width: Int) -> [Float] {
        precondition(width > 0 && queries.count % width == 0 && references.count % width == 0,
                     "feature arrays are not rows of width \(width)")
        let rows = queries.count / width, count = references.count / width
        return [Float](unsafeUninitializedCapacity: rows * count) { out, n in
            queries.withUnsafeBufferPointer { q in
                references.withUnsafeBufferPointer { r in
                    pairwise(kind, queries: q.baseAddress!, rows: rows, references: r.baseAddress!, count: count,
                             width: width, into: out.baseAddress!)
                }
            }
            n = rows * count
        }
    }

    /// The textbook double loop (Double accumulation), for checking the fast paths.
    public static func naivePairwise(_ kind: DefenseConfiguration.Distance, queries: [Float],
                                     references: [Float], width: Int) -> [Float] {
        let rows = queries.count / width, count = references.count / width
        var out = [Float](repeating: 0, count: rows * count)
        for b in 0..<rows {
            for i in 0..<count {
                var s = 0.0
                for f in 0..<width {
                    let d = Double(queries[b * width + f]) - Double(references[i * width + f])
                    s += kind == .meanSquared ? d * d : abs(d)
                }
                out[b * count + i] = Float(s / Double(width))
            }
        }
        return out
    }

    /// Aggregates each row of `[rows, count]` distances in place of `out[rows]`: the mean of
    /// the row, or the mean of its `k` smallest values (k clamped to `count`).
    ///
    /// - Parameter scratch: at least `min(k, count)` floats of working memory (nearest-k only).
    public static func aggregate(_ distances: UnsafePointer<Float>, rows: Int, count: Int,
                                 _ aggregate: DefenseConfiguration.Aggregate,
                                 scratch: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        guard count > 0 else {
            for b in 0..<rows { out[b] = .infinity }
            return
        }
        switch aggregate {
        case .mean:
            let inv = 1 / Float(count)
            for b in 0..<rows {
                let row = distances + b * count
                var s: Float = 0
                for i in 0..<count { s += row[i] }
                out[b] = s * inv
            }
        case .nearest(let kRaw):
            let k = min(max(kRaw, 1), count)
            if k == 1 {
                for b in 0..<rows { out[b] = minimum(distances + b * count, count) }
                return
            }
            for b in 0..<rows {
                let row = distances + b * count
                // Keep the k smallest in ascending order (insertion; k and n are small).
                var filled = 0
                for i in 0..<count {
                    let v = row[i]
                    if filled == k && v >= scratch[k - 1] { continue }
                    var j = filled < k ? filled : k - 1
                    while j > 0 && scratch[j - 1] > v { scratch[j] = scratch[j - 1]; j -= 1 }
                    scratch[j] = v
                    if filled < k { filled += 1 }
                }
                var s: Float = 0
                for j in 0..<k { s += scratch[j] }
                out[b] = s / Float(k)
            }
        }
    }
}
