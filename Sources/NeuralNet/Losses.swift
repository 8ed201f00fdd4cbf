import TensorEngine

/// Training objectives, each returning a scalar tensor averaged over the batch.
public enum Loss {
    /// Cross-entropy on integer labels.
    public static func crossEntropy(_ logits: Tensor, labels: [Int]) -> Tensor {
        Tensor.crossEntropy(logits, labels: labels)
    }

    /// Soft-target cross-entropy −Σ y·log softmax(z) (what an extraction attacker trains on).
    public static func softCrossEntropy(_ logits: Tensor, targets: Tensor) -> Tensor {
        Tensor.softCrossEntropy(logits, targets: targets)
    }

    /// KL(targets ‖ softmax(logits)), summed over classes and averaged over rows
    /// (PyTorch's `kl_div(log_softmax(z), y, reduction="batchmean")`); 0·log 0 counts as 0.
    public static func klDivergence(_ logits: Tensor, targets: Tensor) -> Tensor {
        precondition(logits.shape == targets.shape, "klDivergence: logits \(logits.shape) vs targets \(targets.shape)")
        let safeLog = targets.clamp(min: 1e-30).log()
        let rows = Float(Swift.max(logits.shape.first ?? 1, 1))
        return (targets * (safeLog - logits.logSoftmax())).sum() / rows
    }

    /// Mean squared error.
    public static func mse(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        let d = prediction - target
        return (d * d).mean()
    }

    /// Mean absolute error.
    public static func l1(_ prediction: Tensor, _ target: Tensor) -> Tensor { (prediction - target).abs().mean() }

    /// The class-diversity loss of data-free extraction (DFMS, DisGUIDE): Σ_c p̄_c·log p̄_c, where
    /// p̄ is the mean of the rows of `probabilities` `[N, K]`, i.e. the negative entropy of the
    /// batch's mean predicted class distribution. Minimising it spreads a generator's images over
    /// the classes (it reaches −log K when p̄ is uniform). p̄ is floored at 1e-12 inside the log.
    public static func classDiversity(_ probabilities: Tensor) -> Tensor {
        precondition(probabilities.rank == 2 && probabilities.shape[0] >= 1, "classDiversity: probabilities must be [N ≥ 1, K], got \(probabilities.shape)")
        let mean = probabilities.mean(axis: 0)
        return (mean * mean.clamp(min: 1e-12).log()).sum()
    }

    /// The mean entropy of the rows of `probabilities` `[N, K]`, −(1/N)·Σ_i Σ_c p_ic·log p_ic (p
    /// floored at 1e-12 inside the log): what a generator minimises for images a classifier is sure
    /// of (DAFL's one-hot loss, DFMS's reference code's "classification loss").
    public static func meanEntropy(_ probabilities: Tensor) -> Tensor {
        precondition(probabilities.rank == 2 && probabilities.shape[0] >= 1, "meanEntropy: probabilities must be [N ≥ 1, K], got \(probabilities.shape)")
        return -(probabilities * probabilities.clamp(min: 1e-12).log()).sum() / Float(probabilities.shape[0])
    }

    /// DisGUIDE's disagreement of two classifiers on the same images: the standard deviation
    /// (n − 1 in the denominator, as `torch.std`) of their two softmax outputs, averaged over images
    /// and classes. For two values that deviation is |p − q|/√2, so this is
    /// mean |softmax(a) − softmax(b)| / √2. A generator maximises it (minimises its negative).
    public static func softmaxDisagreement(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape && a.rank == 2, "softmaxDisagreement: logits \(a.shape) vs \(b.shape) must be equal [N, K]")
        return (a.softmax() - b.softmax()).abs().mean() * Float(0.5).squareRoot()
    }
}
