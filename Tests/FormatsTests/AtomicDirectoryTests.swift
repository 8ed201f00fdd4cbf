import Foundation
import XCTest
@testable import Formats

final class AtomicDirectoryTests: FormatsTestCase {
    func testFilesAppearTogetherAndNothingIsOverwritten() throws {
        let target = path("out")
        try AtomicDirectory.create(target) { temp in
            try AtomicFile.write(Data("a".utf8), to: temp + "/a.txt")
            XCTAssertFalse(FileManager.default.fileExists(atPath: target), "the directory appears only when complete")
        }
        XCTAssertEqual(try String(contentsOfFile: target + "/a.txt", encoding: .utf8), "a")
        assertFormatError(try AtomicDirectory.create(target) { _ in XCTFail("must not run") }, kind: .invalidValue, file: target, contains: ["not empty"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target), ["a.txt"])

        // An empty directory is replaced; a failing fill leaves it as it was and no temporary behind.
        let empty = path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        struct Stop: Error {}
        XCTAssertThrowsError(try AtomicDirectory.create(empty) { temp in
            try AtomicFile.write(Data("b".utf8), to: temp + "/b.txt")
            throw Stop()
        })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tempDir).sorted(), ["empty", "out"])
        try AtomicDirectory.create(empty) { temp in try AtomicFile.write(Data("c".utf8), to: temp + "/c.txt") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: empty), ["c.txt"])

        let file = try writeRaw([1], "file")
        assertFormatError(try AtomicDirectory.create(file) { _ in }, kind: .invalidValue, file: file, contains: ["is a file"])
    }
}
