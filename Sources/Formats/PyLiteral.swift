/// The subset of Python literals that appears in `.npy` headers
/// (`{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`).
///
/// NumPy itself reads the header with `ast.literal_eval`; this parser accepts the
/// same forms that NumPy writes (and a little more: double quotes, lists, None,
/// Python 2 `L` suffixes) without evaluating anything.
enum PyLiteral: Equatable {
    case dict([(String, PyLiteral)])
    case tuple([PyLiteral])
    case list([PyLiteral])
    case string(String)
    case int(Int)
    case bool(Bool)
    case none

    static func == (a: PyLiteral, b: PyLiteral) -> Bool {
        switch (a, b) {
        case let (.dict(x), .dict(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.tuple(x), .tuple(y)), let (.list(x), .list(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.none, .none): return true
        default: return false
        }
    }

    var typeName: String {
        switch self {
        case .dict: return "a dict"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case let .string(s): return "string '\(s)'"
        case let .int(v): return "integer \(v)"
        case let .bool(b): return b ? "True" : "False"
        case .none: return "None"
        }
    }
}

struct PyLiteralParser {
    struct ParseError: Error {
        let offset: Int
        let message: String
    }

    private let chars: [Character]
    private var pos = 0

    static func parse(_ text: String) throws -> PyLiteral {
        var parser = PyLiteralParser(chars: Array(text))
        parser.skipSpace()
        let value = try parser.parseValue(depth: 0)
        parser.skipSpace()
        if parser.pos != parser.chars.count {
            throw ParseError(offset: parser.pos, message: "unexpected text after the literal")
        }
        return value
    }

    private init(chars: [Character]) { self.chars = chars }

    private mutating func skipSpace() {
        while pos < chars.count, chars[pos] == " " || chars[pos] == "\n" || chars[pos] == "\t" || chars[pos] == "\r" || chars[pos] == "\r\n" {
            pos += 1
        }
    }

    private func fail(_ message: String) -> ParseError { ParseError(offset: pos, message: message) }

    private var current: String { pos < chars.count ? "'\(chars[pos])'" : "end of header" }

    private mutating func parseValue(depth: Int) throws -> PyLiteral {
        guard depth < 32 else { throw fail("nesting too deep") }
        guard pos < chars.count else { throw fail("unexpected end of header, expected a value") }
        let c = chars[pos]
        switch c {
        case "{": return try parseDict(depth: depth)
        case "(": return try parseSequence(close: ")", depth: depth)
        case "[": return try parseSequence(close: "]", depth: depth)
        case "'", "\"": return .string(try parseString())
        case "-", "0"..."9": return .int(try parseInt())
        default:
            if c.isLetter { return try parseName() }
            throw fail("unexpected \(current), expected a value")
        }
    }

    private mutating func parseName() throws -> PyLiteral {
        let start = pos
        while pos < chars.count, chars[pos].isLetter || chars[pos] == "_" { pos += 1 }
        let word = String(chars[start..<pos])
        switch word {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return .none
        default: throw ParseError(offset: start, message: "unexpected name '\(word)'")
        }
    }

    private mutating func parseInt() throws -> Int {
        let start = pos
        if chars[pos] == "-" { pos += 1 }
        let digitsStart = pos
        while pos < chars.count, chars[pos].isASCII, chars[pos].isNumber { pos += 1 }
        guard pos > digitsStart else { throw fail("digit expected") }
        let text = String(chars[start..<pos])
        if pos < chars.count, chars[pos] == "L" { pos += 1 }  // Python 2 long
        if pos < chars.count, chars[pos] == "." || chars[pos] == "e" || chars[pos] == "E" {
            throw fail("non-integer number")
        }
        guard let v = Int(text) else { throw ParseError(offset: start, message: "integer \(text) out of range") }
        return v
    }

    private mutating func parseString() throws -> String {
        let quote = chars[pos]
        pos += 1
        var out = ""
        while true {
            guard pos < chars.count else { throw fail("unterminated string") }
            let c = chars[pos]
            pos += 1
            if c == quote { return out }
            if c == "\n" { throw fail("newline inside string") }
            if c == "\\" {
                guard pos < chars.count else { throw fail("unterminated escape") }
                let e = chars[pos]
                pos += 1
                switch e {
                case "\\", "'", "\"": out.append(e)
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: throw fail("unsupported escape '\\\(e)'")
                }
                continue
            }
            out.append(c)
        }
    }

    private mutating func parseSequence(close: Character, depth: Int) throws -> PyLiteral {
        let isTuple = close == ")"
        pos += 1
        var items: [PyLiteral] = []
        var sawComma = false
        while true {
            skipSpace()
            guard pos < chars.count else { throw fail("unexpected end of header, expected '\(close)'") }
            if chars[pos] == close {
                pos += 1
                // `(3)` is just 3 in Python; `(3,)` is a tuple.
                if isTuple && items.count == 1 && !sawComma { return items[0] }
                return isTuple ? .tuple(items) : .list(items)
            }
            items.append(try parseValue(depth: depth + 1))
            skipSpace()
            guard pos < chars.count else { throw fail("unexpected end of header, expected ',' or '\(close)'") }
            if chars[pos] == "," {
                pos += 1
                sawComma = true
                continue
            }
            if chars[pos] != close { throw fail("unexpected \(current), expected ',' or '\(close)'") }
        }
    }

    private mutating func parseDict(depth: Int) throws -> PyLiteral {
        pos += 1
        var items: [(String, PyLiteral)] = []
        // A set, not a scan of `items`: a scan is quadratic in the keys, and a header is attacker-sized.
        var seen: Set<String> = []
        while true {
            skipSpace()
            guard pos < chars.count else { throw fail("unexpected end of header, expected '}'") }
            if chars[pos] == "}" {
                pos += 1
                return .dict(items)
            }
            guard chars[pos] == "'" || chars[pos] == "\"" else { throw fail("unexpected \(current), expected a string key") }
            let keyOffset = pos
            let key = try parseString()
            if !seen.insert(key).inserted {
                throw ParseError(offset: keyOffset, message: "duplicate key '\(key)'")
            }
            skipSpace()
            guard pos < chars.count, chars[pos] == ":" else { throw fail("unexpected \(current), expected ':'") }
            pos += 1
            skipSpace()
            items.append((key, try parseValue(depth: depth + 1)))
            skipSpace()
            guard pos < chars.count else { throw fail("unexpected end of header, expected ',' or '}'") }
            if chars[pos] == "," { pos += 1; continue }
            if chars[pos] != "}" { throw fail("unexpected \(current), expected ',' or '}'") }
        }
    }
}
