import Foundation

/// A setting written in JSON as the same text its command-line argument takes (`"top-3"`,
/// `"nearest-10"`, `"fresh-7"`), so files and commands spell it alike. Conformers give the parser
/// and, for errors, the setting's name and the forms it accepts; coding comes from here.
public protocol TextCoded: Codable, CustomStringConvertible {
    init?(argument: String)
    /// What the setting is called in an error, e.g. "answer mode".
    static var textName: String { get }
    /// The forms it accepts, e.g. "probabilities, label, top-<k>".
    static var textForms: String { get }
}

extension TextCoded {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(argument: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown \(Self.textName) '\(text)' (\(Self.textForms))"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
