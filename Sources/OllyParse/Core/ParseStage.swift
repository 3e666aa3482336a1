import OllyCLI
import OllyNDJSON

/// Options of olly-parse.
public struct ParseOptions: Sendable {
    /// Replace SQL literals and Redis arguments by `?` (credentials are always redacted).
    public var redact = true
    /// `host.name` of every span's resource.
    public var hostName: String?
    /// Processes remembered for resources (oldest forgotten first).
    public var maxProcesses = 65536
    /// Connections whose protocol state (prepared statements, selected database) is kept.
    public var maxConnections = 65536

    public init(redact: Bool = true, hostName: String? = nil) {
        self.redact = redact
        self.hostName = hostName
    }
}

/// olly-parse: `exchange` records in, `span` records out (DESIGN §4 Parse). `proc` records
/// are remembered for span resources and passed on; every other record passes through.
public struct ParseStage: Stage {
    let options: ParseOptions
    var procs: [Int: ProcRecord] = [:]
    var procOrder: [Int] = []
    /// Resource attributes per pid (and for exchanges without one, key -1), built once and
    /// dropped whenever a `proc` record of that pid arrives or the pid is evicted.
    var resources: [Int: JSONFields] = [:]
    var postgres: [Int64: PostgresState] = [:]
    var redis: [Int64: RedisState] = [:]
    var mysql: [Int64: MySQLState] = [:]
    var connOrder: [Int64] = []
    let sql: SQLCache
    var spans: Int64 = 0
    var setupExchanges: Int64 = 0
    var malformed: Int64 = 0
    var unsupported: Int64 = 0
    var evictedProcs: Int64 = 0
    var evictedConns: Int64 = 0

    public init(options: ParseOptions = ParseOptions()) {
        self.options = options
        sql = SQLCache(redact: options.redact)
    }

    public var counters: [(String, Int64)] {
        [("spans", spans), ("setup_exchanges", setupExchanges), ("malformed_exchanges", malformed),
         ("unsupported_exchanges", unsupported), ("evicted_procs", evictedProcs), ("evicted_conns", evictedConns)]
    }

    public mutating func process(_ record: Record, out: RecordWriter) throws(WriteFailure) -> Disposition {
        switch record {
        case .proc(let p):
            if procs[p.pid] == nil {
                procOrder.append(p.pid)
                if procOrder.count > options.maxProcesses {
                    let old = procOrder.removeFirst()
                    procs[old] = nil
                    resources[old] = nil
                    evictedProcs += 1
                }
            }
            procs[p.pid] = p
            resources[p.pid] = nil
            return .passThrough
        case .conn(let c) where c.ev == .close:
            postgres[c.cid] = nil
            redis[c.cid] = nil
            mysql[c.cid] = nil
            return .passThrough
        case .exchange(let ex):
            if let span = makeSpan(ex) {
                spans += 1
                try out.write(.span(span))
            } else {
                setupExchanges += 1
            }
            return .consumed
        default:
            return .passThrough
        }
    }

    public mutating func finish(out: RecordWriter) throws(WriteFailure) {}

    mutating func remember(_ cid: Int64) {
        if postgres[cid] == nil && redis[cid] == nil && mysql[cid] == nil {
            connOrder.append(cid)
            if connOrder.count > options.maxConnections {
                let old = connOrder.removeFirst()
                postgres[old] = nil
                redis[old] = nil
                mysql[old] = nil
                evictedConns += 1
            }
        }
    }

