/// A generic JSON value for the open parts of records (attributes, unknown fields,
/// records of unknown kinds). Objects keep their key order; numbers keep their text so
/// that a value re-encoded is the value that was read.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A JSON number exactly as written (e.g. `"42"`, `"1.5e3"`).
    case number(String)
    case string(String)
    /// Raw bytes: base64 in NDJSON, raw in the binary form.
    case bytes([UInt8])
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func int(_ v: Int64) -> JSONValue { .number(String(v)) }
    public static func double(_ v: Double) -> JSONValue { .number(formatDouble(v)) }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.bytes(x), .bytes(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The integer value of a number without fraction or exponent.
    public var intValue: Int64? {
        if case .number(let s) = self { return Int64(s) }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let s) = self { return Double(s) }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value of `key` in an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self {
            for (k, v) in fields where k == key { return v }
        }
        return nil
    }
}

/// Shortest text that reads back as the same Double, valid JSON (no inf/nan: those are null).
public func formatDouble(_ v: Double) -> String {
    guard v.isFinite else { return "null" }
    if v == v.rounded(.towardZero) && abs(v) < 1e15 { return String(Int64(v)) }
    return v.description
}

/// An ordered list of key/value pairs: span attributes, resources, unknown fields.
public typealias JSONFields = [(String, JSONValue)]

func fieldsEqual(_ a: JSONFields, _ b: JSONFields) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
}
