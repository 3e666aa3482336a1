import OllyNDJSON

/// Bytes of a record held before the protocol of its connection is known.
struct PreChunk {
    var dir: Direction
    var bytes: [UInt8]
    var gapBefore: Int64
    var gapAfter: Int64
    var ts: Int64
    var pid: Int
    var tid: Int?
}

/// Per direction of a connection: stream order.
struct DirState {
    /// The next stream offset expected; nil until the first record.
    var expected: Int64?
    /// Records that arrived ahead of `expected`, sorted by `off`.
    var held: [DataRecord] = []
}

/// One connection of the table.
final class Connection {
    let cid: Int64
    var pid: Int
    var tid: Int?
    var role: Role = .unknown
    var laddr: String?
    var raddr: String?
    var lastTS: Int64
    /// Indexed by `Direction` (out 0, in 1).
    var dirs = [DirState(), DirState()]
    var opened = false
    /// The offset of the first record of each direction.
    var startOffsets: [Int64] = [0, 0]
    var session: (any Session)?
    var pre: [PreChunk] = []
    var preBytes = [0, 0]
    var requestDir: Direction = .out
    var sides = [SideStream(), SideStream()]
    /// Plaintext from a TLS library hook (`tls: true`) came: the connection is reassembled
    /// from those records only, and its socket records (handshake, alerts) are skipped.
    var tls = false

    init(cid: Int64, pid: Int, ts: Int64) {
        self.cid = cid; self.pid = pid; self.lastTS = ts
    }

    func side(of dir: Direction) -> Side { dir == requestDir ? .request : .response }
    var bufferedBytes: Int { sides[0].count + sides[1].count + preBytes[0] + preBytes[1] }
}

extension Direction {
    var index: Int { self == .out ? 0 : 1 }
}

/// The reassembly engine: a connection table keyed by `cid`, stream order per direction,
/// protocol detection, framing and pairing by the protocol sessions, limits. It consumes
/// `conn` and `data` records and produces `exchange` records; output depends only on the
/// input (record times, never the clock).
public struct Reassembler {
    public let limits: Limits
    public let overrides: [Int: Proto]
    public private(set) var counters = Counters()
    var table: [Int64: Connection] = [:]
    var emitter = Emitter()
    var maxTS: Int64 = 0
    var nextIdleCheck: Int64 = Int64.min

    public init(limits: Limits = Limits(), overrides: [Int: Proto] = [:]) {
        self.limits = limits
        self.overrides = overrides
    }

    /// Handles one record; returns true when it was consumed (else the caller passes it
    /// through). Exchanges made are appended to `out`.
    public mutating func process(_ record: Record, _ out: inout [Record]) -> Bool {
        switch record {
        case .conn(let c):
            advance(c.ts, except: c.cid, &out)
            connRecord(c, &out)
            return true
        case .data(let d):
            advance(d.ts, except: d.cid, &out)
            dataRecord(d, &out)
            return true
        default:
            return false
        }
    }

    /// End of input: every connection is flushed, in `cid` order.
    public mutating func finish(_ out: inout [Record]) {
        for cid in table.keys.sorted() {
            if let c = table.removeValue(forKey: cid) { close(c, &out) }
        }
    }

    public var openConnections: Int { table.count }

    // MARK: - Records

    mutating func connection(_ cid: Int64, pid: Int, ts: Int64, _ out: inout [Record]) -> Connection {
        if let c = table[cid] { return c }
        if table.count >= limits.maxConns { evictOldest(&out) }
        let c = Connection(cid: cid, pid: pid, ts: ts)
        table[cid] = c
        counters.conns += 1
        return c
    }

    mutating func connRecord(_ r: ConnRecord, _ out: inout [Record]) {
        if r.ev == .close {
            guard let c = table.removeValue(forKey: r.cid) else { return }
            c.lastTS = max(c.lastTS, r.ts)
            close(c, &out)
            return
        }
        let c = connection(r.cid, pid: r.pid, ts: r.ts, &out)
        c.pid = r.pid
        c.tid = r.tid ?? c.tid
        c.role = r.role
        c.laddr = r.laddr ?? c.laddr
        c.raddr = r.raddr ?? c.raddr
        c.lastTS = max(c.lastTS, r.ts)
        if r.ev == .open && c.dirs[0].expected == nil && c.dirs[1].expected == nil {
            c.opened = true
            c.dirs[0].expected = 0
            c.dirs[1].expected = 0
        }
    }

