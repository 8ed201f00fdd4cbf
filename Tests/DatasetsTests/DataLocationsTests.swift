@testable import Datasets
import Foundation
import XCTest

final class DataLocationsTests: XCTestCase {
    func testWheelsAreFoundFromAnyDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-locations-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let checkout = root + "/checkout", elsewhere = root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: checkout + "/data/wheels", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: checkout + "/.build/release", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let executable = checkout + "/.build/release/honeytrace"
        // Run from another directory: the executable's checkout is found.
        XCTAssertEqual(DataLocations.wheels(environment: [:], currentDirectory: elsewhere, executable: executable), checkout + "/data/wheels")
        // The current directory comes first when it has the wheels.
        try FileManager.default.createDirectory(atPath: elsewhere + "/data/wheels", withIntermediateDirectories: true)
        XCTAssertEqual(DataLocations.wheels(environment: [:], currentDirectory: elsewhere, executable: executable), elsewhere + "/data/wheels")
        // HONEYTRACE_DATA_ROOT decides alone, even where it holds nothing (the error then names it).
        XCTAssertEqual(DataLocations.wheels(environment: ["HONEYTRACE_DATA_ROOT": root + "/mine"], currentDirectory: elsewhere, executable: executable),
                       root + "/mine/wheels")
        XCTAssertThrowsError(try MNIST5k.load(wheelDirectory: root + "/mine/wheels")) { XCTAssertTrue("\($0)".contains(root + "/mine/wheels"), "\($0)") }
        // Fashion-MNIST: the variable, else the Debian package's directory.
        XCTAssertEqual(DataLocations.fashionMNIST(environment: ["HONEYTRACE_FASHION_MNIST": "/data/fm"]), "/data/fm")
        XCTAssertEqual(DataLocations.fashionMNIST(environment: [:]), "/usr/share/datasets/fashion-mnist")
    }
}
