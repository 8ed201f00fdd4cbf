import TensorEngine
import Training

/// Row-wise helpers on the `[rows, K]` arrays that batched forward passes produce.
enum BatchedForward {
    /// Index of the largest value of each `[rows, k]` row (first on ties).
    static func argmax(_ values: [Float], classes k: Int) -> [Int] {
        let rows = values.count / max(k, 1)
        var out = [Int](repeating: 0, count: rows)
        values.withUnsafeBufferPointer { v in
            for r in 0..<rows { out[r] = RowMath.argmax(v.baseAddress! + r * k, count: k) }
        }
        return out
    }
}