    mutating func dataRecord(_ d: DataRecord, _ out: inout [Record]) {
        let c = connection(d.cid, pid: d.pid, ts: d.ts, &out)
        c.lastTS = max(c.lastTS, d.ts)
        if d.tls != c.tls {
            if !d.tls {
                // Ciphertext beside the plaintext of the same connection.
                counters.skippedBytes += d.len
                return
            }
            startPlaintext(c, &out)
        }
        let di = d.dir.index
        if c.dirs[di].expected == nil {
            c.dirs[di].expected = d.off
            c.startOffsets[di] = d.off
            if d.off > 0 { startMidstream(c, d.dir) }
        }
        guard let expected = c.dirs[di].expected else { return }
        if d.off > expected {
            let i = c.dirs[di].held.firstIndex { $0.off > d.off } ?? c.dirs[di].held.count
            c.dirs[di].held.insert(d, at: i)
            counters.reordered += 1
        } else {
            inOrder(c, d, &out)
        }
        drainHeld(c, d.dir, force: false, &out)
        enforceBufferLimit(c, &out)
        flush(c, &out)
    }

    /// Delivers held records that are now in order; with `force` (or past the window), the
    /// bytes missing before the first held record become a gap.
    mutating func drainHeld(_ c: Connection, _ dir: Direction, force: Bool, _ out: inout [Record]) {
        let di = dir.index
        while let h = c.dirs[di].held.first, let expected = c.dirs[di].expected {
            if h.off <= expected {
                c.dirs[di].held.removeFirst()
                inOrder(c, h, &out)
            } else if force || c.dirs[di].held.count > limits.reorderWindow {
                c.dirs[di].held.removeFirst()
                deliver(c, dir, gapBefore: h.off - expected, h, &out)
            } else {
                break
            }
        }
    }

    /// A record at or before the expected offset: the part already seen is dropped.
    mutating func inOrder(_ c: Connection, _ d: DataRecord, _ out: inout [Record]) {
        let di = d.dir.index
        guard let expected = c.dirs[di].expected else { return }
        if d.off == expected {
            deliver(c, d.dir, gapBefore: 0, d, &out)
            return
        }
        let seen = expected - d.off
        if seen >= d.len {
            counters.duplicateBytes += d.len
            return
        }
        counters.duplicateBytes += seen
        var t = d
        let dropCaptured = Int(min(seen, Int64(d.data.count)))
        t.data = Array(d.data[dropCaptured...])
        t.off = expected
        t.len = d.len - seen
        deliver(c, d.dir, gapBefore: 0, t, &out)
    }

    /// The first plaintext record of a TLS connection: what came before on the socket was
    /// the TLS handshake, not the application's bytes. It is dropped (counted in
    /// `skipped_bytes`; a session already decided on it is flushed first), and the
    /// plaintext streams start afresh, at offset 0 when the connection was seen opening.
    mutating func startPlaintext(_ c: Connection, _ out: inout [Record]) {
        if var s = c.session {
            c.session = nil
            s.close(&emitter, &counters)
            flush(c, &out)
        }
        var dropped = Int64(c.preBytes[0] + c.preBytes[1] + c.sides[0].count + c.sides[1].count)
        for d in c.dirs { for h in d.held { dropped += Int64(h.data.count) } }
        counters.skippedBytes += dropped
        c.tls = true
        c.pre = []
        c.preBytes = [0, 0]
        c.sides = [SideStream(), SideStream()]
        c.dirs = [DirState(), DirState()]
        c.startOffsets = [0, 0]
        if c.opened {
            c.dirs[0].expected = 0
            c.dirs[1].expected = 0
        }
    }

