@testable import Experiments
import Foundation
import XCTest

final class GridProgressTests: XCTestCase {
    /// The ETA comes from the cells finished since the process started: 3 cells in 600 s leave
    /// 6 cells at 200 s each; cells found finished from an earlier run do not count as fast ones.
    func testETAUsesOnlyCellsFinishedSinceTheStart() {
        let start = Date(timeIntervalSince1970: 1_000)
        let progress = GridProgress(total: 13, doneAtStart: 4, started: start)
        XCTAssertEqual(progress.line(done: 4, now: start.addingTimeInterval(50)), "[4 of 13 done]", "no cell finished here yet: no ETA")
        XCTAssertEqual(progress.line(done: 7, now: start.addingTimeInterval(600)), "[7 of 13 done, eta 20m]")
        XCTAssertEqual(progress.line(done: 12, now: start.addingTimeInterval(8 * 3_600)), "[12 of 13 done, eta 1h 00m]")
        XCTAssertEqual(progress.line(done: 13, now: start.addingTimeInterval(9 * 3_600)), "[13 of 13 done]")
    }

    func testDurationsReadAsSecondsMinutesOrHours() {
        XCTAssertEqual(GridProgress.duration(44.6), "45s")
        XCTAssertEqual(GridProgress.duration(59.4), "59s")
        XCTAssertEqual(GridProgress.duration(60), "1m")
        XCTAssertEqual(GridProgress.duration(3_599), "59m")
        XCTAssertEqual(GridProgress.duration(3_600 * 3 + 5 * 60 + 10), "3h 05m")
    }
}
