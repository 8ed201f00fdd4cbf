#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tensor {
    /// Row-wise log-softmax of the last axis, computed stably (max subtracted first).
    public func logSoftmax() -> Tensor {
        if layout != .plain { return plain().logSoftmax() }
        precondition(rank >= 1, "logSoftmax needs at least one dimension")
        let k = shape[rank - 1], rows = count / Swift.max(k, 1)
        let out = Tensor(uninitialized: shape)
        Tensor.logSoftmaxRows(data, out.data, rows: rows, k: k)
        guard Tensor.needsGraph(self) else { return out }
        return out.record([self]) { [unowned out] g in
            // dx = g − softmax · Σ g
            let gx = Tensor(uninitialized: out.shape)
            for r in 0..<rows {
                let y = out.data + r * k, gr = g.data + r * k, d = gx.data + r * k
                var s: Float = 0
                for j in 0..<k { s += gr[j] }
                for j in 0..<k { d[j] = gr[j] - expf(y[j]) * s }
            }
            return [gx]
        }
    }

    /// Row-wise softmax of the last axis.
    public func softmax() -> Tensor {
        if layout != .plain { return plain().softmax() }
        precondition(rank >= 1, "softmax needs at least one dimension")
        let k = shape[rank - 1], rows = count / Swift.max(k, 1)
        let out = Tensor(uninitialized: shape)
        Tensor.softmaxRows(data, out.data, rows: rows, k: k)
        guard Tensor.needsGraph(self) else { return out }
        return out.record([self]) { [unowned out] g in
            // dx = y ⊙ (g − Σ g ⊙ y)
            let gx = Tensor(uninitialized: out.shape)
            for r in 0..<rows {
                let y = out.data + r * k, gr = g.data + r * k, d = gx.data + r * k
                var s: Float = 0
                for j in 0..<k { s += gr[j] * y[j] }
                for j in 0..<k { d[j] = y[j] * (gr[j] - s) }
            }
            return [gx]
        }
    }

    static func logSoftmaxRows(_ x: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, k: Int) {
        for r in 0..<rows {
            let xr = x + r * k, o = out + r * k
            var m = -Float.infinity
            for j in 0..<k { m = Swift.max(m, xr[j]) }
            var s: Float = 0
            for j in 0..<k { s += expf(xr[j] - m) }
            let lse = m + logf(s)
            for j in 0..<k { o[j] = xr[j] - lse }
        }
    }

    static func softmaxRows(_ x: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, k: Int) {
        for r in 0..<rows { RowMath.softmax(x + r * k, count: k, into: out + r * k) }
    }
}