    /// The span for one exchange, or nil for connection-setup exchanges (counted).
    public mutating func makeSpan(_ ex: ExchangeRecord) -> SpanRecord? {
        let role = ex.role ?? .unknown
        let c = ExchangeContext(exchange: ex, role: role, redact: options.redact, sql: sql)
        let tls = ex.flags.contains("tls")
        var draft: SpanDraft
        switch ex.proto {
        case .http1: draft = HTTPParser.http1(c, tls: tls)
        case .http2, .grpc: draft = HTTPParser.http2(c, tls: tls)
        case .postgres:
            remember(ex.cid)
            var st = postgres[ex.cid] ?? PostgresState()
            let d = PostgresParser.parse(c, &st)
            postgres[ex.cid] = st
            guard let d else { return nil }
            draft = d
        case .redis:
            remember(ex.cid)
            var st = redis[ex.cid] ?? RedisState()
            draft = RedisParser.parse(c, &st)
            redis[ex.cid] = st
        case .dns: draft = DNSParser.parse(c)
        case .mysql:
            remember(ex.cid)
            var st = mysql[ex.cid] ?? MySQLState()
            let d = MySQLParser.parse(c, &st)
            mysql[ex.cid] = st
            guard let d else { return nil }
            draft = d
        case .mongodb: draft = MongoParser.parse(c)
        case .unknown:
            unsupported += 1
            draft = SpanDraft(name: ex.proto.rawValue)
            addPeer(&draft, c)
            draft.set("olly.parse.unsupported", true)
        }
        if draft.malformed { malformed += 1 }
        let key = ex.pid ?? -1
        let res: JSONFields
        if let r = resources[key] {
            res = r
        } else {
            res = resource(ex.pid)
            if resources.count >= options.maxProcesses + 1 { resources.removeAll(keepingCapacity: true) }
            resources[key] = res
        }
        return span(from: draft, ex, role: role, resource: res)
    }

    func span(from d: SpanDraft, _ ex: ExchangeRecord, role: Role, resource res: JSONFields) -> SpanRecord {
        var s = SpanRecord()
        let start = ex.req?.ts ?? ex.resp?.ts ?? 0
        let end = ex.resp?.end ?? ex.req?.end ?? start
        let idParts: [Int64] = [ex.cid, ex.stream ?? -1, start, ex.req?.end ?? -1, Int64(role == .server ? 1 : 2)]
        s.spanKind = role == .server ? .server : .client
        if let tp = d.traceParent {
            s.traceID = tp.traceID
            if role == .server {
                s.parentSpanID = tp.parentID
                s.spanID = SpanIDs.spanID(idParts)
            } else {
                // The client made the call that carried this parent-id: it is this span's id.
                s.spanID = tp.parentID
            }
        } else {
            s.traceID = SpanIDs.traceID(idParts)
            s.spanID = SpanIDs.spanID(idParts)
        }
        s.name = d.name
        s.start = start
        s.end = max(end, start)
        s.status = d.error ? .error : .unset
        s.statusMessage = d.error ? d.statusMessage : nil
        s.attrs = d.attrs
        if !ex.flags.isEmpty {
            if ex.flags.contains("gap") { s.attrs.append(("olly.capture.gap", .bool(true))) }
            if ex.flags.contains("truncated") { s.attrs.append(("olly.capture.truncated", .bool(true))) }
        }
        if d.malformed { s.attrs.append(("olly.parse.malformed", .bool(true))) }
        if !ex.flags.isEmpty { s.attrs.append(("olly.exchange.flags", .array(ex.flags.map { .string($0) }))) }
        s.resource = res
        var o = SpanOrigin()
        o.cid = ex.cid
        o.pid = ex.pid
        o.tid = ex.tid
        o.role = ex.role
        o.laddr = ex.laddr
        o.raddr = ex.raddr
        s.olly = o
        if let ts = d.traceState { s.extra.append(("trace_state", .string(ts))) }
        return s
    }

    /// Resource attributes from the `proc` record of the process (semantic conventions:
    /// service, process, host, container).
    func resource(_ pid: Int?) -> JSONFields {
        var r: JSONFields = []
        let p = pid.flatMap { procs[$0] }
        let exeName = p?.exe.flatMap { $0.split(separator: "/").last.map(String.init) } ?? p?.comm
        r.append(("service.name", .string(p?.service ?? exeName.map { $0 } ?? "unknown_service")))
        if let pid { r.append(("process.pid", .int(Int64(pid)))) }
        if let exeName { r.append(("process.executable.name", .string(exeName))) }
        if let exe = p?.exe { r.append(("process.executable.path", .string(exe))) }
        if let cmd = p?.cmdline, !cmd.isEmpty { r.append(("process.command_args", .array(cmd.map { .string($0) }))) }
        if let h = options.hostName { r.append(("host.name", .string(h))) }
        if let c = p?.containerID { r.append(("container.id", .string(c))) }
        return r
    }
}
