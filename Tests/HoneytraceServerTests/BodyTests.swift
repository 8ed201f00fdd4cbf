import Foundation
@testable import HoneytraceServer
import NIOCore
import TensorEngine
import XCTest

/// The JSON fast path agrees with JSONDecoder on valid bodies and declines everything else.
final class BodyTests: XCTestCase {
    private func fast(_ text: String, size: Int = 3, maxRows: Int = 8) -> (pixels: [Float], rows: Int)? {
        Array(text.utf8).withUnsafeBytes { FastImageJSON.parse($0, size: size, maxRows: maxRows) }
    }

    func testFastPathMatchesJSONDecoder() throws {
        var g = SeededGenerator(seed: 5)
        for _ in 0..<200 {
            let values = (0..<6).map { _ in g.nextFloat() * (g.nextFloat() < 0.2 ? 1e-30 : 1) }
            let text = "{\"images\":[[" + values[0..<3].map { "\($0)" }.joined(separator: ",") + "], [ "
                + values[3..<6].map { String(format: "%.9e", $0) }.joined(separator: " , ") + " ] ] }"
            let f = try XCTUnwrap(fast(text), text)
            XCTAssertEqual(f.rows, 2)
            XCTAssertEqual(f.pixels[0..<3].map { $0 }, values[0..<3].map { $0 }, text)  // shortest repr round-trips exactly
            struct R: Decodable { var images: [[Float]] }
            let slow = try JSONDecoder().decode(R.self, from: Data(text.utf8)).images.flatMap { $0 }
            for (a, b) in zip(f.pixels, slow) { XCTAssertEqual(a, b, accuracy: abs(b) * 1e-6, text) }
        }
        XCTAssertEqual(fast(#" {"model": {"a": [1, true, null, "x\"y"]}, "images": [[0, -0.0, 1E+0]], "n": -1.5e3 } "#)?.pixels, [0, 0, 1])
        let special = try XCTUnwrap(fast(#"{"images": [["NaN", "Infinity", "-Infinity"]]}"#))
        XCTAssertTrue(special.pixels[0].isNaN)
        XCTAssertEqual(special.pixels[1], .infinity)
        XCTAssertEqual(special.pixels[2], -.infinity)
        XCTAssertEqual(fast(#"{"images": []}"#)?.rows, 0)
    }

    /// The media type of any Content-Type value, degenerate ones included (";" once crashed the server).
    func testMediaTypeIsTotal() {
        let cases: [(String, String)] = [
            ("application/json", "application/json"), (" Application/X-NPY ; charset=binary", "application/x-npy"),
            (";", ""), ("", ""), (";;;", ""), (" ; q=1", ""), ("text/json;", "text/json"), ("\u{00e9};", "\u{00e9}"),
        ]
        for (value, want) in cases { XCTAssertEqual(PredictionBody.mediaType(of: value), want, "'\(value)'") }
    }

    /// Every number is the correctly rounded Float (as strtof gives it), fast path or not.
    func testNumbersAreCorrectlyRounded() throws {
        var g = SeededGenerator(seed: 8)
        var texts: [String] = ["16777217", "16777219", "0.1", "1e-45", "3.4028235e38", "2.5e-8", "0.000000059604645",
                               "1.00000005960464477539062500001", "1.000000059604644775390625", "8388608.5", "33554433"]
        for _ in 0..<3000 {
            let digits = 1 + g.nextInt(below: 17)
            var mantissa = String(1 + g.nextInt(below: 9))
            for _ in 1..<digits { mantissa += String(g.nextInt(below: 10)) }
            let point = g.nextInt(below: digits + 1)
            var text = point == digits ? mantissa : String(mantissa.prefix(point == 0 ? 1 : point)) + "." + mantissa.dropFirst(point == 0 ? 1 : point)
            if text.hasSuffix(".") { text.removeLast() }
            if g.nextInt(below: 2) == 0 { text += "e\(g.nextInt(below: 50) - 25)" }
            texts.append(text)
        }
        for text in texts {
            let parsed = try XCTUnwrap(fast("{\"images\": [[\(text), 0, 0]]}"), text)
            let want = strtof(text, nil)
            XCTAssertEqual(parsed.pixels[0].bitPattern, want.bitPattern, "\(text): \(parsed.pixels[0]) vs \(want)")
        }
    }

    /// Too many images, or one of the wrong length, in an otherwise good body is named from a count
    /// of its values, not from a `JSONDecoder` copy of a body that may be megabytes long (issue 21).
    func testShapeProblemsAreNamedFromACount() throws {
        func shape(_ text: String, maxRows: Int = 8) -> FastImageJSON.ShapeProblem? {
            Array(text.utf8).withUnsafeBytes { FastImageJSON.shapeProblem($0, size: 3, maxRows: maxRows) }
        }
        XCTAssertEqual(shape(#"{"images": [[0, 0, 0], [0, 0], [1, 2, 3, 4]]}"#, maxRows: 2), .tooManyImages(count: 3))
        XCTAssertEqual(shape(#"{"images": [[0, 0, 0], [0, 0], [1, 2, 3, 4]]}"#), .wrongLength(image: 1, values: 2))
        XCTAssertEqual(shape(#"{"n": {"a": [1]}, "images": [["NaN", 0, 0, -1e9]]}"#), .wrongLength(image: 0, values: 4))
        XCTAssertEqual(shape(#"{"images": [[]]}"#), .wrongLength(image: 0, values: 0))
        for declined in [#"{"images": [[0, 0, 0]]}"#, #"{"images": [[0, 0, null]]}"#, #"{"images": [[0, 0]]"#, #"{"images": [[0]], "images": [[0]]}"#,
                         #"{"images": [[0, 0]]} x"#, #"{"images": []}"#, "[]", ""] {
            XCTAssertNil(shape(declined), declined)
        }

        // Through the decoder: the errors JSONDecoder's path gives, 400 naming the image and its
        // length, 413 naming the count.
        func error(_ text: String, maxRows: Int = 8) -> APIError? {
            do {
                _ = try PredictionBody.decodeJSON(ByteBuffer(string: text), inputShape: [1, 1, 3], maxRows: maxRows)
                return nil
            } catch { return error as? APIError }
        }
        let long = "{\"images\": [[0, 0, 0], [" + Array(repeating: "0.5", count: 100_000).joined(separator: ",") + "]]}"
        let wrong = try XCTUnwrap(error(long))
        XCTAssertEqual(wrong.code, .wrongShape)
        XCTAssertEqual(wrong.message, "image 1 has 100000 values; the model takes 3 (1×1×3 flattened row-major)")
        let many = try XCTUnwrap(error("{\"images\": [" + Array(repeating: "[0, 0.5, 1]", count: 1000).joined(separator: ",") + "]}"))
        XCTAssertEqual(many.status, .contentTooLarge)
        XCTAssertEqual(many.message, "the request holds 1000 images; at most 8 per request")
        XCTAssertEqual(error(#"{"images": [[0, 0, null]]}"#)?.code, .wrongShape, "JSONDecoder still names what the count cannot")
    }

    func testFastPathDeclinesWhatIsNotAValidRequest() {
        for text in [
            "", "{", "[]", "{}", #"{"images": [[0.1, 0.2]]}"#, #"{"images": [[0.1, 0.2, 0.3, 0.4]]}"#,
            #"{"images": [[01, 0, 0]]}"#, #"{"images": [[1., 0, 0]]}"#, #"{"images": [[.5, 0, 0]]}"#, #"{"images": [[+1, 0, 0]]}"#,
            #"{"images": [[1e, 0, 0]]}"#, #"{"images": [[0, 0, 0],]}"#, #"{"images": [[0, 0, 0,]]}"#, #"{"images": [[NaN, 0, 0]]}"#,
            #"{"images": [[0, 0, 0]]} x"#, #"{"images": [[0, 0, 0]], "images": [[0, 0, 0]]}"#, #"{"images": [[0, 0, "zero"]]}"#,
            #"{"images": [[[0], 0, 0]]}"#, #"{"images": [[0, 0, 0]] "x": 1}"#, #"{"imag\u0065s": [[0, 0, 0]]}"#,
            #"{"x": tru, "images": [[0, 0, 0]]}"#,
        ] {
            XCTAssertNil(fast(text), text)
        }
        // More rows than allowed: declined (the slow path answers 413).
        XCTAssertNil(fast(#"{"images": [[0, 0, 0], [0, 0, 0], [0, 0, 0]]}"#, maxRows: 2))
        XCTAssertNotNil(fast(#"{"images": [[0, 0, 0], [0, 0, 0]]}"#, maxRows: 2))
    }
}
