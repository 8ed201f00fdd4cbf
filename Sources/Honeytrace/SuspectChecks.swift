import Prediction
import TensorEngine
import Training

/// A suspect is any `PredictionAPI` (a local model, a defended model, an HTTP endpoint): the
/// verifier needs only its top-1 labels (docs/algorithms.md §4.2). These checks turn a suspect that does not
/// fit the key's model into `suspectMismatch`, naming what was expected and what was found.
extension PredictionAPI {
    /// Throws `suspectMismatch` unless the suspect takes `inputShape` and answers with `classes`
    /// classes.
    public func checkCompatible(inputShape expected: [Int], classes expectedClasses: Int) throws {
        guard inputShape == expected else {
            throw HoneytraceError(.suspectMismatch,
                                  "suspect '\(name)' takes inputs of shape \(inputShape), the key's model takes \(expected)")
        }
        guard classes == expectedClasses else {
            throw HoneytraceError(.suspectMismatch,
                                  "suspect '\(name)' has \(classes) classes, the key's model has \(expectedClasses)")
        }
    }

    /// Top-1 labels for a batch, checked: one valid answer row per image.
    func checkedLabels(for pixels: Tensor) throws -> [Int] {
        do {
            let rows = try answer(pixels)
            try checkAnswer(rows, count: pixels.shape[0])
            return rows.map(ProbabilityRow.argmax)
        } catch let e as PredictionError {
            throw HoneytraceError(.suspectMismatch, "suspect '\(name)': \(e.problem)")
        }
    }
}
