/// A `DecodingError` in words that name the offending field (`entries[3].similarity: expected a
/// number`), for file loaders that report "FILE: field …: problem" instead of Swift's dump.
public enum DecodingProblem {
    /// `field a.b[2].c is missing`, `field x: expected a string`, or `not valid JSON (…)`.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "cannot be read: \(error)" }
        switch error {
        case .keyNotFound(let key, let context):
            return "field \(field(context.codingPath + [key])) is missing"
        case .typeMismatch(let type, let context):
            return "field \(field(context.codingPath)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "field \(field(context.codingPath)) is null; expected \(typeName(type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON (\(context.debugDescription))" }
            return "field \(field(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "cannot be decoded: \(error)"
        }
    }

    /// `entries[3].similarity` for a coding path.
    public static func field(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let i = key.intValue { text += "[\(i)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text.isEmpty ? "(top level)" : text
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt64.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            return name.hasPrefix("Array") || name.hasPrefix("[") ? "an array" : "an object"
        }
    }
}
