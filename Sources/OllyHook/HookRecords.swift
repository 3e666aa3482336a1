import OllyNDJSON

/// Turns channel entries into `proc`, `conn` and `data` records of the same shape as the
/// eBPF source (DESIGN §3): a `proc` record the first time a process is seen (and again
/// when it forks or execs), `conn` open/close/existing with the role of the open
/// repeated on close, `data` with the per-direction offset the library assigned.
public struct HookRecordMaker {
    /// Reads /proc for a `proc` record; replaceable in tests.
    public var describe: (Int32) -> ProcRecord
    var seen = Set<Int32>()
    var conns: [Int64: (role: Role, family: Family)] = [:]
    public private(set) var capturedBytes: Int64 = 0
    public private(set) var gapBytes: Int64 = 0
    public private(set) var lastTS: Int64 = 0
    /// Processes described so far.
    public var procs: Int { seen.count }
    /// Connections open (announced and not closed).
    public var openConns: Int { conns.count }
    /// At most this many connections are remembered (the oldest are forgotten).
    public static let maxConns = 1 << 20

    public init(describe: @escaping (Int32) -> ProcRecord = { ProcReader.record(pid: $0) }) {
        self.describe = describe
    }

    public mutating func records(for entry: HookEntry, into out: inout [Record]) {
        switch entry {
        case .proc(let p):
            if p.ts > lastTS { lastTS = p.ts }
            if p.forked || !seen.contains(p.pid) {
                seen.insert(p.pid)
                var r = describe(p.pid)
                r.ts = p.ts
                r.pid = Int(p.pid)
                if r.ppid == nil { r.ppid = Int(p.ppid) }
                out.append(.proc(r))
            }
        case .conn(let c):
            if c.ts > lastTS { lastTS = c.ts }
            sawProcess(c.pid, ts: c.ts, into: &out)
            var r = ConnRecord()
            r.ts = c.ts
            r.cid = c.cid
            r.pid = Int(c.pid)
            r.tid = Int(c.tid)
            r.fd = Int(c.fd)
            switch c.event {
            case .open: r.ev = .open
            case .seen: r.ev = .existing
            case .close: r.ev = .close
            }
            if c.event == .close {
                let known = conns.removeValue(forKey: c.cid)
                r.role = known?.role ?? .unknown
                r.family = known?.family ?? .inet
            } else {
                r.role = c.role == 1 ? .client : c.role == 2 ? .server : .unknown
                r.family = c.family == 10 ? .inet6 : c.family == 1 ? .unix : .inet
                r.laddr = Address.string(family: c.family, addr: c.laddr, port: c.lport)
                let noPeer = c.raddr.allSatisfy { $0 == 0 } && c.rport == 0
                r.raddr = noPeer ? nil : Address.string(family: c.family, addr: c.raddr, port: c.rport)
                if conns.count >= Self.maxConns, let k = conns.keys.first { conns.removeValue(forKey: k) }
                conns[c.cid] = (r.role, r.family)
            }
            out.append(.conn(r))
        case .data(let d):
            noteData(pid: d.pid, ts: d.ts, len: d.len, captured: d.bytes.count, into: &out)
            out.append(.data(DataRecord(ts: d.ts, cid: d.cid, pid: Int(d.pid), tid: Int(d.tid),
                                        dir: d.inbound ? .in : .out, off: d.off, len: d.len,
                                        data: d.bytes, tls: d.tls)))
        }
    }

    /// What a data entry changes besides its own record (written by the caller): the time,
    /// the byte counts, and a `proc` record when its process was not seen yet.
    public mutating func noteData(pid: Int32, ts: Int64, len: Int64, captured: Int, into out: inout [Record]) {
        if ts > lastTS { lastTS = ts }
        sawProcess(pid, ts: ts, into: &out)
        capturedBytes += Int64(captured)
        gapBytes += len - Int64(captured)
    }

    mutating func sawProcess(_ pid: Int32, ts: Int64, into out: inout [Record]) {
        if seen.contains(pid) { return }
        seen.insert(pid)
        var r = describe(pid)
        r.ts = ts
        r.pid = Int(pid)
        out.append(.proc(r))
    }
}