    mutating func startMidstream(_ c: Connection, _ dir: Direction) {
        if c.session != nil { c.sides[c.side(of: dir).rawValue].resync = true }
    }

    // MARK: - Bytes in stream order

    mutating func deliver(_ c: Connection, _ dir: Direction, gapBefore: Int64, _ d: DataRecord, _ out: inout [Record]) {
        let di = dir.index
        c.dirs[di].expected = d.off + d.len
        let gapAfter = d.len - Int64(d.data.count)
        if c.session == nil {
            c.pre.append(PreChunk(dir: dir, bytes: d.data, gapBefore: gapBefore, gapAfter: gapAfter, ts: d.ts, pid: d.pid, tid: d.tid))
            c.preBytes[di] += d.data.count
            decide(c, force: false, &out)
            return
        }
        feed(c, dir, gapBefore: gapBefore, d.data, gapAfter: gapAfter, ts: d.ts, pid: d.pid, tid: d.tid, &out)
    }

    mutating func feed(_ c: Connection, _ dir: Direction, gapBefore: Int64, _ bytes: [UInt8], gapAfter: Int64,
                       ts: Int64, pid: Int, tid: Int?, _ out: inout [Record]) {
        // No copy of the session is held here: `pump` and `toSession` take it out of the
        // connection to mutate it, and a second reference would make them copy it.
        guard let isDatagram = c.session?.datagram else { return }
        let side = c.side(of: dir)
        if isDatagram {
            datagram(c, side, bytes, gap: gapBefore + gapAfter, ts: ts, pid: pid, tid: tid)
            return
        }
        if gapBefore > 0 { gap(c, side, gapBefore) }
        bytes.withUnsafeBufferPointer { b in
            var rest = b
            let s = side.rawValue
            if c.sides[s].skipHead != nil {
                let n = Int(min(Int64(rest.count), c.sides[s].skipRemaining))
                c.sides[s].skipHead?.len += Int64(n)
                c.sides[s].skipHead?.end = ts
                c.sides[s].base += Int64(n)
                c.sides[s].lastTS = ts
                if c.sides[s].skipRemaining != Int64.max { c.sides[s].skipRemaining -= Int64(n) }
                rest = UnsafeBufferPointer(rebasing: rest[n...])
                if c.sides[s].skipRemaining == 0, let head = c.sides[s].skipHead {
                    c.sides[s].skipHead = nil
                    toSession(c, side, head)
                }
            }
            if !rest.isEmpty || c.sides[s].skipHead == nil {
                let used = rest.isEmpty ? 0 : direct(c, side, rest, ts: ts, pid: pid, tid: tid)
                if used < rest.count {
                    c.sides[s].append(UnsafeBufferPointer(rebasing: rest[used...]), ts: ts, pid: pid, tid: tid)
                    pump(c, side)
                }
            }
        }
        if gapAfter > 0 { gap(c, side, gapAfter) }
    }

    mutating func toSession(_ c: Connection, _ side: Side, _ m: Message) {
        guard var s = c.session else { return }
        c.session = nil
        s.message(side, m, &emitter, limits, &counters)
        c.session = s
    }

