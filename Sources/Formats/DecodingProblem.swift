/// What a `DecodingError` says about a JSON document, in words that name the field
/// (`field 'signed.images[3].sha256' is missing`), for errors that also name the file.
public enum DecodingProblem {
    /// The problem without the file name: a missing, mistyped, null or invalid field, or
    /// "not valid JSON (…)" when the document itself does not parse.
    public static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context): return "field '\(path(context.codingPath + [key]))' is missing"
        case DecodingError.typeMismatch(_, let context): return "field '\(path(context.codingPath))' has the wrong type"
        case DecodingError.valueNotFound(_, let context): return "field '\(path(context.codingPath))' is null"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON (\(context.debugDescription))"
                                              : "field '\(path(context.codingPath))' is invalid: \(context.debugDescription)"
        default: return "cannot be read: \(error)"
        }
    }

    /// `a.b[2].c` for a coding path.
    public static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
}
