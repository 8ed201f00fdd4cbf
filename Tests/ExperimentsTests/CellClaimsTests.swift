@testable import Experiments
import Foundation
import XCTest

/// Worker processes share a grid through claim files (`experiment run --jobs N`).
final class CellClaimsTests: XCTestCase {
    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-claims-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// The pid of a process that has exited.
    func stoppedProcessID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    func testOneClaimPerCellAndStaleClaimsAreRemoved() throws {
        let dir = try temporaryDirectory()
        let claims = CellClaims(directory: dir)
        XCTAssertTrue(try claims.claim("none--knockoff--naive--s0"))
        XCTAssertFalse(try claims.claim("none--knockoff--naive--s0"), "a held cell cannot be claimed again")
        XCTAssertEqual(claims.holder("none--knockoff--naive--s0")?.pid, getpid())
        XCTAssertEqual(claims.holder("none--knockoff--naive--s0")?.started, CellClaims.startTime(of: getpid()))
        XCTAssertTrue(claims.isHeldByLiveProcess("none--knockoff--naive--s0"))

        let stopped = try stoppedProcessID()
        try "\(stopped) 1234\n".write(toFile: claims.file("none--knockoff--top-1--s0"), atomically: true, encoding: .utf8)
        XCTAssertFalse(claims.isHeldByLiveProcess("none--knockoff--top-1--s0"), "pid \(stopped) has exited")
        XCTAssertFalse(try claims.claim("none--knockoff--top-1--s0"), "workers never take over a claim themselves")
        // A live pid with another start time is a reused pid, not the claimer.
        let started = try XCTUnwrap(CellClaims.startTime(of: getpid()))
        try "\(getpid()) \(started + 1)\n".write(toFile: claims.file("none--knockoff--s4l--s0"), atomically: true, encoding: .utf8)
        XCTAssertFalse(claims.isHeldByLiveProcess("none--knockoff--s4l--s0"))
        try "garbage".write(toFile: claims.file("none--knockoff--d-dae--s0"), atomically: true, encoding: .utf8)
        XCTAssertFalse(claims.isHeldByLiveProcess("none--knockoff--d-dae--s0"))
        XCTAssertEqual(claims.removeStale(), ["none--knockoff--d-dae--s0", "none--knockoff--s4l--s0", "none--knockoff--top-1--s0"])
        XCTAssertTrue(try claims.claim("none--knockoff--top-1--s0"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".draft") }, [])

        claims.release("none--knockoff--naive--s0")
        XCTAssertNil(claims.holder("none--knockoff--naive--s0"))
        XCTAssertTrue(try claims.claim("none--knockoff--naive--s0"))
        XCTAssertThrowsError(try CellClaims(directory: dir + "/missing").claim("x")) {
            XCTAssertTrue("\($0)".contains("missing/x.claim") && "\($0)".contains("cannot write the claim"), "\($0)")
        }
    }

    func testWorkersTakeUndefendedCellsFirstAndTheCostliestFirst() throws {
        let configuration = try ExperimentConfiguration.preset("fmnist")
        let runner = try ExperimentRunner(configuration: configuration, directory: try temporaryDirectory())
        let order = runner.claimOrder.map(\.id)
        XCTAssertEqual(Set(order), Set(runner.cells.map(\.id)))
        XCTAssertEqual(order.count, runner.cells.count)
        XCTAssertEqual(Array(order.prefix(10)).filter { $0.hasPrefix("none--") }.count, 10, "\(order)")
        XCTAssertEqual(order.prefix(4).map { $0.contains("jbda-tr") }, [true, true, true, true], "\(order)")
        XCTAssertEqual(order[4], "none--knockoff--s4l--s0")
        XCTAssertEqual(order[9], "none--knockoff--smoothing--s0")
        XCTAssertEqual(order[10], "honeytrace--jbda-tr--naive--s0", "ties keep the configuration's order")
        XCTAssertEqual(order.last, "honeytrace--knockoff--smoothing--s0")
    }
}
