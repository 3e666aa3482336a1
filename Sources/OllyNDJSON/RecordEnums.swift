/// A string-valued field with a closed set of values.
public protocol RecordEnum: RawRepresentable<String>, CaseIterable, Sendable where AllCases == [Self] {
    static var table: KeyTable { get }
    /// `allCases`, stored (the synthesized property builds a new array on each call).
    static var cases: [Self] { get }
}

extension FieldDecoder {
    public mutating func readEnum<T: RecordEnum>(_: T.Type) throws(DecodeError) -> T {
        let start = position
        let k = try readStringKey()
        let i = T.table.index(of: k, hint: 0)
        guard i >= 0 else {
            let values = T.cases.map(\.rawValue).joined(separator: ", ")
            var e = error("\"\(k.string)\" is not one of \(values)")
            e.offset = start
            throw e
        }
        return T.cases[i]
    }

    /// Fails with the first required field (bit i of `required` = key i) not seen.
    
    public mutating func require(_ seen: UInt64, _ required: UInt64, _ keys: KeyTable, kind: StaticString) throws(DecodeError) {
        let missing = required & ~seen
        if missing != 0 {
            let i = missing.trailingZeroBitCount
            throw DecodeError(offset: position, "\(kind) record: missing required field \"\(keys.name(i))\"")
        }
    }
}

/// Which way bytes went, from the captured process's point of view.
public enum Direction: String, RecordEnum {
    /// The process sent the bytes.
    case out
    /// The process received the bytes.
    case `in`
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}

public enum Role: String, RecordEnum {
    case client, server, unknown
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}

public enum Family: String, RecordEnum {
    case inet, inet6, unix
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}

public enum ConnEvent: String, RecordEnum {
    case open, close, existing
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}

public enum SpanKind: String, RecordEnum {
    case server, client, `internal`, producer, consumer
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}

public enum SpanStatus: String, RecordEnum {
    case unset, ok, error
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}

public enum MetricType: String, RecordEnum {
    case gauge, sum, histogram
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}

public enum Proto: String, RecordEnum {
    case http1, http2, grpc, postgres, mysql, redis, mongodb, dns, unknown
    public static let table = KeyTable(allCases.map(\.rawValue))
    public static let cases = allCases
}
