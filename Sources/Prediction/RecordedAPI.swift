import Foundation
import TensorEngine

/// A suspect answered offline: the answer rows it gave to a fixed list of images, replayed as a
/// prediction API. A query image is looked up by its exact pixel values, so a caller that asks
/// the same images in any order and batching gets exactly the recorded answers; an image that
/// was not recorded is an error, never a guess.
public final class RecordedAPI: PredictionAPI {
    public let name: String
    public let inputShape: [Int]
    public let classes: Int
    /// Recorded rows are returned as given (labels as one-hot rows, or probabilities).
    public let answerMode: AnswerMode
    private let rows: [[Float]]
    private let index: [Data: Int]

    /// - Parameters:
    ///   - images: the recorded images, `[N, C, H, W]` flattened (`inputShape` = `[C, H, W]`).
    ///   - rows: the answer to each image, in the same order.
    /// - Throws: `invalidConfiguration` when the counts disagree, and `malformedAnswer` when two
    ///   images with identical pixels were given different answers.
    public init(name: String, inputShape: [Int], classes: Int, answerMode: AnswerMode, images: [Float], rows: [[Float]]) throws {
        let size = inputShape.reduce(1, *)
        guard size >= 1, images.count == rows.count * size else {
            throw PredictionError(.invalidConfiguration, "\(name): \(rows.count) answers for \(images.count / max(size, 1)) images of shape \(inputShape)")
        }
        var index: [Data: Int] = [:]
        index.reserveCapacity(rows.count)
        for i in rows.indices {
            let key = images.withUnsafeBufferPointer { Data(buffer: UnsafeBufferPointer(rebasing: $0[(i * size)..<((i + 1) * size)])) }
            if let j = index[key] {
                guard rows[j] == rows[i] else {
                    throw PredictionError(.malformedAnswer, "\(name): queries \(j) and \(i) are the same image but were answered differently")
                }
                continue
            }
            index[key] = i
        }
        self.name = name; self.inputShape = inputShape; self.classes = classes; self.answerMode = answerMode
        self.rows = rows; self.index = index
    }

    public func answer(_ pixels: Tensor) throws -> [[Float]] {
        try checkQuery(pixels)
        let plain = pixels.layout == .plain ? pixels : Autograd.inference { pixels.plain() }
        let size = inputShape.reduce(1, *), n = plain.shape[0], data = plain.data
        return try (0..<n).map { i in
            guard let j = index[Data(bytes: data + i * size, count: size * MemoryLayout<Float>.stride)] else {
                throw PredictionError(.malformedAnswer, "\(name) holds no answer for this query (image \(i) of a batch of \(n)): the answers were recorded for other queries")
            }
            return rows[j]
        }
    }
}
