import OllyNDJSON

// The hot path of span export: span records straight to OTLP protobuf bytes, without
// building SwiftProtobuf messages. SwiftProtobuf computes the size of every nested message
// again at each level of nesting (request → resource spans → scope spans → span →
// attribute → value), which made serialization most of olly-export's CPU time; here each
// span is encoded once, and the request around the spans of a batch is framed by
// arithmetic. The bytes are the ones SwiftProtobuf writes for `OTLPMap.span` (fields in
// number order, proto3 defaults left out, oneof members and set messages always written),
// which a unit test checks.

/// Appends protobuf wire-format values to a byte buffer.
struct ProtoWriter {
    var bytes: [UInt8] = []

    @inline(__always) static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var x = v >> 7
        while x != 0 { n += 1; x >>= 7 }
        return n
    }

    @inline(__always) mutating func varint(_ v: UInt64) {
        var x = v
        while x >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: x) | 0x80)
            x >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: x))
    }

    /// A field key: number and wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
    @inline(__always) mutating func key(_ field: Int, _ wire: Int) {
        varint(UInt64(field << 3 | wire))
    }

    @inline(__always) mutating func fixed64(_ v: UInt64) {
        var x = v
        for _ in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: x)); x >>= 8 }
    }

    /// A length-delimited field: key, length, bytes.
    @inline(__always) mutating func lengthDelimited(_ field: Int, _ b: some Collection<UInt8>) {
        key(field, 2)
        varint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }

    @inline(__always) mutating func string(_ field: Int, _ s: String) {
        var s = s
        s.withUTF8 { lengthDelimited(field, $0) }
    }

    /// The header of a length-delimited field whose body (of `size` bytes) follows.
    @inline(__always) mutating func header(_ field: Int, size: Int) {
        key(field, 2)
        varint(UInt64(size))
    }

    /// Bytes a length-delimited field of `size` body bytes takes (for field numbers < 16).
    @inline(__always) static func fieldSize(_ size: Int) -> Int { 1 + varintSize(UInt64(size)) + size }
}

/// The OTLP protobuf encoding of span records (opentelemetry.proto.trace.v1).
enum OTLPWire {
    // AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes.
    // KeyValue: 1 key, 2 value. ArrayValue / KeyValueList: 1 values.

    /// An AnyValue decided from a JSON value, as `OTLPMap.anyValue` decides it.
    enum Scalar {
        case none, bool(Bool), int(Int64), double(Double), string(String), bytes([UInt8]), array([JSONValue]), object(JSONFields)
        init(_ v: JSONValue) {
            switch v {
            case .null: self = .none
            case .bool(let b): self = .bool(b)
            case .number(let s):
                if let i = Int64(s) { self = .int(i) } else { self = .double(Double(s) ?? 0) }
            case .string(let s): self = .string(s)
            case .bytes(let b): self = .bytes(b)
            case .array(let xs): self = .array(xs)
            case .object(let fs): self = .object(fs)
            }
        }
    }

    /// Body size of the AnyValue of `v`.
    static func anyValueSize(_ v: JSONValue) -> Int {
        switch Scalar(v) {
        case .none: return 0
        case .bool: return 2
        case .int(let i): return 1 + ProtoWriter.varintSize(UInt64(bitPattern: i))
        case .double: return 9
        case .string(let s): return ProtoWriter.fieldSize(s.utf8.count)
        case .bytes(let b): return ProtoWriter.fieldSize(b.count)
        case .array(let xs):
            var n = 0
            for x in xs { n += ProtoWriter.fieldSize(anyValueSize(x)) }
            return ProtoWriter.fieldSize(n)
        case .object(let fs): return ProtoWriter.fieldSize(attributesSize(fs, field: 1))
        }
    }

