/// Shape arithmetic for NumPy-style broadcasting and the strided loops behind it.
enum Broadcast {
    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides of `shape` when read as `outShape` (0 along broadcast dimensions).
    static func strides(of shape: [Int], broadcastTo outShape: [Int]) -> [Int] {
        let r = outShape.count
        var strides = [Int](repeating: 0, count: r)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let oi = i + (r - shape.count)
            strides[oi] = shape[i] == 1 ? 0 : s
            s *= shape[i]
        }
        return strides
    }

    /// Merges adjacent dimensions that are contiguous for every operand, and drops size-1
    /// dimensions, so broadcast loops run long inner strides.
    static func coalesce(_ shape: [Int], _ strideSets: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var dims: [Int] = []
        var sets: [[Int]] = Array(repeating: [], count: strideSets.count)
        for i in 0..<shape.count where shape[i] != 1 {
            if let last = dims.last {
                var mergeable = true
                for k in 0..<strideSets.count where sets[k].last! != strideSets[k][i] * shape[i] {
                    mergeable = false
                    break
                }
                if mergeable {
                    dims[dims.count - 1] = last * shape[i]
                    for k in 0..<strideSets.count { sets[k][sets[k].count - 1] = strideSets[k][i] }
                    continue
                }
            }
            dims.append(shape[i])
            for k in 0..<strideSets.count { sets[k].append(strideSets[k][i]) }
        }
        if dims.isEmpty { return ([1], strideSets.map { _ in [0] }) }
        return (dims, sets)
    }

    /// Calls `inner(outOffset, aOffset, bOffset, length, aStride, bStride)` over the rows of a
    /// broadcast binary operation; the output is contiguous.
    @inline(__always)
    static func forEachRow(outShape: [Int], aShape: [Int], bShape: [Int],
                           _ inner: (Int, Int, Int, Int, Int, Int) -> Void) {
        let (dims, st) = coalesce(outShape, [strides(of: aShape, broadcastTo: outShape),
                                             strides(of: bShape, broadcastTo: outShape)])
        let r = dims.count
        let len = dims[r - 1], sa = st[0][r - 1], sb = st[1][r - 1]
        let outer = dims.dropLast().reduce(1, *)
        var index = [Int](repeating: 0, count: max(r - 1, 0))
        var ao = 0, bo = 0
        for row in 0..<outer {
            inner(row * len, ao, bo, len, sa, sb)
            // Advance the outer multi-index.
            var d = r - 2
            while d >= 0 {
                index[d] += 1
                ao += st[0][d]; bo += st[1][d]
                if index[d] < dims[d] { break }
                ao -= st[0][d] * dims[d]; bo -= st[1][d] * dims[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

extension Tensor {
    /// The NumPy broadcast shape of two shapes, or nil when they are incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? { Broadcast.shape(a, b) }

    /// Sums this tensor down to `target`, undoing a broadcast (the gradient of a broadcast).
    public func sum(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        if layout != .plain { return plain().sum(toShape: target) }
        guard let b = Broadcast.shape(target, shape), b == shape else {
            preconditionFailure("cannot reduce shape \(shape) to \(target)")
        }
        let out = Tensor.zeros(target)
        let o = out.data, g = data
        // Reading g (contiguous, shape `shape`) and accumulating into out broadcast to `shape`.
        Broadcast.forEachRow(outShape: shape, aShape: target, bShape: shape) { go, oo, _, len, so, _ in
            if so == 0 {
                var acc: Float = 0
                for i in 0..<len { acc += g[go + i] }
                o[oo] += acc
            } else {
                for i in 0..<len { o[oo + i * so] += g[go + i] }
            }
        }
        return out
    }
}
