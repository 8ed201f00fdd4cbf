import TensorEngine

/// The extra loss terms of the trained baselines, differentiable through the engine.
public enum BaselineLoss {
    /// The composite backdoor's contrastive term: the rows of `logits` whose label is in
    /// `classes`, in batch order, taken in consecutive pairs (an odd last row is left out);
    /// with d = ‖z1 − z2‖ a pair costs ½d² when its labels agree and ½·max(0, margin − d)²
    /// otherwise; the mean over pairs. nil when no pair exists.
    public static func contrastive(_ logits: Tensor, labels: [Int], classes: Set<Int>, margin: Float = 1) -> Tensor? {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count, "contrastive: logits \(logits.shape) for \(labels.count) labels")
        let rows = labels.indices.filter { classes.contains(labels[$0]) }
        let pairs = rows.count / 2
        guard pairs > 0 else { return nil }
        let first = (0..<pairs).map { rows[2 * $0] }, second = (0..<pairs).map { rows[2 * $0 + 1] }
        let same = Tensor(zip(first, second).map { labels[$0] == labels[$1] ? Float(1) : 0 }, shape: [pairs])
        let diff = logits.rows(first) - logits.rows(second)
        let squared = (diff * diff).sum(axis: 1)
        // The small constant keeps the square root's gradient finite for identical rows.
        let hinge = (margin - (squared + 1e-12).sqrt()).relu()
        return (0.5 * (same * squared + (1 - same) * hinge * hinge)).mean()
    }

    /// The soft nearest-neighbour loss of representations `h` (`[n, …]`, flattened per row)
    /// with groups `groups` at temperature `temperature` (a `[1, 1]` tensor):
    /// −mean_i log(ε + Σ_{j≠i, w_j = w_i} e_ij / Σ_{k≠i} e_ik), e_ij = exp(−‖h_i − h_j‖² / T).
    /// Low when the groups are apart, high when they are entangled.
    public static func softNearestNeighbour(_ h: Tensor, groups: [Int], temperature: Tensor, epsilon: Float = 1e-5) -> Tensor {
        let n = groups.count
        precondition(h.shape.first == n && n >= 2, "softNearestNeighbour: \(h.shape) for \(n) group labels (at least 2 rows)")
        precondition(temperature.count == 1, "the temperature is one value")
        let x = h.flattened()
        let norms = (x * x).sum(axis: 1, keepDims: true)
        let distances = norms + norms.transposed() - 2 * x.matmul(x.transposed())
        var others = [Float](repeating: 1, count: n * n), peers = [Float](repeating: 0, count: n * n)
        for i in 0..<n { others[i * n + i] = 0 }
        for i in 0..<n { for j in 0..<n where j != i && groups[i] == groups[j] { peers[i * n + j] = 1 } }
        let otherMask = Tensor(others, shape: [n, n]), peerMask = Tensor(peers, shape: [n, n])
        // Shifting row i by its smallest distance to another row cancels in the ratio (for h and
        // for T), keeps every off-diagonal e_ij ≤ 1 and the nearest at 1, so nothing under- or overflows.
        let values = distances.detached().scalars
        let nearest = (0..<n).map { i in (0..<n).filter { $0 != i }.map { values[i * n + $0] }.min()! }
        let shifted = (distances - Tensor(nearest, shape: [n, 1])) * otherMask
        let e = (-(shifted / temperature)).exp()
        let ratio = (e * peerMask).sum(axis: 1) / (e * otherMask).sum(axis: 1)
        return -(ratio + epsilon).log().mean()
    }
}
