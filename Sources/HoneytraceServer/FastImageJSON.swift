import Foundation

/// A fast path for the common `/v1/predict` JSON body, `{"images": [[n, n, …], …]}`: scans the
/// bytes once and converts each number to the correctly rounded `Float` (Clinger's fast path, `strtof`
/// otherwise), many times faster than `JSONDecoder` into `[[Float]]`.
///
/// It accepts exactly RFC 8259 JSON (number grammar included) of that shape, with `"NaN"`,
/// `"Infinity"` and `"-Infinity"` strings as pixel values and other top-level fields skipped.
/// Anything else — malformed JSON, another shape, an image of the wrong length — returns nil;
/// `shapeProblem` then names too many images or a wrong length without decoding the body, and
/// the caller decodes whatever remains with `JSONDecoder` to name the problem precisely.
enum FastImageJSON {
    /// Flattened pixels and image count, or nil when the body is not a well-formed request of
    /// images of `size` values each, or holds more than `maxRows` images.
    static func parse(_ bytes: UnsafeRawBufferPointer, size: Int, maxRows: Int) -> (pixels: [Float], rows: Int)? {
        requestObject(bytes) { $0.images(size: size, maxRows: maxRows) }
    }

    /// Why a well-formed body of images is refused, found without keeping its pixels.
    enum ShapeProblem: Equatable {
        /// More than the allowed number of images; `count` is how many the body holds.
        case tooManyImages(count: Int)
        /// Image `image` (0-based, the first such) holds `values` values instead of the model's size.
        case wrongLength(image: Int, values: Int)
    }

    /// For a body the fast path declined: when it is a well-formed `{"images": [[…], …]}` whose
    /// images are all numbers (or the non-finite spellings) but too many or of the wrong length,
    /// what is wrong; nil for anything else, which `JSONDecoder` then names. Counts values without
    /// storing them, so a large body of the wrong shape costs no decoded copy of itself.
    static func shapeProblem(_ bytes: UnsafeRawBufferPointer, size: Int, maxRows: Int) -> ShapeProblem? {
        guard let shape = requestObject(bytes, images: { $0.countImages(size: size) }) else { return nil }
        if shape.rows > maxRows { return .tooManyImages(count: shape.rows) }
        return shape.wrong.map { .wrongLength(image: $0.image, values: $0.values) }
    }

