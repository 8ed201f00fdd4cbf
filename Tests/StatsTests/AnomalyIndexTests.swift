import XCTest
@testable import Stats

/// Neural Cleanse's anomaly index against hand-computed medians, MADs and indices.
final class AnomalyIndexTests: XCTestCase {
    func testMedianAndMADByHand() throws {
        XCTAssertEqual(try AnomalyIndex.median([3, 1, 2]), 2)
        XCTAssertEqual(try AnomalyIndex.median([4, 1, 3, 2]), 2.5, "even count: the mean of the two middle values")
        // [1, 2, 3, 4, 100]: median 3, deviations [2, 1, 0, 1, 97], MAD 1.
        XCTAssertEqual(try AnomalyIndex.medianAbsoluteDeviation([1, 2, 3, 4, 100]), 1)
        // [10, 10.5, 11, 11.5, 12, 2]: median 10.75, deviations [0.75, 0.25, 0.25, 0.75, 1.25, 8.75], MAD 0.75.
        XCTAssertEqual(try AnomalyIndex.median([10, 10.5, 11, 11.5, 12, 2]), 10.75)
        XCTAssertEqual(try AnomalyIndex.medianAbsoluteDeviation([10, 10.5, 11, 11.5, 12, 2]), 0.75)
    }

    func testIndicesByHandAndTheFlaggedClass() throws {
        let i = try AnomalyIndex.indices([10, 10.5, 11, 11.5, 12, 2])
        // (10.75 − v) / (1.4826 · 0.75)
        let expected = [0.6744907594765952, 0.224830253158865, -0.224830253158865, -0.6744907594765952, -1.1241512657943253, 7.869058860560277]
        for (a, b) in zip(i, expected) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(AnomalyIndex.flagged(i), [5], "only the small mask lies more than 2 below the median")
        let j = try AnomalyIndex.indices([1, 2, 3, 4, 100])
        XCTAssertEqual(j[0], 2 / 1.4826, accuracy: 1e-12)
        XCTAssertEqual(j[4], -97 / 1.4826, accuracy: 1e-12)
        XCTAssertEqual(AnomalyIndex.flagged(j), [], "a large mask is not flagged, however far it lies")
    }

    func testZeroMADAndBadInput() throws {
        XCTAssertEqual(try AnomalyIndex.indices([5, 5, 5, 1, 9]), [0, 0, 0, .infinity, -.infinity])
        XCTAssertThrowsError(try AnomalyIndex.indices([1, 2])) { XCTAssertTrue("\($0)".contains("at least 3")) }
        XCTAssertThrowsError(try AnomalyIndex.median([]))
        XCTAssertThrowsError(try AnomalyIndex.indices([1, .nan, 3])) { XCTAssertTrue("\($0)".contains("finite")) }
    }
}