    /// Frames what is buffered on one side, as far as it goes. The session is moved out of
    /// the connection for the whole loop and put back at the end: while it is out it has a
    /// single reference, so mutating it never copies it (a session holds tables — HTTP/2
    /// streams and HPACK state — whose copy on every frame would cost more than the framing).
    mutating func pump(_ c: Connection, _ side: Side) {
        let s = side.rawValue
        guard var session = c.session else { return }
        c.session = nil
        defer { c.session = session }
        while c.sides[s].skipHead == nil {
            if c.sides[s].resync {
                guard c.sides[s].count > 0 else { return }
                let at = c.sides[s].withBytes { session.boundary(side, $0, from: 0) }
                let drop = at ?? c.sides[s].count
                counters.skippedBytes += Int64(drop)
                c.sides[s].consume(drop)
                if at == nil { return }
                c.sides[s].resync = false
            }
            let n = c.sides[s].count
            if n == 0 || n < c.sides[s].needAtLeast || c.sides[s].untilClose { return }
            let f = c.sides[s].withBytes { session.frame(side, $0) }
            switch f {
            case .complete(let k):
                let k = min(max(k, 1), n)
                if c.sides[s].whole(k) {
                    // Handed over in place: the session copies only what it keeps.
                    let m = c.sides[s].head(k)
                    c.sides[s].withBytes { b in
                        session.message(side, m, bytes: UnsafeBufferPointer(rebasing: b[0..<k]), &emitter, limits, &counters)
                    }
                    c.sides[s].consume(k)
                } else {
                    let m = c.sides[s].message(k)
                    c.sides[s].consume(k)
                    session.message(side, m, &emitter, limits, &counters)
                }
            case .skip(let k):
                let k = min(max(k, 1), n)
                counters.skippedBytes += Int64(k)
                c.sides[s].consume(k)
            case .needMore(let atLeast, let exact):
                c.sides[s].needAtLeast = max(atLeast, n + 1)
                c.sides[s].exactTotal = exact ? atLeast : nil
                return
            case .untilClose:
                c.sides[s].untilClose = true
                return
            case .invalid:
                counters.malformed += 1
                counters.skippedBytes += 1
                c.sides[s].consume(1)
                c.sides[s].resync = true
            }
        }
    }

    /// Frames a record's bytes in place while nothing is buffered on its side, as `pump`
    /// would after appending them, and stops at the first outcome other than a whole message
    /// or bytes to skip: a message needing more bytes, or one that runs until the close, keeps
    /// the rest buffered here; after an invalid message the rest is left to `pump`, to
    /// resynchronise. Returns how many bytes it took; what it leaves is appended and pumped.
    mutating func direct(_ c: Connection, _ side: Side, _ b: Bytes, ts: Int64, pid: Int, tid: Int?) -> Int {
        let s = side.rawValue
        guard c.sides[s].count == 0, c.sides[s].needAtLeast == 0, c.sides[s].holes.isEmpty, !c.sides[s].resync,
              !c.sides[s].untilClose, c.sides[s].skipHead == nil, var session = c.session else { return 0 }
        c.session = nil
        defer { c.session = session }
        var used = 0
        var m = Message()
        m.ts = ts
        m.end = ts
        m.pid = pid
        m.tid = tid
        while used < b.count {
            let rest = UnsafeBufferPointer(rebasing: b[used...])
            switch session.frame(side, rest) {
            case .complete(let k):
                let k = min(max(k, 1), rest.count)
                m.len = Int64(k)
                session.message(side, m, bytes: UnsafeBufferPointer(rebasing: rest[0..<k]), &emitter, limits, &counters)
                used += k
            case .skip(let k):
                let k = min(max(k, 1), rest.count)
                counters.skippedBytes += Int64(k)
                used += k
            case .needMore(let atLeast, let exact):
                c.sides[s].passed(used, ts: ts, pid: pid, tid: tid)
                c.sides[s].append(rest, ts: ts, pid: pid, tid: tid)
                c.sides[s].needAtLeast = max(atLeast, rest.count + 1)
                c.sides[s].exactTotal = exact ? atLeast : nil
                return b.count
            case .untilClose:
                c.sides[s].passed(used, ts: ts, pid: pid, tid: tid)
                c.sides[s].append(rest, ts: ts, pid: pid, tid: tid)
                c.sides[s].untilClose = true
                return b.count
            case .invalid:
                counters.malformed += 1
                counters.skippedBytes += 1
                used += 1
                c.sides[s].passed(used, ts: ts, pid: pid, tid: tid)
                c.sides[s].resync = true
                return used
            }
        }
        c.sides[s].passed(used, ts: ts, pid: pid, tid: tid)
        return used
    }

