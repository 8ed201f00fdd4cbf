import Datasets
import Extraction
import Prediction
import TensorEngine
import Training
import XCTest

final class QueryBoundaryTests: XCTestCase {
    func images(_ n: Int, value: Float = 0.5) -> Tensor { Tensor.full([n, 1, 2, 2], value: value) }

    func testCountsEveryImageAndRefusesToExceedTheBudget() throws {
        let api = RecordingAPI()
        let boundary = try QueryBoundary(api: api, budget: 10)
        XCTAssertEqual(try boundary.query(images(4)).count, 4)
        XCTAssertEqual(try boundary.query(images(0)).count, 0)
        XCTAssertEqual(boundary.queriesSpent, 4)
        XCTAssertEqual(boundary.remaining, 6)
        // 7 > 6 left: refused whole, nothing sent, nothing counted.
        assertExtractionError(try boundary.query(images(7)), .budgetExceeded, mentioning: ["7", "4 of 10"])
        XCTAssertEqual(api.imagesSeen, 4)
        XCTAssertEqual(boundary.queriesSpent, 4)
        XCTAssertEqual(try boundary.query(images(6)).count, 6)
        XCTAssertEqual(boundary.queriesSpent, 10)
        assertExtractionError(try boundary.query(images(1)), .budgetExceeded)
        XCTAssertEqual(api.imagesSeen, 10)
        XCTAssertEqual(boundary.batchesSent, 2)
        assertExtractionError(try QueryBoundary(api: api, budget: -1), .invalidConfiguration)
    }

    func testReturnsExactlyWhatTheAPIReturns() throws {
        let api = RecordingAPI()
        let boundary = try QueryBoundary(api: api, budget: 10)
        let x = Tensor([0, 0, 0, 0, 0.5, 0, 0, 0, 1, 0, 0, 0], shape: [3, 1, 2, 2])
        XCTAssertEqual(try boundary.query(x), try api.answer(x))
        XCTAssertEqual(try boundary.query(x), [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    }

    func testBadQueriesAndMalformedAnswersAreRefusedClearly() throws {
        let api = RecordingAPI()
        let boundary = try QueryBoundary(api: api, budget: 100)
        assertPredictionError(try boundary.query(Tensor.zeros([2, 1, 3, 3])), .invalidQuery, mentioning: ["[2, 1, 3, 3]"])
        assertPredictionError(try boundary.query(images(2, value: 1.5)), .invalidQuery, mentioning: ["1.5", "[0, 1]"])
        XCTAssertEqual(boundary.queriesSpent, 0)
        api.malformed = true
        assertPredictionError(try boundary.query(images(3)), .malformedAnswer, mentioning: ["2 answers for 3 images"])
        // The endpoint saw the batch: it counts.
        XCTAssertEqual(boundary.queriesSpent, 3)
    }

    func testSmoothingSpendsThreeQueriesPerImageAndAveragesThem() throws {
        let api = RecordingAPI(inputShape: [1, 4, 4])
        let boundary = try QueryBoundary(api: api, budget: 100)
        let collector = try QueryCollector(boundary: boundary, copies: 3, augmentation: .cropAndFlip(padding: 1, flip: true),
                                           seed: 9, batchSize: 5)
        var pixels = [Float](repeating: 0, count: 10 * 16)
        for i in 0..<10 { for j in 0..<16 { pixels[i * 16 + j] = Float((i + j) % 5) / 4 } }
        let rows = try collector.answers(pixels: pixels, count: 10, firstID: 0)
        XCTAssertEqual(boundary.queriesSpent, 30)
        XCTAssertEqual(api.imagesSeen, 30)
        XCTAssertEqual(rows.count, 10)
        for row in rows {
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-6)
            // An average of three one-hot rows: every entry a multiple of 1/3.
            for v in row { XCTAssertEqual(v * 3, (v * 3).rounded(), accuracy: 1e-5) }
        }
        // A budget that is not a multiple of 3: the last image gets the rest, all of it is spent.
        XCTAssertEqual(collector.imagesAffordable(queries: 29), 10)
        _ = try collector.answers(pixels: pixels, count: 10, firstID: 10, queries: 29)
        XCTAssertEqual(boundary.queriesSpent, 59)
        assertExtractionError(try collector.answers(pixels: pixels, count: 10, firstID: 20, queries: 27), .invalidConfiguration)
        assertExtractionError(try collector.answers(pixels: pixels, count: 10, firstID: 20, queries: 31), .invalidConfiguration)
        // 41 left: 14 images × 3 = 42 would exceed the budget.
        let more = [Float](repeating: 0.25, count: 14 * 16)
        assertExtractionError(try collector.answers(pixels: more, count: 14, firstID: 20), .budgetExceeded)
        XCTAssertEqual(boundary.queriesSpent, 59)
    }

    func testSmoothingCopiesAreAugmentedDeterministically() throws {
        let pixels = (0..<16).map { Float($0) / 15 }
        func seen(seed: UInt64) throws -> [[Float]] {
            let api = CapturingAPI()
            let boundary = try QueryBoundary(api: api, budget: 3)
            _ = try QueryCollector(boundary: boundary, copies: 3, augmentation: .cropAndFlip(padding: 1, flip: true), seed: seed)
                .answers(pixels: pixels, count: 1, firstID: 0)
            return api.images
        }
        let a = try seen(seed: 1), b = try seen(seed: 1)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 3)
        XCTAssertGreaterThan(Set(a.map { $0.description }).count, 1, "the three copies should differ")
    }
}

/// Records the images it is sent.
final class CapturingAPI: PredictionAPI {
    let name = "capturing"
    let inputShape = [1, 4, 4]
    let classes = 2
    let answerMode: AnswerMode = .probabilities
    var images: [[Float]] = []

    func answer(_ pixels: Tensor) throws -> [[Float]] {
        let v = pixels.scalars
        for i in 0..<pixels.shape[0] { images.append(Array(v[(i * 16)..<((i + 1) * 16)])) }
        return (0..<pixels.shape[0]).map { _ in [0.5, 0.5] }
    }
}
