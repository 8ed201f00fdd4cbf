import Foundation
import TestSupport
import XCTest

/// What the built `honeytrace` executable printed, and its exit status.
typealias CLIResult = ProcessOutput

enum CLI {
    /// The executable beside the test bundle (SwiftPM builds it because the test target depends on it).
    static var executable: URL { Bundle.main.bundleURL.appendingPathComponent("honeytrace") }

    static func run(_ arguments: [String]) throws -> CLIResult { try ProcessOutput.run(executable, arguments) }

    /// Runs and requires success, returning stdout.
    static func succeed(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try run(arguments)
        XCTAssertEqual(r.status, 0, "honeytrace \(arguments.joined(separator: " ")) failed: \(r.stderr)", file: file, line: line)
        return r.stdout
    }

    /// The exit status of a completed `verify` with `verdict`: 0 for "not stolen", 2 for "stolen".
    static func status(verdict: String) -> Int32 { verdict == "stolen" ? 2 : 0 }

    /// Runs `verify` and requires it to complete with `verdict`: exit status 0 for "not stolen", 2 for
    /// "stolen"; returns standard output.
    static func verify(_ arguments: [String], verdict: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try run(arguments)
        XCTAssertEqual(r.status, status(verdict: verdict), "honeytrace \(arguments.joined(separator: " ")): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.isEmpty || !r.stderr.contains("Error"), r.stderr, file: file, line: line)
        return r.stdout
    }

    /// Runs `verify … --json` and requires its exit status to match the verdict it printed.
    static func verifyJSON(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try run(arguments)
        let report = try json(r.stdout)
        let verdict = report["verdict"] as? String ?? "missing"
        XCTAssertEqual(r.status, status(verdict: verdict), "verdict \(verdict): \(r.stderr)", file: file, line: line)
        return report
    }

    /// Runs and requires failure (exit status 1, or 64 for a usage error; never a verdict's 0 or 2)
    /// with an error message containing every word.
    static func fail(_ arguments: [String], mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(arguments)
        XCTAssertTrue([1, 64].contains(r.status), "honeytrace \(arguments.joined(separator: " ")) should have failed with 1 or 64, not \(r.status)",
                      file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error"), "crashed instead of reporting: \(r.stderr)", file: file, line: line)
        for w in words {
            XCTAssertTrue(r.stderr.contains(w), "error '\(r.stderr)' does not mention '\(w)'", file: file, line: line)
        }
    }

    /// The smoke grid, smaller still (a victim of 1 epoch on 1,000 images, 400 queries, 1 surrogate
    /// epoch), with its first `rows` attack rows, written as `<directory>/<name>.json`; returns that path.
    static func smallGrid(in directory: String, name: String, rows: Int = 2) throws -> String {
        var config = try json(try succeed(["experiment", "run", "--preset", "smoke", "--print-config", "--out", directory]))
        config["name"] = name
        config["attacks"] = Array(try XCTUnwrap(config["attacks"] as? [Any]).prefix(rows))
        config["budget"] = 400
        config["surrogateEpochs"] = 1
        config["keySize"] = 10
        config["triggerCount"] = 40
        config["testLimit"] = 400
        config["victim"] = ["architecture": "fmnist-cnn", "epochs": 1, "outlierExposure": 0, "seed": 0, "trainLimit": 1000]
        let file = directory + "/\(name).json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: file))
        return file
    }

    static func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }
}

/// A CLI test with a fresh scratch directory, removed afterwards.
class CLITestCase: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("honeytrace-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// `name` inside the scratch directory.
    func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// Starts `honeytrace serve …` and returns the process and the URL from its "serving … on URL" line.
    func startServer(_ arguments: [String]) throws -> (Process, String) {
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["serve"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while !text.contains("\n"), Date() < deadline, process.isRunning {
            text += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        guard let range = text.range(of: #"http://[0-9.]+:[0-9]+"#, options: .regularExpression) else {
            process.terminate()
            throw XCTSkip("the server did not start: '\(text)'")
        }
        return (process, String(text[range]))
    }

    /// Trains a small model on 400 synthetic images for one epoch into `dir` (a few seconds).
    func trainSynthetic(seed: Int, to dir: String) throws {
        _ = try CLI.succeed(["train", "--data", "synthetic", "--limit", "400", "--epochs", "1", "--batch", "32", "--lr", "0.02",
                             "--no-augment", "--seed", String(seed), "--out", dir])
    }

    /// Models `a` and `b` (`trainSynthetic`, seeds 1 and 2) and a composite key of `a` (class 0 with a
    /// region of class 2 → 6, a target these models often answer); returns the key's path.
    func syntheticModelsAndKey() throws -> String {
        for (seed, name) in [(1, "a"), (2, "b")] { try trainSynthetic(seed: seed, to: path(name)) }
        let key = path("a.htkey")
        _ = try CLI.succeed(["watermark", "create", path("a"), "--out", key, "--recipe", "composite", "--count", "10", "--seed", "3",
                             "--source-class", "0", "--other-class", "2", "--target", "6"])
        return key
    }
}