    /// `n` bytes of `side` were not captured.
    mutating func gap(_ c: Connection, _ side: Side, _ n: Int64) {
        counters.gaps += 1
        counters.gapBytes += n
        let s = side.rawValue
        var n = n
        if c.sides[s].skipHead != nil {
            c.sides[s].skipHead?.gap = true
            if c.sides[s].skipRemaining == Int64.max {
                c.sides[s].skipHead?.len += n
                c.sides[s].base += n
                return
            }
            let k = min(n, c.sides[s].skipRemaining)
            c.sides[s].skipHead?.len += k
            c.sides[s].base += k
            c.sides[s].skipRemaining -= k
            n -= k
            if c.sides[s].skipRemaining == 0, let head = c.sides[s].skipHead {
                c.sides[s].skipHead = nil
                toSession(c, side, head)
            }
            if n == 0 { return }
        }
        let count = c.sides[s].count
        let lastTS = c.sides[s].lastTS
        if count > 0 && !c.sides[s].resync {
            let fits = Int64(count) + n <= Int64(limits.maxBufferBytes / 2)
            if let total = c.sides[s].exactTotal, Int64(count) + n <= Int64(total), fits {
                c.sides[s].appendHole(Int(n), ts: lastTS)
                pump(c, side)
                return
            }
            if c.sides[s].untilClose && fits {
                c.sides[s].appendHole(Int(n), ts: lastTS)
                return
            }
            var m = c.sides[s].message(count)
            m.gap = true
            m.truncated = true
            counters.truncated += 1
            c.sides[s].reset(to: c.sides[s].base + Int64(count) + n)
            c.sides[s].resync = true
            toSession(c, side, m)
            lost(c, side, partial: true, lastTS: lastTS)
        } else {
            if c.sides[s].resync { counters.skippedBytes += Int64(count) }
            c.sides[s].reset(to: c.sides[s].base + Int64(count) + n)
            c.sides[s].resync = true
            lost(c, side, partial: false, lastTS: lastTS)
        }
    }

    mutating func lost(_ c: Connection, _ side: Side, partial: Bool, lastTS: Int64) {
        guard var s = c.session else { return }
        c.session = nil
        s.lost(side, partial: partial, lastTS: lastTS, &emitter, limits, &counters)
        c.session = s
    }

    /// A datagram is one message.
    mutating func datagram(_ c: Connection, _ side: Side, _ bytes: [UInt8], gap: Int64, ts: Int64, pid: Int, tid: Int?) {
        guard var session = c.session else { return }
        var m = Message(data: bytes, ts: ts, end: ts)
        m.len = Int64(bytes.count) + gap
        m.pid = pid
        m.tid = tid
        if gap > 0 {
            m.gap = true
            m.truncated = true
            counters.gaps += 1
            counters.gapBytes += gap
            counters.truncated += 1
        }
        c.session = nil
        let f = bytes.withUnsafeBufferPointer { session.frame(side, $0) }
        switch f {
        case .complete(let k) where k == bytes.count:
            session.message(side, m, &emitter, limits, &counters)
        case .needMore where gap > 0:
            session.message(side, m, &emitter, limits, &counters)
        default:
            counters.malformed += 1
            emitter.emit(Exchange(proto: session.proto, req: side == .request ? m : nil, resp: side == .response ? m : nil,
                                  flags: Flag.merge([Flag.malformed], m)))
        }
        c.session = session
    }

    // MARK: - Detection

