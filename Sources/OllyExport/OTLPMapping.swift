import OllyNDJSON
import SwiftProtobuf

// Records to OTLP messages (olly-records(7), "OTLP mapping"). IDs are lower-case hex in
// records and raw bytes in OTLP; a record whose IDs are not valid hex of the right length
// cannot be exported and is reported by the caller.

typealias OTLPSpan = Opentelemetry_Proto_Trace_V1_Span
typealias OTLPLog = Opentelemetry_Proto_Logs_V1_LogRecord
typealias OTLPMetric = Opentelemetry_Proto_Metrics_V1_Metric
typealias OTLPKeyValue = Opentelemetry_Proto_Common_V1_KeyValue
typealias OTLPAnyValue = Opentelemetry_Proto_Common_V1_AnyValue
typealias OTLPResource = Opentelemetry_Proto_Resource_V1_Resource

/// A record that cannot be expressed in OTLP, with the reason.
public struct MappingError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The instrumentation scope Olly's data is reported under.
let ollyScope: Opentelemetry_Proto_Common_V1_InstrumentationScope = .with {
    $0.name = "olly"
    $0.version = "0.1.0"
}

enum OTLPMap {
    /// Lower-case or upper-case hex of exactly `bytes` bytes.
    static func hexID(_ s: String, bytes: Int, field: String) throws(MappingError) -> [UInt8] {
        let u = Array(s.utf8)
        guard u.count == bytes * 2 else {
            throw MappingError(description: "\(field) \"\(s)\" is not \(bytes * 2) hex digits")
        }
        var out = [UInt8](repeating: 0, count: bytes)
        for i in 0..<bytes {
            guard let h = nibble(u[2 * i]), let l = nibble(u[2 * i + 1]) else {
                throw MappingError(description: "\(field) \"\(s)\" is not hex")
            }
            out[i] = h << 4 | l
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func hex(_ b: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var s = [UInt8]()
        s.reserveCapacity(b.count * 2)
        for x in b { s.append(digits[Int(x >> 4)]); s.append(digits[Int(x & 15)]) }
        return String(decoding: s, as: UTF8.self)
    }

    /// JSON value to AnyValue: integers (no fraction or exponent) become int, other numbers
    /// double, objects kvlist, arrays array, null an empty AnyValue.
    static func anyValue(_ v: JSONValue) -> OTLPAnyValue {
        var a = OTLPAnyValue()
        switch v {
        case .null: break
        case .bool(let b): a.boolValue = b
        case .number(let s):
            if let i = Int64(s) { a.intValue = i } else { a.doubleValue = Double(s) ?? 0 }
        case .string(let s): a.stringValue = s
        case .bytes(let b): a.bytesValue = .init(b)
        case .array(let xs): a.arrayValue = .with { $0.values = xs.map(anyValue) }
        case .object(let fs): a.kvlistValue = .with { $0.values = attributes(fs) }
        }
        return a
    }

    static func attributes(_ fields: JSONFields) -> [OTLPKeyValue] {
        fields.map { k, v in OTLPKeyValue.with { $0.key = k; $0.value = anyValue(v) } }
    }

    static func resource(_ fields: JSONFields) -> OTLPResource {
        OTLPResource.with { $0.attributes = attributes(fields) }
    }

    static func kind(_ k: SpanKind) -> OTLPSpan.SpanKind {
        switch k {
        case .server: .server
        case .client: .client
        case .internal: .internal
        case .producer: .producer
        case .consumer: .consumer
        }
    }

    static func span(_ r: SpanRecord) throws(MappingError) -> OTLPSpan {
        var s = OTLPSpan()
        s.traceID = .init(try hexID(r.traceID, bytes: 16, field: "trace_id"))
        s.spanID = .init(try hexID(r.spanID, bytes: 8, field: "span_id"))
        if let p = r.parentSpanID, !p.isEmpty { s.parentSpanID = .init(try hexID(p, bytes: 8, field: "parent_span_id")) }
        s.name = r.name
        s.kind = kind(r.spanKind)
        s.startTimeUnixNano = UInt64(clamping: r.start)
        s.endTimeUnixNano = UInt64(clamping: r.end)
        s.attributes = attributes(r.attrs)
        s.status = .with {
            switch r.status {
            case .unset: $0.code = .unset
            case .ok: $0.code = .ok
            case .error: $0.code = .error
            }
            $0.message = r.statusMessage ?? ""
        }
        for e in r.events {
            var ev = Opentelemetry_Proto_Trace_V1_Span.Event()
            ev.name = e["name"]?.stringValue ?? ""
            ev.timeUnixNano = UInt64(clamping: e["ts"]?.intValue ?? 0)
            if case .object(let a)? = e["attrs"] { ev.attributes = attributes(a) }
            s.events.append(ev)
        }
        for l in r.links {
            var link = Opentelemetry_Proto_Trace_V1_Span.Link()
            link.traceID = .init(try hexID(l["trace_id"]?.stringValue ?? "", bytes: 16, field: "links[].trace_id"))
            link.spanID = .init(try hexID(l["span_id"]?.stringValue ?? "", bytes: 8, field: "links[].span_id"))
            link.traceState = l["trace_state"]?.stringValue ?? ""
            if case .object(let a)? = l["attrs"] { link.attributes = attributes(a) }
            s.links.append(link)
        }
        return s
    }

    /// Severity text to SeverityNumber (the first number of each range of the data model).
    static func severityNumber(_ text: String?) -> Opentelemetry_Proto_Logs_V1_SeverityNumber {
        switch text?.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "info", "information", "notice": .info
        case "warn", "warning": .warn
        case "error", "err": .error
        case "fatal", "critical", "crit", "alert", "emerg", "emergency": .fatal
        default: .unspecified
        }
    }

    /// A log record and the resource it belongs to (`process.pid` when the record has a pid).
    static func log(_ r: LogRecord) throws(MappingError) -> (JSONFields, OTLPLog) {
        var l = OTLPLog()
        l.timeUnixNano = UInt64(clamping: r.ts)
        l.observedTimeUnixNano = UInt64(clamping: r.ts)
        l.body = .with { $0.stringValue = r.body }
        if let s = r.severity { l.severityText = s }
        l.severityNumber = severityNumber(r.severity)
        var attrs = r.attrs
        if !r.source.isEmpty { attrs.append(("log.source", .string(r.source))) }
        if let tid = r.tid { attrs.append(("thread.id", .int(Int64(tid)))) }
        l.attributes = attributes(attrs)
        if let t = r.traceID, !t.isEmpty { l.traceID = .init(try hexID(t, bytes: 16, field: "trace_id")) }
        if let s = r.spanID, !s.isEmpty { l.spanID = .init(try hexID(s, bytes: 8, field: "span_id")) }
        var resource: JSONFields = []
        if let pid = r.pid { resource.append(("process.pid", .int(Int64(pid)))) }
        return (resource, l)
    }

    /// The Metric (with one data point) for a metric record.
    static func metric(_ r: MetricRecord) throws(MappingError) -> OTLPMetric {
        var m = OTLPMetric()
        m.name = r.name
        m.unit = r.unit ?? ""
        let attrs = attributes(r.attrs)
        let ts = UInt64(clamping: r.ts)
        let start = UInt64(clamping: r.startTS ?? 0)
        switch r.type {
        case .gauge, .sum:
            guard let v = r.value else { throw MappingError(description: "\(r.type.rawValue) metric \"\(r.name)\" has no value") }
            let p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint.with {
                $0.attributes = attrs
                $0.timeUnixNano = ts
                $0.startTimeUnixNano = start
                $0.asDouble = v
            }
            if r.type == .gauge {
                m.gauge = .with { $0.dataPoints = [p] }
            } else {
                m.sum = .with {
                    $0.dataPoints = [p]
                    $0.aggregationTemporality = .cumulative
                    $0.isMonotonic = true
                }
            }
        case .histogram:
            let bounds = r.bounds ?? []
            let counts = r.counts ?? []
            guard counts.count == bounds.count + 1 else {
                throw MappingError(description: "histogram \"\(r.name)\" has \(counts.count) counts for \(bounds.count) bounds")
            }
            m.histogram = .with {
                $0.aggregationTemporality = .cumulative
                $0.dataPoints = [.with {
                    $0.attributes = attrs
                    $0.timeUnixNano = ts
                    $0.startTimeUnixNano = start
                    $0.count = UInt64(clamping: r.count ?? counts.reduce(0, +))
                    if let s = r.sum { $0.sum = s }
                    $0.explicitBounds = bounds
                    $0.bucketCounts = counts.map { UInt64(clamping: $0) }
                }]
            }
        }
        return m
    }

    /// A stats record as one cumulative sum per counter, named `olly.<counter>`, with the
    /// attribute `olly.stage`.
    static func statsMetrics(_ r: StatsRecord) -> [OTLPMetric] {
        r.counters.map { name, value in
            OTLPMetric.with {
                $0.name = "olly." + name
                $0.description_p = "Counter \(name) of \(r.stage)"
                $0.sum = .with {
                    $0.aggregationTemporality = .cumulative
                    $0.isMonotonic = false
                    $0.dataPoints = [.with {
                        $0.attributes = attributes([("olly.stage", .string(r.stage))])
                        $0.timeUnixNano = UInt64(clamping: r.ts)
                        $0.asInt = value
                    }]
                }
            }
        }
    }
}
