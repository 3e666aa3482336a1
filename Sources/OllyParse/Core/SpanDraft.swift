import OllyNDJSON

/// What a protocol parser makes of one exchange; `ParseStage` turns it into a span.
struct SpanDraft {
    var name: String
    var attrs: JSONFields = []
    /// The span's status is error (per the protocol's rules for its role).
    var error = false
    var statusMessage: String?
    /// Trace context the request carried.
    var traceParent: TraceParent?
    var traceState: String?
    /// The exchange could not be parsed as its protocol (kept as a span, flagged).
    var malformed = false

    init(name: String) {
        self.name = name
        attrs.reserveCapacity(16)
    }

    mutating func set(_ key: String, _ value: String?) {
        if let value { attrs.append((key, .string(value))) }
    }

    mutating func set(_ key: String, _ value: Int?) {
        if let value { attrs.append((key, .int(Int64(value)))) }
    }

    mutating func set(_ key: String, _ value: Bool) {
        attrs.append((key, .bool(value)))
    }
}

/// What every protocol parser gets.
struct ExchangeContext {
    let exchange: ExchangeRecord
    let role: Role
    /// Redact credentials and SQL literals (default); `--no-redact` turns it off.
    let redact: Bool
    /// Statements analysed before (the stage's, shared by all connections).
    let sql: SQLCache

    var req: ExchangeMessage? { exchange.req }
    var resp: ExchangeMessage? { exchange.resp }
    var isServer: Bool { role == .server }
}