    /// The body as one JSON object whose `"images"` field (exactly one) `images` reads and whose
    /// other fields are skipped; nil when it is anything else or `images` declines.
    private static func requestObject<T>(_ bytes: UnsafeRawBufferPointer, images: (inout Parser) -> T?) -> T? {
        var p = Parser(bytes: bytes)
        var result: T?
        p.skipSpace()
        guard p.take(UInt8(ascii: "{")) else { return nil }
        p.skipSpace()
        if p.take(UInt8(ascii: "}")) { return nil }
        while true {
            p.skipSpace()
            guard let key = p.string() else { return nil }
            p.skipSpace()
            guard p.take(UInt8(ascii: ":")) else { return nil }
            p.skipSpace()
            if key == "images" {
                guard result == nil, let value = images(&p) else { return nil }
                result = value
            } else {
                guard p.skipValue(depth: 0) else { return nil }
            }
            p.skipSpace()
            if p.take(UInt8(ascii: ",")) { continue }
            guard p.take(UInt8(ascii: "}")) else { return nil }
            break
        }
        p.skipSpace()
        guard p.atEnd else { return nil }
        return result
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func take(_ c: UInt8) -> Bool {
            guard i < bytes.count, bytes[i] == c else { return false }
            i += 1
            return true
        }

        mutating func skipSpace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x0A, 0x0D, 0x09: i += 1
                default: return
                }
            }
        }

        /// A string without escapes beyond `\"`, `\\`, `\/` and the one-letter ones (keys and the
        /// NaN / Infinity spellings need no more); nil on anything else.
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var out: [UInt8] = []
            while i < bytes.count {
                let c = bytes[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard i < bytes.count else { return nil }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    default: return nil  // \u escapes: leave to JSONDecoder
                    }
                case 0..<0x20: return nil
                default: out.append(c)
                }
            }
            return nil
        }

        /// `[[…], …]`: each image exactly `size` pixels.
        mutating func images(size: Int, maxRows: Int) -> (pixels: [Float], rows: Int)? {
            var pixels: [Float] = []
            pixels.reserveCapacity(size)
            guard let shape = walkImages(size: size, maxRows: maxRows, strict: true, keep: { pixels.append($0) }) else { return nil }
            return (pixels, shape.rows)
        }

        /// `[[…], …]` counted: the number of images and the first whose length is not `size`.
        mutating func countImages(size: Int) -> (rows: Int, wrong: (image: Int, values: Int)?)? {
            walkImages(size: size, maxRows: .max, strict: false, keep: { _ in })
        }

        /// Walks `[[…], …]`, handing each pixel to `keep`; returns the number of images and the
        /// first of a length other than `size`. `strict`: nil at once on such an image or on more
        /// than `maxRows`, so that nothing is kept that will not be used.
        private mutating func walkImages(size: Int, maxRows: Int, strict: Bool,
                                         keep: (Float) -> Void) -> (rows: Int, wrong: (image: Int, values: Int)?)? {
            guard take(UInt8(ascii: "[")) else { return nil }
            var rows = 0
            var wrong: (image: Int, values: Int)?
            skipSpace()
            if take(UInt8(ascii: "]")) { return (0, nil) }
            while true {
                skipSpace()
                guard !strict || rows < maxRows, take(UInt8(ascii: "[")) else { return nil }
                var count = 0
                skipSpace()
                if !take(UInt8(ascii: "]")) {
                    while true {
                        skipSpace()
                        guard !strict || count < size, let v = value() else { return nil }
                        keep(v)
                        count += 1
                        skipSpace()
                        if take(UInt8(ascii: ",")) { continue }
                        guard take(UInt8(ascii: "]")) else { return nil }
                        break
                    }
                }
                if count != size {
                    if strict { return nil }
                    if wrong == nil { wrong = (rows, count) }
                }
                rows += 1
                skipSpace()
                if take(UInt8(ascii: ",")) { continue }
                guard take(UInt8(ascii: "]")) else { return nil }
                return (rows, wrong)
            }
        }

        /// A pixel: a JSON number, or one of the strings "NaN", "Infinity", "-Infinity".
        mutating func value() -> Float? {
            if peek == UInt8(ascii: "\"") {
                switch string() {
                case "NaN": return .nan
                case "Infinity": return .infinity
                case "-Infinity": return -.infinity
                default: return nil
                }
            }
            return number()
        }

        /// Exact powers of ten as Double (10^0 … 10^22 are representable).
        static let powers: [Double] = (0...22).map { pow(10, Double($0)) }

        /// One JSON number as the correctly rounded Float. Short decimals (≤ 15 significant
        /// digits, |exponent| ≤ 22: every pixel a client writes) take Clinger's fast path: the
        /// Double m·10^e is correctly rounded, and rounding it to Float is exact unless it lies
        /// exactly halfway between two floats, which falls back to `strtof` like longer numbers.
        mutating func number() -> Float? {
            let start = i
            let negative = take(UInt8(ascii: "-"))
            var mantissa: UInt64 = 0
            var significant = 0
            var exponent = 0
            @inline(__always) func digitValue(_ c: UInt8?) -> UInt64? {
                guard let c, c >= 0x30, c <= 0x39 else { return nil }
                return UInt64(c - 0x30)
            }
            if take(UInt8(ascii: "0")) {
            } else if digitValue(peek) != nil {
                while let d = digitValue(peek) {
                    i += 1
                    if significant < 19 { mantissa = mantissa * 10 + d; if mantissa > 0 { significant += 1 } } else { exponent += 1; significant += 1 }
                }
            } else {
                return nil
            }
            if take(UInt8(ascii: ".")) {
                guard digitValue(peek) != nil else { return nil }
                while let d = digitValue(peek) {
                    i += 1
                    if significant < 19 { mantissa = mantissa * 10 + d; exponent -= 1; if mantissa > 0 { significant += 1 } } else { significant += 1 }
                }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                i += 1
                var negativeExponent = false
                if peek == UInt8(ascii: "+") { i += 1 } else if peek == UInt8(ascii: "-") { i += 1; negativeExponent = true }
                guard digitValue(peek) != nil else { return nil }
                var e = 0
                while let d = digitValue(peek) {
                    i += 1
                    if e < 100_000 { e = e * 10 + Int(d) }
                }
                exponent += negativeExponent ? -e : e
            }
            if mantissa == 0 { return negative ? -0.0 : 0 }
            if significant <= 15 && abs(exponent) <= 22 {
                var d = Double(mantissa)
                d = exponent < 0 ? d / Parser.powers[-exponent] : d * Parser.powers[exponent]
                let f = Float(d)
                let back = Double(f)
                var exact = back == d
                if !exact && f.isFinite {
                    let other = d > back ? f.nextUp : f.nextDown
                    exact = (back + Double(other)) / 2 != d
                }
                if exact { return negative ? -f : f }
            }
            // Slow path: strtof on the token.
            let length = i - start
            guard length < 512 else { return nil }
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer -> Float? in
                for k in 0..<length { buffer[k] = CChar(bitPattern: bytes[start + k]) }
                buffer[length] = 0
                var end: UnsafeMutablePointer<CChar>?
                let v = strtof(buffer.baseAddress!, &end)
                guard end == buffer.baseAddress! + length else { return nil }
                return v
            }
        }

        /// Advances over one JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        mutating func scanNumber() -> Bool {
            func digit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
            _ = take(UInt8(ascii: "-"))
            if take(UInt8(ascii: "0")) {
            } else if digit(peek) {
                while digit(peek) { i += 1 }
            } else {
                return false
            }
            if take(UInt8(ascii: ".")) {
                guard digit(peek) else { return false }
                while digit(peek) { i += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                i += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
                guard digit(peek) else { return false }
                while digit(peek) { i += 1 }
            }
            return true
        }

        /// Skips any JSON value (for fields other than "images").
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < 64, let c = peek else { return false }
            switch c {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                i += 1
                skipSpace()
                if take(close) { return true }
                while true {
                    skipSpace()
                    if close == UInt8(ascii: "}") {
                        guard string() != nil else { return false }
                        skipSpace()
                        guard take(UInt8(ascii: ":")) else { return false }
                        skipSpace()
                    }
                    guard skipValue(depth: depth + 1) else { return false }
                    skipSpace()
                    if take(UInt8(ascii: ",")) { continue }
                    return take(close)
                }
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return scanNumber()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let w = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            guard i + w.count <= bytes.count else { return false }
            for k in 0..<w.count where bytes[i + k] != w[k] { return false }
            i += w.count
            return true
        }
    }
}
