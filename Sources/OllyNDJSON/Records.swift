// The typed record model of DESIGN §3 / olly-records(7). Each record keeps the members it
// does not know in `extra`, in their order, and writes them back after its own.
// Optional members are omitted when nil (and collections when empty).

/// `proc`: a process seen by capture.
public struct ProcRecord: Equatable, Sendable {
    public var ts: Int64 = 0
    public var pid: Int = 0
    public var ppid: Int?
    public var comm: String?
    public var exe: String?
    public var cmdline: [String]?
    public var cgroup: String?
    public var containerID: String?
    /// Service name hint from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES.
    public var service: String?
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        a.ts == b.ts && a.pid == b.pid && a.ppid == b.ppid && a.comm == b.comm && a.exe == b.exe
            && a.cmdline == b.cmdline && a.cgroup == b.cgroup && a.containerID == b.containerID
            && a.service == b.service && fieldsEqual(a.extra, b.extra)
    }
}

/// `conn`: a connection opened, closed, or found existing when capture started.
public struct ConnRecord: Equatable, Sendable {
    public var ev: ConnEvent = .open
    public var ts: Int64 = 0
    public var cid: Int64 = 0
    public var pid: Int = 0
    public var tid: Int?
    public var fd: Int?
    public var role: Role = .unknown
    public var family: Family = .inet
    public var laddr: String?
    public var raddr: String?
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        a.ev == b.ev && a.ts == b.ts && a.cid == b.cid && a.pid == b.pid && a.tid == b.tid && a.fd == b.fd
            && a.role == b.role && a.family == b.family && a.laddr == b.laddr && a.raddr == b.raddr
            && fieldsEqual(a.extra, b.extra)
    }
}

/// `data`: bytes one socket call moved. `data.count < len` means the rest is a gap.
public struct DataRecord: Equatable, Sendable {
    public var ts: Int64 = 0
    public var cid: Int64 = 0
    public var pid: Int = 0
    public var tid: Int?
    public var dir: Direction = .out
    /// Offset of this chunk in its direction's stream.
    public var off: Int64 = 0
    /// Bytes the call moved.
    public var len: Int64 = 0
    /// Bytes captured (a prefix of the `len` bytes).
    public var data: [UInt8] = []
    /// Plaintext from a TLS library hook.
    public var tls: Bool = false
    public var extra: JSONFields = []
    public init() {}
    public init(ts: Int64, cid: Int64, pid: Int, tid: Int? = nil, dir: Direction, off: Int64, len: Int64? = nil, data: [UInt8], tls: Bool = false) {
        self.ts = ts; self.cid = cid; self.pid = pid; self.tid = tid; self.dir = dir; self.off = off
        self.len = len ?? Int64(data.count); self.data = data; self.tls = tls
    }
    public static func == (a: Self, b: Self) -> Bool {
        a.ts == b.ts && a.cid == b.cid && a.pid == b.pid && a.tid == b.tid && a.dir == b.dir && a.off == b.off
            && a.len == b.len && a.data == b.data && a.tls == b.tls && fieldsEqual(a.extra, b.extra)
    }
}

/// `log`: a log line; after stitch it may carry the trace context it happened in.
public struct LogRecord: Equatable, Sendable {
    public var ts: Int64 = 0
    public var pid: Int?
    public var tid: Int?
    public var source: String = ""
    public var body: String = ""
    public var severity: String?
    public var attrs: JSONFields = []
    public var traceID: String?
    public var spanID: String?
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        a.ts == b.ts && a.pid == b.pid && a.tid == b.tid && a.source == b.source && a.body == b.body
            && a.severity == b.severity && fieldsEqual(a.attrs, b.attrs) && a.traceID == b.traceID
            && a.spanID == b.spanID && fieldsEqual(a.extra, b.extra)
    }
}

/// One side (request or response) of an `exchange`.
public struct ExchangeMessage: Equatable, Sendable {
    public var ts: Int64 = 0
    public var end: Int64 = 0
    public var len: Int64 = 0
    public var data: [UInt8] = []
    /// Decoded header fields (HTTP/2), in wire order.
    public var headers: [(String, String)]?
    /// gRPC length-prefixed messages in `data` (gRPC exchanges).
    public var messages: Int64?
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        let h: Bool
        switch (a.headers, b.headers) {
        case (nil, nil): h = true
        case let (x?, y?): h = x.count == y.count && zip(x, y).allSatisfy { $0 == $1 }
        default: h = false
        }
        return h && a.ts == b.ts && a.end == b.end && a.len == b.len && a.data == b.data && a.messages == b.messages
            && fieldsEqual(a.extra, b.extra)
    }
}

/// `exchange`: a framed request and its response on one connection (or HTTP/2 stream).
public struct ExchangeRecord: Equatable, Sendable {
    public var proto: Proto = .unknown
    public var cid: Int64 = 0
    public var pid: Int?
    public var tid: Int?
    public var role: Role?
    public var laddr: String?
    public var raddr: String?
    public var req: ExchangeMessage?
    public var resp: ExchangeMessage?
    public var stream: Int64?
    public var flags: [String] = []
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        a.proto == b.proto && a.cid == b.cid && a.pid == b.pid && a.tid == b.tid && a.role == b.role
            && a.laddr == b.laddr && a.raddr == b.raddr && a.req == b.req && a.resp == b.resp
            && a.stream == b.stream && a.flags == b.flags && fieldsEqual(a.extra, b.extra)
    }
}

