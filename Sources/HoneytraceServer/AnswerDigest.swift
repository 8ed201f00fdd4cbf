import Crypto
import Honeytrace

/// The digests an evidence entry keeps of a query and of its answer, computed on the request path.
///
/// - Query: SHA-256 of the image as parsed, its C·H·W pixels as Float32 little-endian (the bytes
///   of a float32 `.npy` row).
/// - Answer: SHA-256 of `"honeytrace-answer-v1" ‖ text mode ‖ values` in `CanonicalBytes` form,
///   where mode is `probabilities` (values: u64 K, then K f32), `label` (i64 label) or `topk`
///   (u64 n, then n × (i64 label ‖ f32 probability)) — exactly the numbers of the JSON answer, which
///   prints floats in shortest round-trip form, so a client holding the response can recompute it.
enum AnswerDigest {
    /// SHA-256 of each image in `pixels` (`rows` images of `size` values, back to back).
    static func queries(_ pixels: [Float], rows: Int) -> [SHA256.Digest] {
        guard rows > 0 else { return [] }
        let size = pixels.count / rows
        // Float32 in memory is little-endian on every platform this builds for (x86-64, arm64).
        return pixels.withUnsafeBytes { raw in
            (0..<rows).map { r in SHA256.hash(data: UnsafeRawBufferPointer(rebasing: raw[(r * size * 4)..<((r + 1) * size * 4)])) }
        }
    }

    /// SHA-256 of each row's answer in `mode`, as `PredictionBody.encode` writes it.
    static func answers(_ output: DefenseOutput, mode: DefenseConfiguration.AnswerMode) -> [SHA256.Digest] {
        let k = output.classes
        let labels = mode == .label ? output.labels : []
        return (0..<output.rows).map { r in
            var e = CanonicalBytes(capacity: 48 + 12 * k)
            e.tag("honeytrace-answer-v1")
            switch mode {
            case .probabilities:
                e.text("probabilities")
                e.u64(UInt64(k))
                for p in output.probabilities[(r * k)..<((r + 1) * k)] { e.f32(p) }
            case .label:
                e.text("label")
                e.i64(Int64(labels[r]))
            case .topK:
                e.text("topk")
                guard case .topK(let top) = output.answer(row: r, mode: mode) else { break }
                e.u64(UInt64(top.count))
                for c in top {
                    e.i64(Int64(c.label))
                    e.f32(c.probability)
                }
            }
            return SHA256.hash(data: e.bytes)
        }
    }
}
