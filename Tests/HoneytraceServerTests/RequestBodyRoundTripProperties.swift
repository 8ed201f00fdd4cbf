import Formats
import Foundation
@testable import HoneytraceServer
import NIOCore
import PropertyBased
import Testing

/// Request bodies encode → server decode, on random images: what a client sends is what the model gets.
@Suite struct RequestBodyRoundTripProperties {
    static let shapes = [[1, 2, 2], [3, 2, 1], [1, 5, 3], [2, 1, 1]]
    static let pixels = Gen.float(in: 0...1).array(of: 1...40)

    /// `{"images": [[…]]}` as JSONEncoder writes it, and with every pixel in exponent form and random
    /// spacing: the server decodes each pixel to the same Float.
    @Test func jsonBodiesDecodeToTheSentPixels() async throws {
        await propertyCheck(input: Gen.int(in: 0...3), Gen.int(in: 1...6), Self.pixels, Gen.int(in: 0...3).array(of: 1...12)) { s, rows, values, spaces in
            let shape = Self.shapes[s], size = Self.shapes[s].reduce(1, *)
            let images = (0..<rows).map { r in (0..<size).map { values[(r * size + $0) % values.count] } }
            let encoded = try JSONEncoder().encode(["images": images])
            let decoded = try decode(encoded, "application/json", shape)
            #expect(decoded.rows == rows)
            #expect(decoded.pixels.map(\.bitPattern) == images.flatMap { $0 }.map(\.bitPattern))

            let blanks = ["", " ", "\n\t", " \r\n "]
            var i = 0
            func gap() -> String { i += 1; return blanks[spaces[i % spaces.count]] }
            let rowsText = images.map { row in "[" + row.map { gap() + String(format: "%.9e", $0) + gap() }.joined(separator: ",") + "]" }
            let text = "{" + gap() + "\"images\"" + gap() + ":" + gap() + "[" + rowsText.joined(separator: "," + gap()) + "]" + gap() + "}"
            let spaced = try decode(Data(text.utf8), "text/json; charset=utf-8", shape)
            #expect(spaced.pixels.map(\.bitPattern) == images.flatMap { $0 }.map(\.bitPattern), "\(text)")
        }
    }

    /// `.npy` bodies, float32 of shape [N, C, H, W] or [N, C·H·W] and uint8 pixels, decode to the sent images.
    @Test func npyBodiesDecodeToTheSentPixels() async throws {
        await propertyCheck(input: Gen.int(in: 0...3), Gen.int(in: 1...6), Self.pixels, Gen.uint8().array(of: 1...40)) { s, rows, values, bytes in
            let shape = Self.shapes[s], size = Self.shapes[s].reduce(1, *)
            let floats = (0..<(rows * size)).map { values[$0 % values.count] }
            for arrayShape in [[rows] + shape, [rows, size]] {
                let decoded = try decode(try NPY.encode(floats: floats, shape: arrayShape), "application/x-npy", shape)
                #expect(decoded.rows == rows)
                #expect(decoded.pixels.map(\.bitPattern) == floats.map(\.bitPattern))
            }
            let raw = (0..<(rows * size)).map { bytes[$0 % bytes.count] }
            let decoded = try decode(try NPY.encode(uint8: raw, shape: [rows] + shape), "application/octet-stream", shape)
            #expect(decoded.pixels == raw.map { Float($0) / 255 })
        }
    }

    private func decode(_ body: Data, _ contentType: String, _ shape: [Int]) throws -> PredictionBody.Images {
        try PredictionBody.decode(ByteBuffer(bytes: body), contentType: contentType, inputShape: shape, maxRows: 64)
    }
}