    /// Picks the protocol once the first bytes say enough (or `force`: the connection ends
    /// or the detection budget is spent), then replays the held bytes through its session.
    mutating func decide(_ c: Connection, force: Bool, _ out: inout [Record]) {
        guard c.session == nil, let first = c.pre.first else { return }
        func prefix(_ dir: Direction) -> [UInt8] {
            var b: [UInt8] = []
            for p in c.pre where p.dir == dir {
                if p.gapBefore > 0 && !b.isEmpty { break }
                b += p.bytes
                if p.gapAfter > 0 { break }
            }
            return b
        }
        let outB = prefix(.out), inB = prefix(.in)
        // A TLS handshake on the socket: its plaintext may follow in records of a TLS hook
        // (`startPlaintext`); wait for them within the detection budget (bytes, and chunks).
        let tlsHold = !c.tls && (Self.tlsRecord(outB) || Self.tlsRecord(inB))
        let force = force || c.preBytes[0] >= limits.detectBytes || c.preBytes[1] >= limits.detectBytes
            || c.pre.count > (tlsHold ? 4096 : 64)
        if tlsHold && !force { return }
        let ports: [Int] = {
            switch c.role {
            case .client: return [port(of: c.raddr)].compactMap { $0 }
            case .server: return [port(of: c.laddr)].compactMap { $0 }
            case .unknown: return [port(of: c.laddr), port(of: c.raddr)].compactMap { $0 }
            }
        }()
        var chosen: Proto?
        var reqDir: Direction?
        var datagram = false
        var results: [(Proto, Detection)] = []
        outB.withUnsafeBufferPointer { o in
            inB.withUnsafeBufferPointer { i in
                first.bytes.withUnsafeBufferPointer { fc in
                    // The HTTP/2 preface is no other protocol's first bytes: the other
                    // detectors (some scan every byte held) need not run.
                    for (b, dir) in [(o, Direction.out), (i, .in)] where HTTP2.prefacePrefix(b) == HTTP2.prefaceLength {
                        results.append((.http2, .yes(requestDir: dir, datagram: false)))
                        return
                    }
                    for p in framedProtocols {
                        results.append((p, detect(p, first: first.dir, out: o, in: i, firstChunk: fc)))
                    }
                }
            }
        }
        let overrides = self.overrides
        if let forced = ports.compactMap({ overrides[$0] }).first {
            chosen = forced
            for (p, r) in results where p == forced {
                switch r {
                case .yes(let d, let dg): reqDir = d; datagram = dg
                case .weak(let d): reqDir = d
                default: break
                }
            }
        } else {
            let yes = results.filter { if case .yes = $0.1 { return true } else { return false } }
            let portProto = ports.compactMap { wellKnownPorts[$0] }.first
            if let pick = yes.first(where: { $0.0 == portProto }) ?? yes.first {
                chosen = pick.0
                if case .yes(let d, let dg) = pick.1 { reqDir = d; datagram = dg }
            } else if let pp = portProto, let w = results.first(where: { $0.0 == pp }), case .weak(let d) = w.1 {
                chosen = pp
                reqDir = d
            } else if results.contains(where: { $0.1 == .needMore }) && !force {
                return
            } else {
                chosen = .unknown
            }
        }
        let proto = chosen ?? .unknown
        switch c.role {
        case .client: c.requestDir = .out
        case .server: c.requestDir = .in
        case .unknown: c.requestDir = reqDir ?? first.dir
        }
        c.session = makeSession(proto, datagram: datagram)
        // A stream whose first record did not start at offset 0 of a connection seen opening
        // starts in the middle of a message: resynchronise first.
        for dir in [Direction.out, .in] where !c.opened && c.startOffsets[dir.index] > 0 {
            c.sides[c.side(of: dir).rawValue].resync = true
        }
        let pre = c.pre
        c.pre = []
        c.preBytes = [0, 0]
        for p in pre {
            feed(c, p.dir, gapBefore: p.gapBefore, p.bytes, gapAfter: p.gapAfter, ts: p.ts, pid: p.pid, tid: p.tid, &out)
        }
    }

    /// Whether bytes start with a TLS handshake record (RFC 8446 §5.1: content type 22,
    /// legacy version 3.x).
    static func tlsRecord(_ b: [UInt8]) -> Bool {
        b.count >= 3 && b[0] == 22 && b[1] == 3 && b[2] <= 4
    }

    // MARK: - Limits and the end of connections

    mutating func enforceBufferLimit(_ c: Connection, _ out: inout [Record]) {
        if c.session == nil {
            if c.preBytes[0] + c.preBytes[1] > limits.maxBufferBytes { decide(c, force: true, &out) }
            if c.session == nil { return }
        }
        while c.bufferedBytes > limits.maxBufferBytes {
            let s = c.sides[0].count >= c.sides[1].count ? 0 : 1
            let side = Side(rawValue: s) ?? .request
            let count = c.sides[s].count
            if count == 0 { return }
            counters.truncated += 1
            var head = c.sides[s].message(count)
            head.truncated = true
            if head.data.count > limits.maxBufferBytes { head.data.removeLast(head.data.count - limits.maxBufferBytes) }
            if c.sides[s].resync {
                counters.skippedBytes += Int64(count)
                c.sides[s].consume(count)
            } else if let total = c.sides[s].exactTotal, total > count {
                c.sides[s].consume(count)
                c.sides[s].skipHead = head
                c.sides[s].skipRemaining = Int64(total - count)
            } else if c.sides[s].untilClose {
                c.sides[s].consume(count)
                c.sides[s].untilClose = false
                c.sides[s].skipHead = head
                c.sides[s].skipRemaining = Int64.max
            } else {
                c.sides[s].consume(count)
                c.sides[s].resync = true
                toSession(c, side, head)
            }
        }
    }

