import Foundation

/// A suspect's answers to a list of N queries, read from a file someone else produced (the
/// suspect's operator, an expert running the suspect model): one top-1 label or one row of K
/// class probabilities per query, in query order.
///
/// Accepted forms:
/// - JSON: an array of labels `[3, 9, …]`, an array of probability rows `[[0.1, …], …]`, or an
///   object holding either under `labels` / `probabilities` (what `honeytrace predict --json` prints);
/// - CSV: rows `index,label` or `index,p_0,…,p_{K−1}` (every index 0…N−1 exactly once, any order),
///   or one label per line in query order (what `honeytrace predict` prints). An optional header
///   row (first field not a number), blank lines and `#` comments are skipped.
///
/// Every problem is an error naming the file, the line and field (CSV) or the JSON path, and
/// what was expected versus found.
public struct AnswerFile: Sendable, Equatable {
    /// Whether the file held labels or probability rows.
    public enum Kind: String, Sendable, Equatable { case labels, probabilities }

    public let path: String
    public let kind: Kind
    /// One row of K values per query: a one-hot row per label, or the probabilities as given.
    public let rows: [[Float]]

    /// Largest answers file read (a million queries of a thousand classes as text is far smaller).
    public static let maxBytes = 1 << 30

    /// The answer mode the rows are in.
    public var answerMode: AnswerMode { kind == .labels ? .label : .probabilities }

