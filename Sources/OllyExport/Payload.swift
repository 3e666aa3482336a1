import Foundation
import OllyNDJSON
import SwiftProtobuf

/// One value per signal (a record's worth of work looks these up: no hashing).
struct PerSignal<T> {
    var traces: T
    var logs: T
    var metrics: T

    init(_ v: T) { (traces, logs, metrics) = (v, v, v) }

    subscript(_ s: Signal) -> T {
        get {
            switch s {
            case .traces: traces
            case .logs: logs
            case .metrics: metrics
            }
        }
        set {
            switch s {
            case .traces: traces = newValue
            case .logs: logs = newValue
            case .metrics: metrics = newValue
            }
        }
    }
}

/// The three OTLP signals.
public enum Signal: String, Sendable, CaseIterable {
    case traces, logs, metrics

    /// Path of the OTLP/HTTP endpoint.
    var httpPath: String { "/v1/\(rawValue)" }
    /// Fully qualified gRPC service.
    var grpcService: String {
        switch self {
        case .traces: "opentelemetry.proto.collector.trace.v1.TraceService"
        case .logs: "opentelemetry.proto.collector.logs.v1.LogsService"
        case .metrics: "opentelemetry.proto.collector.metrics.v1.MetricsService"
        }
    }
    /// What is counted in a batch: spans, log records, metric data points.
    var itemName: String {
        switch self {
        case .traces: "spans"
        case .logs: "logs"
        case .metrics: "points"
        }
    }
}

/// One export request, serialized once as protobuf; JSON is made from it on demand.
public struct Payload: Sendable {
    public let signal: Signal
    /// Spans, log records or data points in it.
    public let items: Int
    /// The serialized Export*ServiceRequest.
    public let protobuf: [UInt8]

    public init(signal: Signal, items: Int, protobuf: [UInt8]) {
        self.signal = signal
        self.items = items
        self.protobuf = protobuf
    }

    /// The request as OTLP JSON (one line, no newline).
    public func json() throws -> [UInt8] {
        switch signal {
        case .traces:
            return try OTLPJSON.encode(Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: protobuf))
        case .logs:
            return try OTLPJSON.encode(Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest(serializedBytes: protobuf))
        case .metrics:
            return try OTLPJSON.encode(Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest(serializedBytes: protobuf))
        }
    }
}

/// OTLP JSON (OTLP specification, "JSON Protobuf Encoding"): the proto3 JSON mapping with
/// lowerCamelCase names and enums as integers, except that trace and span IDs are hex
/// strings instead of base64.
enum OTLPJSON {
    static func encode(_ m: some SwiftProtobuf.Message) throws -> [UInt8] {
        var opts = JSONEncodingOptions()
        opts.alwaysPrintEnumsAsInts = true
        let bytes: [UInt8] = try m.jsonUTF8Bytes(options: opts)
        return hexIDs(bytes)
    }

    static let idKeys: [[UInt8]] = ["\"traceId\":\"", "\"spanId\":\"", "\"parentSpanId\":\""].map { Array($0.utf8) }

    /// Rewrites the base64 values of `traceId`, `spanId` and `parentSpanId` as hex. A key can
    /// only match where it is a member name: inside a JSON string every `"` is escaped.
    static func hexIDs(_ b: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(b.count + b.count / 8)
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c == UInt8(ascii: "\""), i + 8 < n, b[i + 1] == UInt8(ascii: "t") || b[i + 1] == UInt8(ascii: "s") || b[i + 1] == UInt8(ascii: "p"),
               i == 0 || b[i - 1] != UInt8(ascii: "\\") {
                var matched: [UInt8]?
                for k in idKeys where i + k.count <= n && b[i..<(i + k.count)].elementsEqual(k) { matched = k; break }
                if let k = matched {
                    out.append(contentsOf: k)
                    var j = i + k.count
                    let start = j
                    while j < n && b[j] != UInt8(ascii: "\"") { j += 1 }
                    let value = String(decoding: b[start..<j], as: UTF8.self)
                    if let raw = Data(base64Encoded: value) {
                        out.append(contentsOf: OTLPMap.hex(raw).utf8)
                    } else {
                        out.append(contentsOf: b[start..<j])
                    }
                    i = j
                    continue
                }
            }
            out.append(c)
            i += 1
        }
        return out
    }
}

