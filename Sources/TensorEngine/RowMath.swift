#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one argmax and the one softmax of a row of floats: tensors, the defense's batched
/// outputs and answer rows all use these, so "the top-1 class" means the same everywhere.
public enum RowMath {
    /// Index of the largest of `count` values `x[0], x[stride], …` (the first on ties; NaN never wins).
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, count: Int, stride: Int = 1) -> Int {
        var best = 0
        guard count > 1 else { return 0 }
        var top = x[0]
        for j in 1..<count where x[j * stride] > top || (top.isNaN && !x[j * stride].isNaN) {
            top = x[j * stride]
            best = j
        }
        return best
    }

    /// Index of the largest value of `row` (the first on ties; 0 for an empty row).
    @inlinable
    public static func argmax(_ row: [Float]) -> Int {
        row.withUnsafeBufferPointer { $0.isEmpty ? 0 : argmax($0.baseAddress!, count: $0.count) }
    }

    /// softmax of `count` logits into `out`, stable (the maximum is subtracted first).
    @inlinable
    public static func softmax(_ z: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        let m = z[argmax(z, count: count)]
        var s: Float = 0
        for j in 0..<count { let e = expf(z[j] - m); out[j] = e; s += e }
        let inv = 1 / s
        for j in 0..<count { out[j] *= inv }
    }
}
