import COllySupport
import Foundation
import OllyCLI
import OllyNDJSON
import Synchronization

/// Everything olly-export needs to know, after the command line, the environment and the
/// config file are merged.
public struct ExportSettings: Sendable {
    /// Where requests go, each with the signals it takes and its request settings.
    public var targets: [Target] = []
    public var destinations: [Destination] { targets.map(\.destination) }
    public var batchSize = 512
    public var batchBytes = 4 << 20
    public var batchDelayMS = 1000
    public var spool: String?
    public var spoolMaxBytes = 1 << 30
    public var fileMaxBytes = 100 << 20
    public var red = true
    public var statsMetrics = true
    public var policy = DeliveryPolicy()
    public init() {}
}

/// The export stage: consumes span, log and metric records and sends them; passes every
/// other record on (stats records too, after forwarding them as metrics). Without any
/// destination it consumes nothing.
public struct ExportStage: Stage {
    let core: ExportCore?

    public init(settings: ExportSettings) throws {
        core = settings.destinations.isEmpty ? nil : try ExportCore(settings)
    }

    public mutating func process(_ record: Record, out: RecordWriter) throws(WriteFailure) -> Disposition {
        guard let core else { return .passThrough }
        let d = core.add(record)
        try core.drainInline(out)
        return d
    }

    public mutating func finish(out: RecordWriter) throws(WriteFailure) {
        try core?.finish(out)
    }

    public var counters: [(String, Int64)] { core?.counters.all ?? [] }
}

/// Batching and dispatch, shared by the reading thread and the timer thread.
final class ExportCore: @unchecked Sendable {
    let settings: ExportSettings
    let counters = ExportCounters()
    let warn = Warn()
    let state: Mutex<State>
    var deliverers: [Deliverer] = []
    let stdoutSink: Bool
    let treeSink: Bool
    let mainThread = pthread_self()
    var timer: Thread?
    let stopTimer = Mutex(false)

    /// The most recently seen span resources and their serialized forms, newest first
    /// (reading thread only): spans of a few processes interleave (a client and its server),
    /// so each resource is converted once, not at every change of process.
    var recentResources: [(fields: JSONFields, key: [UInt8])] = []
    static let recentResourceSlots = 16
    /// The span being encoded (reading thread only), reused.
    var spanWriter = ProtoWriter()

