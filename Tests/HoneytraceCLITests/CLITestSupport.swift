import Foundation
import XCTest

/// Runs the built `honeytrace` executable and captures what it prints.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

enum CLI {
    /// The executable beside the test bundle (SwiftPM builds it because the test target depends on it).
    static var executable: URL { Bundle.main.bundleURL.appendingPathComponent("honeytrace") }

    static func run(_ arguments: [String]) throws -> CLIResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a full pipe cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs and requires success, returning stdout.
    static func succeed(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try run(arguments)
        XCTAssertEqual(r.status, 0, "honeytrace \(arguments.joined(separator: " ")) failed: \(r.stderr)", file: file, line: line)
        return r.stdout
    }

    /// Runs `verify` and requires it to complete with `verdict`: exit status 0 for "stolen", 2 for
    /// "not stolen"; returns standard output.
    static func verify(_ arguments: [String], verdict: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try run(arguments)
        XCTAssertEqual(r.status, verdict == "stolen" ? 0 : 2, "honeytrace \(arguments.joined(separator: " ")): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.isEmpty || !r.stderr.contains("Error"), r.stderr, file: file, line: line)
        return r.stdout
    }

    /// Runs `verify … --json` and requires its exit status to match the verdict it printed.
    static func verifyJSON(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try run(arguments)
        let report = try json(r.stdout)
        let verdict = report["verdict"] as? String ?? "missing"
        XCTAssertEqual(r.status, verdict == "stolen" ? 0 : 2, "verdict \(verdict): \(r.stderr)", file: file, line: line)
        return report
    }

    /// Runs and requires failure with an error message containing every word.
    static func fail(_ arguments: [String], mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(arguments)
        XCTAssertNotEqual(r.status, 0, "honeytrace \(arguments.joined(separator: " ")) should have failed", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), "crashed instead of reporting: \(r.stderr)", file: file, line: line)
        for w in words {
            XCTAssertTrue(r.stderr.contains(w), "error '\(r.stderr)' does not mention '\(w)'", file: file, line: line)
        }
    }

    static func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }
}
