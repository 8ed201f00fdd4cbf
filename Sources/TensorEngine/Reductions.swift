extension Tensor {
    /// Splits the shape around `axis` into (outer, length, inner) element counts.
    @inline(__always)
    func axisSplit(_ axis: Int) -> (outer: Int, length: Int, inner: Int, axis: Int) {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank, "axis \(axis) out of range for shape \(shape)")
        let outer = shape[..<ax].reduce(1, *)
        let inner = shape[(ax + 1)...].reduce(1, *)
        return (outer, shape[ax], inner, ax)
    }

    /// Sum of all elements, as a scalar tensor.
    public func sum() -> Tensor {
        var acc: Double = 0
        let p = data
        for i in 0..<count { acc += Double(p[i]) }
        let out = Tensor(scalar: Float(acc))
        guard Tensor.needsGraph(self) else { return out }
        let s = shape
        return out.record([self]) { g in [Tensor.full(s, value: g.item)] }
    }

    /// Mean of all elements, as a scalar tensor.
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// Sum along `axis`; the axis is removed unless `keepDims`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        if layout != .plain { return plain().sum(axis: axis, keepDims: keepDims) }
        let (outer, len, inner, ax) = axisSplit(axis)
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor.zeros(outShape)
        let x = data, o = out.data
        for a in 0..<outer {
            for l in 0..<len {
                let src = x + (a * len + l) * inner, dst = o + a * inner
                for i in 0..<inner { dst[i] += src[i] }
            }
        }
        guard Tensor.needsGraph(self) else { return out }
        let inShape = shape
        return out.record([self]) { g in
            var kept = inShape
            kept[ax] = 1
            return [Tensor(shape: kept, storage: g.storage) + Tensor.zeros(inShape)]
        }
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let len = shape[axis < 0 ? axis + rank : axis]
        return sum(axis: axis, keepDims: keepDims) * (1 / Float(Swift.max(len, 1)))
    }

    /// Maximum along `axis` (gradient to the first maximal element).
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        if layout != .plain { return plain().max(axis: axis, keepDims: keepDims) }
        let (outer, len, inner, ax) = axisSplit(axis)
        precondition(len > 0, "max over an empty axis of shape \(shape)")
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor(uninitialized: outShape)
        var winners = [Int32](repeating: 0, count: outer * inner)
        let x = data, o = out.data
        for a in 0..<outer {
            for i in 0..<inner {
                var best = x[a * len * inner + i], bestL = 0
                for l in 1..<len {
                    let v = x[(a * len + l) * inner + i]
                    if v > best { best = v; bestL = l }
                }
                o[a * inner + i] = best
                winners[a * inner + i] = Int32(bestL)
            }
        }
        guard Tensor.needsGraph(self) else { return out }
        let inShape = shape
        return out.record([self]) { g in
            let gx = Tensor.zeros(inShape)
            for a in 0..<outer {
                for i in 0..<inner {
                    let l = Int(winners[a * inner + i])
                    gx.data[(a * len + l) * inner + i] = g.data[a * inner + i]
                }
            }
            return [gx]
        }
    }

    /// Index of the maximum along `axis` (first on ties). Not differentiable.
    public func argmax(axis: Int = -1) -> [Int] {
        if layout != .plain { return plain().argmax(axis: axis) }
        let (outer, len, inner, _) = axisSplit(axis)
        var result = [Int](repeating: 0, count: outer * inner)
        let x = data
        for a in 0..<outer {
            for i in 0..<inner { result[a * inner + i] = RowMath.argmax(x + a * len * inner + i, count: len, stride: inner) }
        }
        return result
    }
}