    func resourceBytes(_ fields: JSONFields) -> [UInt8] {
        // Readers hand out the same array for a repeated resource (DecodeCache): an entry
        // whose array shares its storage holds the same fields (the entry keeps that
        // storage alive and unchanged), so most lookups compare one address.
        let address = fields.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        for (i, r) in recentResources.enumerated() where r.fields.count == fields.count
            && ((address != nil && r.fields.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } == address)
                || zip(r.fields, fields).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 })) {
            if i > 0 { recentResources.swapAt(i, 0) }
            return r.key
        }
        let key = RequestBuilder.key(OTLPMap.resource(fields))
        if recentResources.count >= Self.recentResourceSlots { recentResources.removeLast() }
        recentResources.insert((fields, key), at: 0)
        return key
    }

    struct State {
        var builder = RequestBuilder()
        /// Requests for stdout, written by the reading thread.
        var inline: [Payload] = []
        var red = REDMetrics()
        var redEmittedAt: Int64 = 0
        var tree: TreeView
        var treeLines: [String] = []
        var warnings = 0
    }

    init(_ settings: ExportSettings) throws {
        self.settings = settings
        stdoutSink = settings.destinations.contains(.stdout)
        treeSink = settings.destinations.contains(.tree)
        state = Mutex(State(tree: TreeView(colour: olly_isatty(1) != 0)))
        var seen = Set<String>()
        for t in settings.targets {
            let d = t.destination
            // A target that takes only some signals is named (and spooled) apart.
            let name = t.signals.count == Signal.allCases.count ? d.name
                : d.name + " [" + Signal.allCases.filter { t.signals.contains($0) }.map(\.rawValue).joined(separator: ",") + "]"
            guard seen.insert(name).inserted else { continue }
            let sink: Sink
            switch d {
            case .grpc(let h, let p, let tls):
                sink = try GRPCSink(host: h, port: p, tls: tls, caFile: t.caFile, headers: t.headers, timeout: .seconds(t.timeout), gzip: t.gzip)
            case .http(let b, let j):
                sink = try HTTPSink(url: b, exact: false, json: j, caFile: t.caFile, headers: t.headers, timeout: .seconds(t.timeout), gzip: t.gzip)
            case .httpURL(let u, let j):
                sink = try HTTPSink(url: u, exact: true, json: j, caFile: t.caFile, headers: t.headers, timeout: .seconds(t.timeout), gzip: t.gzip)
            case .file(let dir):
                sink = try FileSink(dir: dir, maxBytes: settings.fileMaxBytes)
            case .stdout, .tree:
                continue
            }
            var spool: Spool?
            if let dir = settings.spool {
                spool = try Spool(dir: dir + "/" + Self.spoolName(name), maxBytes: settings.spoolMaxBytes)
            }
            deliverers.append(Deliverer(sink: sink, signals: t.signals, spool: spool, policy: settings.policy, counters: counters, warn: warn))
        }
        let t = Thread { [self] in self.tick() }
        t.name = "olly-export timer"
        timer = t
        t.start()
    }

    /// The spool folder of a destination: its name with every byte outside [A-Za-z0-9.-] as `_`.
    static func spoolName(_ s: String) -> String {
        String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "_" })
    }

    static func now() -> Double { Date().timeIntervalSinceReferenceDate }

    /// Seals batches older than the batch delay; forwards a signal to the reading thread
    /// (a signal taken by another thread would not interrupt its read).
    func tick() {
        var forwarded = false
        while !stopTimer.withLock({ $0 }) {
            usleep(20_000)
            let sig = olly_pending_signal()
            if sig != 0 && !forwarded {
                forwarded = true
                pthread_kill(mainThread, sig)
            }
            let now = Self.now()
            var ready: [Payload] = []
            state.withLock { st in
                for s in Signal.allCases where st.builder.age(s, now: now) * 1000 >= Double(settings.batchDelayMS) {
                    if let p = st.builder.seal(s) { ready.append(p) }
                }
            }
            for p in ready { dispatch(p) }
        }
    }

    func say(_ s: String) {
        let n = state.withLock { st -> Int in st.warnings += 1; return st.warnings }
        if n <= 100 { warn.say(s) }
    }

    func add(_ record: Record) -> Disposition {
        let now = Self.now()
        var ready: [Payload] = []
        let disposition: Disposition
        switch record {
        case .span(let s):
            counters.add("spans_in")
            do {
                try OTLPWire.span(s, into: &spanWriter)
                let resource = resourceBytes(s.resource)
                state.withLock { st in
                    st.builder.add(encodedSpan: spanWriter.bytes, resource: resource, now: now)
                    if settings.red {
                        st.red.add(s)
                        if st.redEmittedAt == 0 { st.redEmittedAt = s.end }
                        if s.end - st.redEmittedAt >= 60_000_000_000 {
                            st.redEmittedAt = s.end
                            for (r, m) in st.red.snapshot() { st.builder.add(metric: m, resource: OTLPMap.resource(r), size: 256, now: now) }
                        }
                    }
                    if treeSink { st.treeLines += st.tree.add(s) }
                    ready += sealFull(&st)
                }
            } catch {
                counters.add("unexportable")
                say("span \(s.spanID): not exported: \(error)")
            }
            disposition = .consumed
        case .log(let l):
            counters.add("logs_in")
            do {
                let (res, log) = try OTLPMap.log(l)
                state.withLock { st in
                    st.builder.add(log: log, resource: OTLPMap.resource(res), size: 64 + l.body.utf8.count + l.attrs.count * 40, now: now)
                    ready += sealFull(&st)
                }
            } catch {
                counters.add("unexportable")
                say("log at \(l.ts): not exported: \(error)")
            }
            disposition = .consumed
        case .metric(let m):
            counters.add("metrics_in")
            do {
                let metric = try OTLPMap.metric(m)
                state.withLock { st in
                    st.builder.add(metric: metric, resource: OTLPMap.resource([]), size: 96 + m.attrs.count * 40 + (m.counts?.count ?? 0) * 16, now: now)
                    ready += sealFull(&st)
                }
            } catch {
                counters.add("unexportable")
                say("metric \(m.name): not exported: \(error)")
            }
            disposition = .consumed
        case .stats(let st):
            counters.add("stats_in")
            if settings.statsMetrics {
                let ms = OTLPMap.statsMetrics(st)
                let res = OTLPMap.resource([("service.name", .string("olly"))])
                state.withLock { s in
                    for m in ms { s.builder.add(metric: m, resource: res, size: 128, now: now) }
                    ready += sealFull(&s)
                }
            }
            disposition = .passThrough
        default:
            disposition = .passThrough
        }
        for p in ready { dispatch(p) }
        return disposition
    }

    func sealFull(_ st: inout State) -> [Payload] {
        var out: [Payload] = []
        for s in Signal.allCases where st.builder.count(s) >= settings.batchSize || st.builder.size(s) >= settings.batchBytes {
            if let p = st.builder.seal(s) { out.append(p) }
        }
        return out
    }

    func dispatch(_ p: Payload) {
        guard !p.protobuf.isEmpty else {
            counters.add("unexportable", Int64(p.items))
            say("a request of \(p.items) \(p.signal.itemName) could not be encoded")
            return
        }
        for d in deliverers where d.signals.contains(p.signal) { d.submit(p) { olly_pending_signal() != 0 } }
        if stdoutSink { state.withLock { $0.inline.append(p) } }
    }

    /// Writes what stdout and tree have pending (reading thread only).
    func drainInline(_ out: RecordWriter) throws(WriteFailure) {
        guard stdoutSink || treeSink else { return }
        let (payloads, lines) = state.withLock { st -> ([Payload], [String]) in
            defer { st.inline.removeAll(); st.treeLines.removeAll() }
            return (st.inline, st.treeLines)
        }
        for p in payloads {
            guard let json = try? p.json() else { continue }
            try writeLine(json, out)
            counters.add("sent_batches")
            counters.add("sent_" + p.signal.itemName, Int64(p.items))
        }
        for l in lines {
            try writeLine(Array(l.utf8), out)
        }
    }

    func writeLine(_ bytes: [UInt8], _ out: RecordWriter) throws(WriteFailure) {
        var failure: WriteFailure?
        bytes.withUnsafeBytes { b in
            do throws(WriteFailure) { try out.writeRaw(b) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func finish(_ out: RecordWriter) throws(WriteFailure) {
        stopTimer.withLock { $0 = true }
        let now = Self.now()
        var ready: [Payload] = []
        state.withLock { st in
            if settings.red && !st.red.table.isEmpty {
                for (r, m) in st.red.snapshot() { st.builder.add(metric: m, resource: OTLPMap.resource(r), size: 256, now: now) }
            }
            for s in Signal.allCases { if let p = st.builder.seal(s) { ready.append(p) } }
            if treeSink { st.treeLines += st.tree.finish() }
        }
        for p in ready { dispatch(p) }
        for d in deliverers { d.beginClose(drain: settings.policy.drainSeconds) }
        for d in deliverers { d.waitClosed() }
        for d in deliverers {
            if let s = d.spool, !s.isEmpty {
                warn.say("\(d.sink.name): \(s.count) requests kept in \(s.dir) for the next run")
            }
        }
        try drainInline(out)
    }
}
