import Foundation

/// The part of OpenAPI 3.0's schema language the API document uses — `$ref`, `type` (object,
/// array, string, number, integer, boolean), `required`, `properties`, `additionalProperties:
/// false`, `items`, `minItems`/`maxItems`, `enum`, `minimum`/`maximum`, `oneOf` — checked against
/// a decoded JSON value. Unknown keywords are an error, so the document cannot quietly use a
/// keyword this validator would skip.
struct SchemaValidator {
    let document: [String: Any]

    static let knownKeywords: Set<String> = ["$ref", "type", "required", "properties", "additionalProperties", "items",
                                             "minItems", "maxItems", "enum", "minimum", "maximum", "oneOf",
                                             "description", "format"]

    /// The object a `#/a/b/c` reference points to.
    func resolve(_ reference: String) throws -> [String: Any] {
        guard reference.hasPrefix("#/") else { throw Problem("unsupported reference \(reference)") }
        var node: Any = document
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = (node as? [String: Any])?[String(part)] else { throw Problem("dangling reference \(reference)") }
            node = next
        }
        guard let object = node as? [String: Any] else { throw Problem("reference \(reference) is not an object") }
        return object
    }

    /// The problems of `value` against `schema` at `path` (empty when it conforms).
    func problems(_ value: Any, _ schema: [String: Any], at path: String = "$") throws -> [String] {
        if let reference = schema["$ref"] as? String { return try problems(value, try resolve(reference), at: path) }
        for keyword in schema.keys where !Self.knownKeywords.contains(keyword) {
            throw Problem("schema at \(path) uses '\(keyword)', which this validator does not check")
        }
        if let choices = schema["oneOf"] as? [[String: Any]] {
            let matching = try choices.filter { try problems(value, $0, at: path).isEmpty }.count
            return matching == 1 ? [] : ["\(path): matches \(matching) of the \(choices.count) oneOf schemas, expected exactly 1"]
        }
        var found: [String] = []
        if let allowed = schema["enum"] as? [Any], !allowed.contains(where: { "\($0)" == "\(value)" }) {
            found.append("\(path): \(value) is not one of \(allowed)")
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): expected an object, found \(value)"] }
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                found.append("\(path): required property '\(key)' is missing")
            }
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            for (key, item) in object {
                if let property = properties[key] {
                    found += try problems(item, property, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    found.append("\(path): property '\(key)' is not in the schema")
                }
            }
        case "array":
            guard let array = value as? [Any] else { return ["\(path): expected an array, found \(value)"] }
            if let least = schema["minItems"] as? Int, array.count < least { found.append("\(path): \(array.count) items, at least \(least) expected") }
            if let most = schema["maxItems"] as? Int, array.count > most { found.append("\(path): \(array.count) items, at most \(most) expected") }
            if let items = schema["items"] as? [String: Any] {
                for (i, item) in array.enumerated() { found += try problems(item, items, at: "\(path)[\(i)]") }
            }
        case "string":
            guard value is String else { return ["\(path): expected a string, found \(value)"] }
        case "integer", "number":
            guard let number = value as? NSNumber else {
                return ["\(path): expected a number, found \(value)"]
            }
            if schema["type"] as? String == "integer", number.doubleValue.rounded() != number.doubleValue {
                found.append("\(path): expected an integer, found \(number)")
            }
            if let least = (schema["minimum"] as? NSNumber)?.doubleValue, number.doubleValue < least {
                found.append("\(path): \(number) is below the minimum \(least)")
            }
            if let most = (schema["maximum"] as? NSNumber)?.doubleValue, number.doubleValue > most {
                found.append("\(path): \(number) is above the maximum \(most)")
            }
        case "boolean":
            guard value is Bool else { return ["\(path): expected a boolean, found \(value)"] }
        case nil:
            break
        case let other?:
            throw Problem("schema at \(path) has unknown type '\(other)'")
        }
        return found
    }

    struct Problem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