/// Builds export requests from records, per signal, and seals them by count or bytes.
/// Spans and logs are grouped by resource; metrics by resource and name.
struct RequestBuilder {
    // Resources and item lists are kept apart so that appending mutates in place.
    /// Spans already encoded (OTLPWire), per serialized resource, in order of first use.
    var spanGroups: [(resource: [UInt8], spans: [UInt8])] = []
    var spanGroupIndex: [[UInt8]: Int] = [:]
    var lastSpanGroup = -1
    var logResources: [[UInt8]: OTLPResource] = [:]
    var logs: [[UInt8]: [OTLPLog]] = [:]
    var logOrder: [[UInt8]] = []
    var metrics: [OTLPMetric] = []
    var metricResources: [OTLPResource] = []
    var counts = PerSignal(0)
    var bytes = PerSignal(0)
    var firstAt = PerSignal<Double?>(nil)

    static func key(_ r: OTLPResource) -> [UInt8] { (try? r.serializedBytes()) ?? [] }

    /// Adds the body of one Span message (`OTLPWire.span`) under the serialized resource
    /// `resource`. Counted in the batch's bytes at its encoded size.
    mutating func add(encodedSpan body: [UInt8], resource: [UInt8], now: Double) {
        var i = lastSpanGroup
        // The caller passes the same resource array while the resource does not change, so
        // this comparison is mostly one of storage identity.
        if i < 0 || spanGroups[i].resource != resource {
            if let j = spanGroupIndex[resource] {
                i = j
            } else {
                i = spanGroups.count
                spanGroupIndex[resource] = i
                spanGroups.append((resource, []))
            }
            lastSpanGroup = i
        }
        var w = ProtoWriter()
        swap(&w.bytes, &spanGroups[i].spans)
        w.header(2, size: body.count)
        w.bytes.append(contentsOf: body)
        swap(&w.bytes, &spanGroups[i].spans)
        note(.traces, size: ProtoWriter.fieldSize(body.count), now: now)
    }

    mutating func add(log l: OTLPLog, resource: OTLPResource, size: Int, now: Double) {
        let k = Self.key(resource)
        if logResources[k] == nil { logResources[k] = resource; logOrder.append(k) }
        logs[k, default: []].append(l)
        note(.logs, size: size, now: now)
    }

    mutating func add(metric m: OTLPMetric, resource: OTLPResource, size: Int, now: Double) {
        metrics.append(m)
        metricResources.append(resource)
        let points = max(1, m.gauge.dataPoints.count + m.sum.dataPoints.count + m.histogram.dataPoints.count)
        note(.metrics, size: size, now: now, items: points)
    }

    mutating func note(_ s: Signal, size: Int, now: Double, items: Int = 1) {
        if counts[s] == 0 { firstAt[s] = now }
        counts[s] += items
        bytes[s] += size
    }

    func count(_ s: Signal) -> Int { counts[s] }
    func size(_ s: Signal) -> Int { bytes[s] }
    func age(_ s: Signal, now: Double) -> Double { count(s) == 0 ? 0 : now - (firstAt[s] ?? now) }

    /// The request for signal `s`, and the builder emptied of it.
    mutating func seal(_ s: Signal) -> Payload? {
        let n = count(s)
        guard n > 0 else { return nil }
        counts[s] = 0
        bytes[s] = 0
        let data: [UInt8]?
        switch s {
        case .traces:
            data = OTLPWire.traceRequest(spanGroups)
            spanGroups = []; spanGroupIndex = [:]; lastSpanGroup = -1
        case .logs:
            var req = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
            req.resourceLogs = logOrder.map { k in
                .with { $0.resource = logResources[k] ?? OTLPResource(); $0.scopeLogs = [.with { $0.scope = ollyScope; $0.logRecords = logs[k] ?? [] }] }
            }
            logs = [:]; logResources = [:]; logOrder = []
            data = try? req.serializedBytes()
        case .metrics:
            var req = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest()
            var groups: [[UInt8]: Int] = [:]
            for (m, r) in zip(metrics, metricResources) {
                let k = Self.key(r)
                if let i = groups[k] {
                    req.resourceMetrics[i].scopeMetrics[0].metrics.append(m)
                } else {
                    groups[k] = req.resourceMetrics.count
                    req.resourceMetrics.append(.with { $0.resource = r; $0.scopeMetrics = [.with { $0.scope = ollyScope; $0.metrics = [m] }] })
                }
            }
            metrics = []; metricResources = []
            data = try? req.serializedBytes()
        }
        // Serializing messages built from valid records cannot fail; if it did, the items
        // are reported by the caller as not exportable.
        guard let data else { return Payload(signal: s, items: n, protobuf: []) }
        return Payload(signal: s, items: n, protobuf: data)
    }
}