/// The `olly` member of a span: what stitching needs about where it was seen.
public struct SpanOrigin: Equatable, Sendable {
    public var cid: Int64?
    public var pid: Int?
    public var tid: Int?
    public var role: Role?
    public var laddr: String?
    public var raddr: String?
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        a.cid == b.cid && a.pid == b.pid && a.tid == b.tid && a.role == b.role && a.laddr == b.laddr
            && a.raddr == b.raddr && fieldsEqual(a.extra, b.extra)
    }
}

/// `span`: an OpenTelemetry span.
public struct SpanRecord: Equatable, Sendable {
    public var traceID: String = ""
    public var spanID: String = ""
    public var parentSpanID: String?
    public var name: String = ""
    public var spanKind: SpanKind = .internal
    public var start: Int64 = 0
    public var end: Int64 = 0
    public var status: SpanStatus = .unset
    public var statusMessage: String?
    public var attrs: JSONFields = []
    public var resource: JSONFields = []
    public var events: [JSONValue] = []
    public var links: [JSONValue] = []
    public var olly: SpanOrigin?
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        a.traceID == b.traceID && a.spanID == b.spanID && a.parentSpanID == b.parentSpanID && a.name == b.name
            && a.spanKind == b.spanKind && a.start == b.start && a.end == b.end && a.status == b.status
            && a.statusMessage == b.statusMessage && fieldsEqual(a.attrs, b.attrs)
            && fieldsEqual(a.resource, b.resource) && a.events == b.events && a.links == b.links
            && a.olly == b.olly && fieldsEqual(a.extra, b.extra)
    }
}

/// `metric`: one data point of a gauge, sum or histogram.
public struct MetricRecord: Equatable, Sendable {
    public var name: String = ""
    public var unit: String?
    public var type: MetricType = .gauge
    public var ts: Int64 = 0
    /// Start of the aggregation interval (sums and histograms).
    public var startTS: Int64?
    public var attrs: JSONFields = []
    /// The value of a gauge or sum.
    public var value: Double?
    /// Histogram: number of observations, their sum, bucket upper bounds and counts
    /// (`counts.count == bounds.count + 1`).
    public var count: Int64?
    public var sum: Double?
    public var bounds: [Double]?
    public var counts: [Int64]?
    public var extra: JSONFields = []
    public init() {}
    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.unit == b.unit && a.type == b.type && a.ts == b.ts && a.startTS == b.startTS
            && fieldsEqual(a.attrs, b.attrs) && a.value == b.value && a.count == b.count && a.sum == b.sum
            && a.bounds == b.bounds && a.counts == b.counts && fieldsEqual(a.extra, b.extra)
    }
}

/// `stats`: a stage's own counters.
public struct StatsRecord: Equatable, Sendable {
    /// The command that wrote it, e.g. `olly-parse`.
    public var stage: String = ""
    public var ts: Int64 = 0
    /// True for the record written at exit.
    public var final: Bool = false
    public var counters: [(String, Int64)] = []
    public var extra: JSONFields = []
    public init() {}
    public init(stage: String, ts: Int64, final: Bool, counters: [(String, Int64)]) {
        self.stage = stage; self.ts = ts; self.final = final; self.counters = counters
    }
    public static func == (a: Self, b: Self) -> Bool {
        a.stage == b.stage && a.ts == b.ts && a.final == b.final && a.counters.count == b.counters.count
            && zip(a.counters, b.counters).allSatisfy { $0 == $1 } && fieldsEqual(a.extra, b.extra)
    }
}

/// A record of a kind this library has no type for (`edge`, `profile`, or a future kind).
public struct OtherRecord: Equatable, Sendable {
    public var kind: String
    /// Its members other than `kind`, in order.
    public var fields: JSONFields
    public init(kind: String, fields: JSONFields) { self.kind = kind; self.fields = fields }
    public static func == (a: Self, b: Self) -> Bool { a.kind == b.kind && fieldsEqual(a.fields, b.fields) }
}

/// Any record. Every kind but `data` is boxed (`indirect`), so a `Record` is the size of
/// a `DataRecord` and the frequent data records move without a heap box or a large copy.
public enum Record: Equatable, Sendable {
    indirect case proc(ProcRecord)
    indirect case conn(ConnRecord)
    case data(DataRecord)
    indirect case log(LogRecord)
    indirect case exchange(ExchangeRecord)
    indirect case span(SpanRecord)
    indirect case metric(MetricRecord)
    indirect case stats(StatsRecord)
    indirect case other(OtherRecord)

    public var kind: String {
        switch self {
        case .proc: "proc"
        case .conn: "conn"
        case .data: "data"
        case .log: "log"
        case .exchange: "exchange"
        case .span: "span"
        case .metric: "metric"
        case .stats: "stats"
        case .other(let o): o.kind
        }
    }
}
