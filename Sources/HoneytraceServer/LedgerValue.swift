import Foundation

/// One value of a ledger row as the database stored it, whichever backend holds the ledger, so
/// the code that reads rows (counts, the evidence chain, DAWN logs) checks types once for both.
public enum LedgerValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .int(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .text(let v): return "\"\(v)\""
        case .blob(let v): return "a blob of \(v.count) bytes"
        }
    }

    /// The integer, or nil for a value of another type.
    public var int: Int64? { if case .int(let v) = self { return v } else { return nil } }
    /// The number (an integer widened), or nil for a value of another type.
    public var double: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    public var text: String? { if case .text(let v) = self { return v } else { return nil } }
    public var blob: [UInt8]? { if case .blob(let v) = self { return v } else { return nil } }
}

/// A row read from the ledger: its values by column name.
public struct LedgerRow: Sendable, Equatable {
    public var values: [String: LedgerValue]

    public init(_ values: [String: LedgerValue]) { self.values = values }

    public subscript(_ column: String) -> LedgerValue { values[column] ?? .null }
}

/// Values bound to a statement's placeholders.
extension LedgerValue {
    public init(_ value: Int) { self = .int(Int64(value)) }
    public init(_ value: Bool) { self = .int(value ? 1 : 0) }
}