    static func writeAnyValue(_ v: JSONValue, _ w: inout ProtoWriter) {
        switch Scalar(v) {
        case .none: break
        case .bool(let b): w.key(2, 0); w.varint(b ? 1 : 0)
        case .int(let i): w.key(3, 0); w.varint(UInt64(bitPattern: i))
        case .double(let d): w.key(4, 1); w.fixed64(d.bitPattern)
        case .string(let s): w.string(1, s)
        case .bytes(let b): w.lengthDelimited(7, b)
        case .array(let xs):
            var n = 0
            for x in xs { n += ProtoWriter.fieldSize(anyValueSize(x)) }
            w.header(5, size: n)
            for x in xs { w.header(1, size: anyValueSize(x)); writeAnyValue(x, &w) }
        case .object(let fs):
            w.header(6, size: attributesSize(fs, field: 1))
            writeAttributes(fs, field: 1, &w)
        }
    }

    static func keyValueSize(_ k: String, _ v: JSONValue) -> Int {
        ProtoWriter.fieldSize(k.utf8.count) + ProtoWriter.fieldSize(anyValueSize(v))
    }

    /// Size of the repeated KeyValue field `field` (field numbers < 16) holding `fs`.
    static func attributesSize(_ fs: JSONFields, field: Int) -> Int {
        var n = 0
        for (k, v) in fs { n += ProtoWriter.fieldSize(keyValueSize(k, v)) }
        return n
    }

    static func writeAttributes(_ fs: JSONFields, field: Int, _ w: inout ProtoWriter) {
        for (k, v) in fs {
            let vs = anyValueSize(v)
            w.header(field, size: ProtoWriter.fieldSize(k.utf8.count) + ProtoWriter.fieldSize(vs))
            w.string(1, k)
            w.header(2, size: vs)
            writeAnyValue(v, &w)
        }
    }

    /// Lower- or upper-case hex of exactly `bytes` bytes into `w` as field `field`.
    /// Value of each hex digit, 0xFF for any other byte.
    static let hexValue: [UInt8] = (0..<256).map { OTLPMap.nibble(UInt8($0)) ?? 0xFF }

    static func writeID(_ s: String, bytes n: Int, field: Int, name: String, _ w: inout ProtoWriter) throws(MappingError) {
        var s = s
        // Decoded and checked in one pass into a buffer on the stack, appended only if valid.
        let ok: Bool = s.withUTF8 { u in
            guard u.count == n * 2 else { return false }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { id in
                hexValue.withUnsafeBufferPointer { hv in
                    var bad: UInt8 = 0
                    for i in 0..<n {
                        let hi = hv[Int(u[2 * i])], lo = hv[Int(u[2 * i + 1])]
                        bad |= (hi | lo) & 0xF0
                        id[i] = hi << 4 | (lo & 0x0F)
                    }
                    guard bad == 0 else { return false }
                    w.header(field, size: n)
                    w.bytes.append(contentsOf: id)
                    return true
                }
            }
        }
        guard ok else {
            if s.utf8.count != n * 2 { throw MappingError(description: "\(name) \"\(s)\" is not \(n * 2) hex digits") }
            throw MappingError(description: "\(name) \"\(s)\" is not hex")
        }
    }