    /// Reads and checks the answers to `count` queries of a `classes`-class model.
    public static func load(_ path: String, count: Int, classes: Int) throws -> AnswerFile {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw fail(path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such answers file")
        }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: maxBytes + 1) ?? Data() } catch {
            throw fail(path, "cannot be read: \(error.localizedDescription)")
        }
        guard data.count <= maxBytes else { throw fail(path, "is larger than \(maxBytes) bytes; not an answers file") }
        guard let text = String(data: data, encoding: .utf8) else { throw fail(path, "is not UTF-8 text (expected JSON or CSV answers)") }
        return try parse(text, path: path, count: count, classes: classes)
    }

    /// `load` on text already read; `path` names it in errors.
    public static func parse(_ text: String, path: String, count: Int, classes: Int) throws -> AnswerFile {
        let first = text.first { !$0.isWhitespace }
        let (kind, rows) = first == "[" || first == "{" ? try json(text, path, classes) : try csv(text, path, count, classes)
        guard rows.count == count else {
            throw fail(path, "\(count) answers expected (one per exported query), found \(rows.count)")
        }
        return AnswerFile(path: path, kind: kind, rows: rows)
    }

    static func fail(_ path: String, _ problem: String) -> PredictionError {
        PredictionError(.malformedAnswer, "\(path): \(problem)")
    }

    // MARK: Values

    /// A label 0…K−1 as a one-hot row; `where_` names the place for the error.
    private static func label(_ value: Double?, _ shown: String, _ path: String, _ where_: String, _ classes: Int) throws -> [Float] {
        guard let value, let l = Int(exactly: value), (0..<classes).contains(l) else {
            throw fail(path, "\(where_): expected a label 0…\(classes - 1), found \(shown)")
        }
        var row = [Float](repeating: 0, count: classes)
        row[l] = 1
        return row
    }

    private static func probability(_ value: Double?, _ shown: String, _ path: String, _ where_: String) throws -> Float {
        guard let value, value.isFinite, value >= 0, Float(value).isFinite else {
            throw fail(path, "\(where_): expected a finite probability ≥ 0, found \(shown)")
        }
        return Float(value)
    }

    // MARK: JSON

    private indirect enum Value: Decodable {
        case number(Double), text(String), bool(Bool), null, array([Value]), object([String: Value])

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let s = try? c.decode(String.self) { self = .text(s) }
            else if let a = try? c.decode([Value].self) { self = .array(a) }
            else { self = .object(try c.decode([String: Value].self)) }
        }

        var shown: String {
            switch self {
            case .number(let d): return d.isNaN ? "NaN" : d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
            case .text(let s): return "the string \"\(s.prefix(40))\""
            case .bool(let b): return String(b)
            case .null: return "null"
            case .array(let a): return "an array of \(a.count)"
            case .object: return "an object"
            }
        }

        var number: Double? { if case .number(let d) = self { return d } else { return nil } }
    }

    private static func json(_ text: String, _ path: String, _ classes: Int) throws -> (Kind, [[Float]]) {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true  // NaN and Infinity then parse, and are refused below with their place
        let root: Value
        do { root = try decoder.decode(Value.self, from: Data(text.utf8)) } catch {
            throw fail(path, "not valid JSON: \(error)")
        }
        var items: [Value], prefix = ""
        switch root {
        case .array(let a): items = a
        case .object(let o):
            let keys = ["labels", "probabilities"].filter { o[$0] != nil }
            guard keys.count == 1, case .array(let a) = o[keys[0]]! else {
                throw fail(path, "expected an array, or an object with one array under \"labels\" or \"probabilities\"; found an object with keys \(o.keys.sorted())")
            }
            items = a; prefix = keys[0]
        default: throw fail(path, "expected an array of answers, found \(root.shown)")
        }
        guard let head = items.first else { return (.labels, []) }
        if case .array = head {
            let rows = try items.enumerated().map { i, item -> [Float] in
                guard case .array(let values) = item, values.count == classes else {
                    throw fail(path, "\(prefix)[\(i)]: expected a row of \(classes) probabilities, found \(item.shown)")
                }
                return try values.enumerated().map { j, v in try probability(v.number, v.shown, path, "\(prefix)[\(i)][\(j)]") }
            }
            return (.probabilities, rows)
        }
        return (.labels, try items.enumerated().map { i, v in try label(v.number, v.shown, path, "\(prefix)[\(i)]", classes) })
    }

    // MARK: CSV

    private static func csv(_ text: String, _ path: String, _ count: Int, _ classes: Int) throws -> (Kind, [[Float]]) {
        var width: Int?, headerSeen = false
        var byIndex = [Int: (row: [Float], line: Int)](), ordered: [[Float]] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = n + 1
            let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if width == nil, !headerSeen, Double(fields[0]) == nil {
                headerSeen = true  // a header such as `index,label`
                continue
            }
            guard [1, 2, classes + 1].contains(fields.count) else {
                throw fail(path, "line \(line): expected `index,label` (2 fields), `index,p_0,…,p_\(classes - 1)` (\(classes + 1) fields) or a label alone, found \(fields.count) fields")
            }
            if let w = width, w != fields.count {
                throw fail(path, "line \(line): \(fields.count) fields, but the rows before have \(w)")
            }
            width = fields.count
            func place(_ f: Int) -> String { "line \(line), field \(f + 1)" }
            if fields.count == 1 {
                ordered.append(try label(Double(fields[0]), "'\(fields[0])'", path, place(0), classes))
                continue
            }
            guard let i = Int(fields[0]), (0..<count).contains(i) else {
                throw fail(path, "\(place(0)): expected a query index 0…\(count - 1), found '\(fields[0])'")
            }
            if let earlier = byIndex[i] { throw fail(path, "line \(line): index \(i) answered twice (first on line \(earlier.line))") }
            let row = fields.count == 2
                ? try label(Double(fields[1]), "'\(fields[1])'", path, place(1), classes)
                : try (1...classes).map { try probability(Double(fields[$0]), "'\(fields[$0])'", path, place($0)) }
            byIndex[i] = (row, line)
        }
        guard let w = width else { return (.labels, []) }
        if w == 1 { return (.labels, ordered) }
        if byIndex.count != count, let missing = (0..<count).first(where: { byIndex[$0] == nil }) {
            throw fail(path, "\(count) answers expected (one per exported query), found \(byIndex.count); no answer for index \(missing)")
        }
        return (w == 2 ? .labels : .probabilities, (0..<count).map { byIndex[$0]!.row })
    }
}