    /// The connection ends: held records, undecided bytes, partial messages and pending
    /// requests are all flushed.
    mutating func close(_ c: Connection, _ out: inout [Record]) {
        for dir in [Direction.out, .in] { drainHeld(c, dir, force: true, &out) }
        if c.session == nil { decide(c, force: true, &out) }
        for side in [Side.request, .response] {
            let s = side.rawValue
            if var head = c.sides[s].skipHead {
                c.sides[s].skipHead = nil
                if c.sides[s].skipRemaining != Int64.max { head.truncated = true }
                toSession(c, side, head)
                continue
            }
            let count = c.sides[s].count
            guard count > 0 else { continue }
            if c.sides[s].resync {
                counters.skippedBytes += Int64(count)
            } else {
                var m = c.sides[s].message(count)
                if !c.sides[s].untilClose {
                    m.truncated = true
                    counters.truncated += 1
                }
                toSession(c, side, m)
            }
            c.sides[s].consume(count)
        }
        if var s = c.session {
            c.session = nil
            s.close(&emitter, &counters)
            c.session = s
        }
        flush(c, &out)
    }

    mutating func evictOldest(_ out: inout [Record]) {
        let n = max(1, limits.maxConns / 16)
        let victims = table.values.sorted { ($0.lastTS, $0.cid) < ($1.lastTS, $1.cid) }.prefix(n)
        for c in victims {
            table.removeValue(forKey: c.cid)
            counters.connsEvicted += 1
            close(c, &out)
        }
    }

    /// Record time moves on: connections idle longer than the timeout are flushed.
    mutating func advance(_ ts: Int64, except cid: Int64, _ out: inout [Record]) {
        if ts > maxTS { maxTS = ts }
        guard maxTS >= nextIdleCheck else { return }
        nextIdleCheck = maxTS + max(1, limits.idleTimeout / 8)
        let idle = table.values.filter { $0.lastTS + limits.idleTimeout < maxTS && $0.cid != cid }
            .sorted { ($0.lastTS, $0.cid) < ($1.lastTS, $1.cid) }
        for c in idle {
            table.removeValue(forKey: c.cid)
            counters.connsIdle += 1
            close(c, &out)
        }
    }

    /// Turns what the sessions made into exchange records.
    mutating func flush(_ c: Connection, _ out: inout [Record]) {
        guard !emitter.exchanges.isEmpty else { return }
        for e in emitter.exchanges {
            var x = ExchangeRecord()
            x.proto = e.proto
            x.cid = c.cid
            let m = e.req ?? e.resp
            x.pid = m?.pid ?? c.pid
            x.tid = m?.tid ?? c.tid
            x.role = c.role
            x.laddr = c.laddr
            x.raddr = c.raddr
            x.req = e.req.map(Self.message)
            x.resp = e.resp.map(Self.message)
            x.stream = e.stream
            x.flags = e.flags
            counters.exchanges += 1
            out.append(.exchange(x))
        }
        emitter.exchanges.removeAll(keepingCapacity: true)
    }

    static func message(_ m: Message) -> ExchangeMessage {
        var x = ExchangeMessage()
        x.ts = m.ts
        x.end = max(m.end, m.ts)
        x.len = max(m.len, Int64(m.data.count))
        x.data = m.data
        x.headers = m.headers.map { $0.map { ($0.name, $0.value) } }
        x.messages = m.messages.map(Int64.init)
        return x
    }
}
