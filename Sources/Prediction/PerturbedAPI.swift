import TensorEngine
import Training

/// A probability API behind one of docs/algorithms.md §6's output perturbations: the wrapped API's rows,
/// perturbed row by row. Random perturbations draw from a generator seeded at creation, so a
/// run is reproducible from its seed (and, like a real noisy API, a repeated query gets fresh
/// noise).
public final class PerturbedAPI: PredictionAPI {
    public let base: PredictionAPI
    public let perturbation: OutputPerturbation
    public let name: String
    private var generator: SeededGenerator

    /// - Throws: `invalidConfiguration` when `base` does not return full probability rows (a
    ///   perturbation needs them) or the perturbation's parameters are out of range.
    public init(base: PredictionAPI, perturbation: OutputPerturbation, seed: UInt64 = 0, name: String? = nil) throws {
        guard base.answerMode == .probabilities else {
            throw PredictionError(.invalidConfiguration,
                                  "\(perturbation) needs an API that returns probabilities; \(base.name) returns \(base.answerMode)")
        }
        try perturbation.validate()
        self.base = base
        self.perturbation = perturbation
        self.generator = SeededGenerator(seed: seed)
        self.name = name ?? "\(base.name) + \(perturbation)"
    }

    public var inputShape: [Int] { base.inputShape }
    public var classes: Int { base.classes }
    public var answerMode: AnswerMode { perturbation.answerMode }

    public func answer(_ pixels: Tensor) throws -> [[Float]] {
        let rows = try base.answer(pixels)
        try base.checkAnswer(rows, count: pixels.shape.first ?? 0)
        return rows.map { perturbation.apply($0, generator: &generator) }
    }
}