    static func kindNumber(_ k: SpanKind) -> UInt64 {
        switch k {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }

    /// Writes the body of the Span message of `r` into `w` (which it empties first).
    /// Nothing is written when an ID is not valid (the error says which).
    static func span(_ r: SpanRecord, into w: inout ProtoWriter) throws(MappingError) {
        w.bytes.removeAll(keepingCapacity: true)
        try writeID(r.traceID, bytes: 16, field: 1, name: "trace_id", &w)
        try writeID(r.spanID, bytes: 8, field: 2, name: "span_id", &w)
        if let p = r.parentSpanID, !p.isEmpty { try writeID(p, bytes: 8, field: 4, name: "parent_span_id", &w) }
        if !r.name.isEmpty { w.string(5, r.name) }
        w.key(6, 0); w.varint(kindNumber(r.spanKind))
        let start = UInt64(clamping: r.start), end = UInt64(clamping: r.end)
        if start != 0 { w.key(7, 1); w.fixed64(start) }
        if end != 0 { w.key(8, 1); w.fixed64(end) }
        writeAttributes(r.attrs, field: 9, &w)
        for e in r.events {
            // Event: 1 time_unix_nano (fixed64), 2 name, 3 attributes.
            let name = e["name"]?.stringValue ?? ""
            let ts = UInt64(clamping: e["ts"]?.intValue ?? 0)
            var attrs: JSONFields = []
            if case .object(let a)? = e["attrs"] { attrs = a }
            let size = (ts != 0 ? 9 : 0) + (name.isEmpty ? 0 : ProtoWriter.fieldSize(name.utf8.count)) + attributesSize(attrs, field: 3)
            w.header(11, size: size)
            if ts != 0 { w.key(1, 1); w.fixed64(ts) }
            if !name.isEmpty { w.string(2, name) }
            writeAttributes(attrs, field: 3, &w)
        }
        for l in r.links {
            // Link: 1 trace_id, 2 span_id, 3 trace_state, 4 attributes.
            let state = l["trace_state"]?.stringValue ?? ""
            var attrs: JSONFields = []
            if case .object(let a)? = l["attrs"] { attrs = a }
            let size = ProtoWriter.fieldSize(16) + ProtoWriter.fieldSize(8)
                + (state.isEmpty ? 0 : ProtoWriter.fieldSize(state.utf8.count)) + attributesSize(attrs, field: 4)
            w.header(13, size: size)
            try writeID(l["trace_id"]?.stringValue ?? "", bytes: 16, field: 1, name: "links[].trace_id", &w)
            try writeID(l["span_id"]?.stringValue ?? "", bytes: 8, field: 2, name: "links[].span_id", &w)
            if !state.isEmpty { w.string(3, state) }
            writeAttributes(attrs, field: 4, &w)
        }
        // Status: 2 message, 3 code; always present.
        let message = r.statusMessage ?? ""
        let code: UInt64 = switch r.status { case .unset: 0; case .ok: 1; case .error: 2 }
        w.header(15, size: (message.isEmpty ? 0 : ProtoWriter.fieldSize(message.utf8.count)) + (code != 0 ? 2 : 0))
        if !message.isEmpty { w.string(2, message) }
        if code != 0 { w.key(3, 0); w.varint(code) }
    }

    /// The serialized instrumentation scope of Olly's data.
    static let scopeBytes: [UInt8] = {
        var w = ProtoWriter()
        w.string(1, "olly")
        w.string(2, "0.1.0")
        return w.bytes
    }()

    /// An ExportTraceServiceRequest from groups of (serialized Resource, concatenated
    /// `spans` fields (ScopeSpans field 2) of that resource).
    static func traceRequest(_ groups: [(resource: [UInt8], spans: [UInt8])]) -> [UInt8] {
        var total = 0
        var sizes: [(scopeSpans: Int, resourceSpans: Int)] = []
        sizes.reserveCapacity(groups.count)
        for g in groups {
            let scopeSpans = ProtoWriter.fieldSize(scopeBytes.count) + g.spans.count
            let resourceSpans = ProtoWriter.fieldSize(g.resource.count) + ProtoWriter.fieldSize(scopeSpans)
            sizes.append((scopeSpans, resourceSpans))
            total += ProtoWriter.fieldSize(resourceSpans)
        }
        var w = ProtoWriter()
        w.bytes.reserveCapacity(total)
        for (g, s) in zip(groups, sizes) {
            w.header(1, size: s.resourceSpans)
            w.lengthDelimited(1, g.resource)
            w.header(2, size: s.scopeSpans)
            w.lengthDelimited(1, scopeBytes)
            w.bytes.append(contentsOf: g.spans)
        }
        return w.bytes
    }
}
