import TensorEngine
import Training

/// A black-box classifier as an attacker sees it: images in, one answer row per image out.
///
/// The one vocabulary of the project for "a classifier behind an API": an in-process model
/// (`ModelAPI`), a model behind an output perturbation (`PerturbedAPI`), a defended model and an
/// HTTP endpoint all implement it. Attacks reach it only through their query boundary, which
/// counts every image against the budget; the ownership verifier asks a suspect, which is just
/// such an API, for its top-1 labels.
///
/// Contract for `answer(_:)`:
/// - input: raw pixels in [0, 1], shape `[N, C, H, W]` with `[C, H, W] == inputShape`;
/// - output: exactly `N` rows of `classes` finite, non-negative floats, in input order, shaped
///   by `answerMode` (a probability vector, a one-hot label row, or the top-k probabilities in
///   place with zeros elsewhere).
public protocol PredictionAPI: AnyObject {
    /// A name for logs and results (a model directory, a URL, "fmnist-cnn + rounding(2)").
    var name: String { get }
    /// `[C, H, W]` of one input image.
    var inputShape: [Int] { get }
    /// Number of classes, the length of every answer row.
    var classes: Int { get }
    /// What each row holds.
    var answerMode: AnswerMode { get }
    /// One answer row per image of `pixels`.
    func answer(_ pixels: Tensor) throws -> [[Float]]
}

extension PredictionAPI {
    /// The top-1 label of every image (the argmax of its answer row; every answer mode keeps it).
    public func labels(for pixels: Tensor) throws -> [Int] {
        try answer(pixels).map(ProbabilityRow.argmax)
    }

    /// Checks a batch against `inputShape` and the [0, 1] pixel range.
    public func checkQuery(_ pixels: Tensor) throws {
        guard pixels.rank == 4, Array(pixels.shape.dropFirst()) == inputShape else {
            throw PredictionError(.invalidQuery,
                                  "\(name) takes images of shape [N, \(inputShape.map(String.init).joined(separator: ", "))], the query has shape \(pixels.shape)")
        }
        let p = pixels.layout == .plain ? pixels : Autograd.inference { pixels.plain() }
        let data = p.data
        for i in 0..<p.count where !(data[i] >= 0 && data[i] <= 1) {
            let size = Swift.max(inputShape.reduce(1, *), 1)
            throw PredictionError(.invalidQuery, "pixel \(i % size) of image \(i / size) is \(data[i]); queries must be raw pixels in [0, 1]")
        }
    }

    /// Checks that `rows` holds one valid row per image of a batch of `count`.
    public func checkAnswer(_ rows: [[Float]], count: Int) throws {
        guard rows.count == count else {
            throw PredictionError(.malformedAnswer, "\(name) returned \(rows.count) answers for \(count) images")
        }
        for (i, row) in rows.enumerated() {
            guard row.count == classes else {
                throw PredictionError(.malformedAnswer, "\(name) returned \(row.count) values for image \(i), expected \(classes) classes")
            }
            if let bad = row.first(where: { !($0.isFinite && $0 >= 0) }) {
                throw PredictionError(.malformedAnswer, "\(name) returned \(bad) for image \(i); answers must be finite and non-negative")
            }
        }
    }
}
