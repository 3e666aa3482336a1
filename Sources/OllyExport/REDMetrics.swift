import OllyNDJSON

/// Rate, errors and duration of spans, by service, span name, kind and status, as
/// cumulative OTLP metrics (the names and attributes of the collector's spanmetrics
/// connector): `traces.span.metrics.calls`, `traces.span.metrics.errors` and the
/// histogram `traces.span.metrics.duration` in seconds.
struct REDMetrics {
    struct Key: Hashable {
        var service: String
        var name: String
        var kind: SpanKind
        var status: SpanStatus
    }
    struct Value {
        var calls: Int64 = 0
        var errors: Int64 = 0
        var sum: Double = 0
        var counts: [Int64]
    }

    static let bounds: [Double] = [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15]
    var table: [Key: Value] = [:]
    var order: [Key] = []
    var start: Int64 = 0
    var latest: Int64 = 0
    /// Bound on distinct series; spans beyond it are counted in `overflow`.
    let maxSeries = 10_000
    var overflow: Int64 = 0

    mutating func add(_ s: SpanRecord) {
        var service = "unknown_service"
        for (k, v) in s.resource where k == "service.name" { if let n = v.stringValue { service = n } }
        let key = Key(service: service, name: s.name, kind: s.spanKind, status: s.status)
        if table[key] == nil {
            guard table.count < maxSeries else { overflow += 1; return }
            table[key] = Value(counts: Array(repeating: 0, count: Self.bounds.count + 1))
            order.append(key)
        }
        let d = Double(max(0, s.end - s.start)) / 1e9
        let bucket = Self.bounds.firstIndex { d <= $0 } ?? Self.bounds.count
        table[key]?.calls += 1
        if s.status == .error { table[key]?.errors += 1 }
        table[key]?.sum += d
        table[key]?.counts[bucket] += 1
        if start == 0 || s.start < start { start = s.start }
        if s.end > latest { latest = s.end }
    }

    static func kindName(_ k: SpanKind) -> String {
        switch k {
        case .server: "SPAN_KIND_SERVER"
        case .client: "SPAN_KIND_CLIENT"
        case .internal: "SPAN_KIND_INTERNAL"
        case .producer: "SPAN_KIND_PRODUCER"
        case .consumer: "SPAN_KIND_CONSUMER"
        }
    }

    static func statusName(_ s: SpanStatus) -> String {
        switch s {
        case .unset: "STATUS_CODE_UNSET"
        case .ok: "STATUS_CODE_OK"
        case .error: "STATUS_CODE_ERROR"
        }
    }

    /// The current totals, one (resource, metric) per service and instrument.
    func snapshot() -> [(JSONFields, OTLPMetric)] {
        var services: [String] = []
        var byService: [String: [Key]] = [:]
        for k in order {
            if byService[k.service] == nil { services.append(k.service) }
            byService[k.service, default: []].append(k)
        }
        var out: [(JSONFields, OTLPMetric)] = []
        let ts = UInt64(clamping: latest)
        let st = UInt64(clamping: start)
        for svc in services {
            let keys = byService[svc] ?? []
            func attrs(_ k: Key) -> [OTLPKeyValue] {
                OTLPMap.attributes([("service.name", .string(k.service)), ("span.name", .string(k.name)),
                                    ("span.kind", .string(Self.kindName(k.kind))), ("status.code", .string(Self.statusName(k.status)))])
            }
            let resource: JSONFields = [("service.name", .string(svc))]
            let calls = OTLPMetric.with {
                $0.name = "traces.span.metrics.calls"
                $0.unit = "{call}"
                $0.sum = .with {
                    $0.aggregationTemporality = .cumulative
                    $0.isMonotonic = true
                    $0.dataPoints = keys.map { k in .with { $0.attributes = attrs(k); $0.startTimeUnixNano = st; $0.timeUnixNano = ts; $0.asInt = table[k]?.calls ?? 0 } }
                }
            }
            let errors = OTLPMetric.with {
                $0.name = "traces.span.metrics.errors"
                $0.unit = "{call}"
                $0.sum = .with {
                    $0.aggregationTemporality = .cumulative
                    $0.isMonotonic = true
                    $0.dataPoints = keys.map { k in .with { $0.attributes = attrs(k); $0.startTimeUnixNano = st; $0.timeUnixNano = ts; $0.asInt = table[k]?.errors ?? 0 } }
                }
            }
            let duration = OTLPMetric.with {
                $0.name = "traces.span.metrics.duration"
                $0.unit = "s"
                $0.histogram = .with {
                    $0.aggregationTemporality = .cumulative
                    $0.dataPoints = keys.map { k in
                        .with {
                            let v = table[k]
                            $0.attributes = attrs(k)
                            $0.startTimeUnixNano = st
                            $0.timeUnixNano = ts
                            $0.count = UInt64(clamping: v?.calls ?? 0)
                            $0.sum = v?.sum ?? 0
                            $0.explicitBounds = Self.bounds
                            $0.bucketCounts = (v?.counts ?? []).map { UInt64(clamping: $0) }
                        }
                    }
                }
            }
            out.append((resource, calls))
            out.append((resource, errors))
            out.append((resource, duration))
        }
        return out
    }
}
