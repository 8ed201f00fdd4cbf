import Foundation
import Formats
import Honeytrace
import NIOCore
import Prediction

/// Request and answer bodies of `POST /v1/predict`.
///
/// Requests:
/// - JSON (`Content-Type: application/json`, or none): `{"images": [[p0, p1, …], …]}`, each
///   image flattened row-major (C, H, W) to the model's input size, raw pixels in [0, 1].
///   Non-finite values may be written as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`;
///   they are then rejected by name.
/// - NumPy (`Content-Type: application/x-npy` or `application/octet-stream`): one `.npy`
///   array of shape `[N, C, H, W]`, `[N, C·H·W]` or (one channel) `[N, H, W]`; float32 or
///   float64 pixels in [0, 1], or uint8 pixels 0–255 (divided by 255).
///
/// Answers, by the server's answer mode: `{"probabilities": [[…], …]}`, `{"labels": [3, …]}`
/// or `{"topk": [[{"label": 3, "probability": 0.91}, …], …]}`, one entry per image, in order.
enum PredictionBody {
    /// Decoded images: `rows` images back to back in `pixels`.
    struct Images: Sendable {
        var pixels: [Float]
        var rows: Int
    }

    /// The content types accepted for `.npy` bodies.
    static let npyTypes: Set<String> = ["application/x-npy", "application/octet-stream", "application/npy"]

    /// Decodes and checks a request body for a model taking `inputShape` images.
    ///
    /// - Throws: `APIError` 400 (malformed body, wrong shape, NaN / infinite or out-of-range
    ///   pixels, no image), 413 (more than `maxRows` images) or 415 (another content type).
    static func decode(_ body: ByteBuffer, contentType: String?, inputShape: [Int], maxRows: Int) throws -> Images {
        let images: Images
        switch contentType.map(mediaType(of:)) {
        case nil, "application/json", "text/json":
            images = try decodeJSON(body, inputShape: inputShape, maxRows: maxRows)
        case let t? where npyTypes.contains(t):
            images = try decodeNPY(body, inputShape: inputShape, maxRows: maxRows)
        case let t?:
            let found = t.isEmpty ? "a Content-Type header without a media type" : "content type '\(t)'"
            throw APIError(.unsupportedMediaType, .unsupportedMediaType,
                           "\(found) is not accepted; send application/json ({\"images\": [[…]]}) or application/x-npy")
        }
        try check(images, inputShape: inputShape)
        return images
    }

    /// The media type of a `Content-Type` value: the part before any `;` parameters, trimmed and
    /// lower-cased. Total over every string: `";"`, `""` and `" ; x"` give the empty media type,
    /// which no case accepts.
    static func mediaType(of contentType: String) -> String {
        let head = contentType.firstIndex(of: ";").map { contentType[..<$0] } ?? contentType[...]
        return head.trimmingCharacters(in: .whitespaces).lowercased()
    }

    private struct JSONRequest: Decodable {
        var images: [[Float]]
    }

    static func decodeJSON(_ body: ByteBuffer, inputShape: [Int], maxRows: Int) throws -> Images {
        let size = inputShape.reduce(1, *)
        // Fast path for well-formed requests; anything it declines is decoded again below, where
        // JSONDecoder names the problem.
        if let fast = body.withUnsafeReadableBytes({ FastImageJSON.parse($0, size: size, maxRows: maxRows) }), fast.rows > 0 {
            return Images(pixels: fast.pixels, rows: fast.rows)
        }
        // Too many images or one of the wrong length: named from a count, not from a decoded copy
        // of a body that may be megabytes long.
        switch body.withUnsafeReadableBytes({ FastImageJSON.shapeProblem($0, size: size, maxRows: maxRows) }) {
        case .tooManyImages(let n)?: try checkRowCount(n, maxRows: maxRows)
        case .wrongLength(let i, let count)?: throw wrongLength(image: i, values: count, inputShape: inputShape)
        case nil: break
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        let request: JSONRequest
        do {
            request = try body.withUnsafeReadableBytes { raw in
                try decoder.decode(JSONRequest.self, from: Data(raw))
            }
        } catch let DecodingError.keyNotFound(key, _) where key.stringValue == "images" {
            throw APIError(.badRequest, .malformedJSON, "the body has no \"images\" field; send {\"images\": [[…], …]} with each image flattened to \(size) values")
        } catch let DecodingError.typeMismatch(_, context) {
            throw APIError(.badRequest, context.codingPath.count <= 1 ? .malformedJSON : .wrongShape,
                           "\(place(context.codingPath)) has the wrong type: \"images\" must be an array of images, each a flat array of \(size) numbers")
        } catch let DecodingError.valueNotFound(_, context) {
            throw APIError(.badRequest, .wrongShape, "\(place(context.codingPath)) is null; pixels must be numbers in [0, 1]")
        } catch let DecodingError.dataCorrupted(context) {
            if context.codingPath.isEmpty {
                let detail = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
                throw APIError(.badRequest, .malformedJSON, "the body is not valid JSON" + (detail.map { ": \($0)" } ?? ""))
            }
            throw APIError(.badRequest, .malformedJSON, "\(place(context.codingPath)) is not a valid number: \(context.debugDescription)")
        } catch {
            throw APIError(.badRequest, .malformedJSON, "the body is not valid JSON: \(error)")
        }
        let n = request.images.count
        try checkRowCount(n, maxRows: maxRows)
        var pixels = [Float]()
        pixels.reserveCapacity(n * size)
        for (i, image) in request.images.enumerated() {
            guard image.count == size else { throw wrongLength(image: i, values: image.count, inputShape: inputShape) }
            pixels.append(contentsOf: image)
        }
        return Images(pixels: pixels, rows: n)
    }

    static func decodeNPY(_ body: ByteBuffer, inputShape: [Int], maxRows: Int) throws -> Images {
        let size = inputShape.reduce(1, *)
        let array: NPYArray
        do {
            array = try NPY.parse(Data(body.readableBytesView), label: "request body")
        } catch let e as FormatError {
            throw APIError(.badRequest, .malformedNPY, "the body is not a valid .npy array: \(e.problem)")
        } catch {
            throw APIError(.badRequest, .malformedNPY, "the body is not a valid .npy array: \(error)")
        }
        let shape = array.shape
        let shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let accepted = "[N, \(inputShape.map(String.init).joined(separator: ", "))] or [N, \(size)]"
            + (inputShape[0] == 1 ? " or [N, \(inputShape[1]), \(inputShape[2])]" : "")
        guard shape.count >= 2 else { throw APIError(.badRequest, .wrongShape, "the array has shape \(shapeText); send \(accepted)") }
        let tail = Array(shape.dropFirst())
        guard tail == inputShape || tail == [size] || (inputShape[0] == 1 && tail == Array(inputShape.dropFirst())) else {
            throw APIError(.badRequest, .wrongShape, "the array has shape \(shapeText); the model takes \(accepted)")
        }
        let n = shape[0]
        try checkRowCount(n, maxRows: maxRows)
        switch array.dtype {
        case .float32, .float64:
            return Images(pixels: array.floats, rows: n)
        case .uint8:
            return Images(pixels: array.floats.map { $0 / 255 }, rows: n)
        default:
            throw APIError(.badRequest, .wrongShape, "dtype \(array.dtype.rawValue) is not accepted; send float32 pixels in [0, 1] or uint8 pixels 0–255")
        }
    }

    private static func wrongLength(image i: Int, values count: Int, inputShape: [Int]) -> APIError {
        APIError(.badRequest, .wrongShape,
                 "image \(i) has \(count) values; the model takes \(inputShape.reduce(1, *)) (\(inputShape.map(String.init).joined(separator: "×")) flattened row-major)")
    }

    private static func checkRowCount(_ n: Int, maxRows: Int) throws {
        guard n > 0 else { throw APIError(.badRequest, .emptyRequest, "the request holds no image") }
        guard n <= maxRows else {
            throw APIError(.contentTooLarge, .tooManyRows, "the request holds \(n) images; at most \(maxRows) per request")
        }
    }

    /// Every pixel finite and in [0, 1].
    private static func check(_ images: Images, inputShape: [Int]) throws {
        let size = inputShape.reduce(1, *)
        try images.pixels.withUnsafeBufferPointer { p in
            for i in 0..<p.count {
                let v = p[i]
                if v >= 0 && v <= 1 { continue }
                let where_ = "image \(i / size), pixel \(i % size)"
                if v.isNaN { throw APIError(.badRequest, .nonFinite, "\(where_) is NaN; pixels must be finite numbers in [0, 1]") }
                if v.isInfinite { throw APIError(.badRequest, .nonFinite, "\(where_) is \(v > 0 ? "+" : "-")infinity; pixels must be finite numbers in [0, 1]") }
                throw APIError(.badRequest, .outOfRange, "\(where_) is \(v); pixels must be raw values in [0, 1]")
            }
        }
    }

    /// `images[3][17]`-style path of a decoding error.
    private static func place(_ path: [any CodingKey]) -> String {
        var text = ""
        for (i, key) in path.enumerated() {
            if let index = key.intValue { text += "[\(index)]" } else { text += i == 0 ? key.stringValue : ".\(key.stringValue)" }
        }
        return text.isEmpty ? "the body" : "\"\(text)\""
    }

    // MARK: Answers

    /// The JSON answer for `output` in `mode`.
    static func encode(_ output: DefenseOutput, mode: DefenseConfiguration.AnswerMode) -> ByteBuffer {
        let w = JSONWriter(capacity: 32 + output.rows * output.classes * 14)
        let k = output.classes
        w.object {
            switch mode {
            case .probabilities:
                w.key("probabilities")
                w.array {
                    for r in 0..<output.rows {
                        if r > 0 { w.comma() }
                        w.floats(output.probabilities[(r * k)..<((r + 1) * k)])
                    }
                }
            case .label:
                w.key("labels")
                w.ints(output.labels)
            case .topK:
                w.key("topk")
                w.array {
                    for r in 0..<output.rows {
                        if r > 0 { w.comma() }
                        guard case .topK(let top) = output.answer(row: r, mode: mode) else { continue }
                        w.array {
                            for (j, c) in top.enumerated() {
                                if j > 0 { w.comma() }
                                w.object {
                                    w.key("label"); w.int(c.label); w.comma()
                                    w.key("probability"); w.float(c.probability)
                                }
                            }
                        }
                    }
                }
            }
        }
        return w.buffer
    }
}
