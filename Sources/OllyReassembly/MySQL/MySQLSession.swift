import OllyNDJSON

/// MySQL/MariaDB client/server protocol framing
/// (https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html): packets of a
/// 3-byte little-endian payload length, a 1-byte sequence id and the payload. A payload of
/// 0xFFFFFF bytes continues in the next packet (a logical packet of 16 MiB or more).
public enum MySQL {
    public static let maxPayload = 0xFF_FFFF
    // Capability flags.
    static let clientCompress: UInt32 = 0x20
    static let clientProtocol41: UInt32 = 0x200
    static let clientSSL: UInt32 = 0x800
    static let clientDeprecateEOF: UInt32 = 1 << 24
    static let clientOptionalMetadata: UInt32 = 1 << 25
    // Server status flags.
    static let moreResultsExist = 0x0008
    static let cursorExists = 0x0040

    static func le16(_ b: Bytes, _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
    static func le24(_ b: Bytes, _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 }
    static func le32(_ b: Bytes, _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    /// Frames one packet at the start of `b`.
    public static func framePacket(_ b: Bytes) -> Frame {
        guard b.count >= 4 else { return .needMore(atLeast: 4, exact: false) }
        let total = 4 + le24(b, 0)
        return b.count >= total ? .complete(total) : .needMore(atLeast: total, exact: true)
    }

    /// A command byte of the client (COM_SLEEP 0x00 to COM_RESET_CONNECTION 0x1F; MariaDB's
    /// COM_STMT_BULK_EXECUTE 0xFA and COM_MULTI 0xFE).
    static func isCommand(_ c: UInt8) -> Bool { c <= 0x1F || c >= 0xFA }

    /// A length-encoded integer at `i` of `b[..<end]`: (value, bytes); nil for NULL (0xFB),
    /// 0xFF or a value cut short.
    static func lenenc(_ b: Bytes, _ i: Int, end: Int) -> (Int, Int)? {
        guard i < end else { return nil }
        let c = b[i]
        switch c {
        case 0..<0xFB: return (Int(c), 1)
        case 0xFC: return i + 3 <= end ? (le16(b, i + 1), 3) : nil
        case 0xFD: return i + 4 <= end ? (le24(b, i + 1), 4) : nil
        case 0xFE:
            guard i + 9 <= end else { return nil }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(b[i + 1 + k]) << (8 * UInt64(k)) }
            return (Int(truncatingIfNeeded: v & 0x7FFF_FFFF_FFFF_FFFF), 9)
        default: return nil
        }
    }

    /// The server greeting (HandshakeV10) at the start of `b`: `.yes` once it is one as far
    /// as its capabilities (it need not be whole), `.needMore` while it could still be one.
    static func greeting(_ b: Bytes) -> Detection {
        guard b.count >= 5 else {
            if b.count >= 4 && b[3] != 0 { return .no }
            return .needMore
        }
        let len = le24(b, 0)
        guard b[3] == 0, b[4] == 10, len >= 20, len <= 1024 else { return .no }
        // Protocol 10, a printable NUL-terminated version, thread id, 8 bytes of scramble,
        // a zero filler, then the lower capabilities with CLIENT_PROTOCOL_41.
        let end = min(b.count, 4 + len)
        var i = 5
        while i < end, b[i] != 0 {
            guard b[i] >= 0x20 && b[i] < 0x7F else { return .no }
            i += 1
        }
        if i + 16 > end { return end < 4 + len ? .needMore : .no }
        guard i > 5, b[i + 13] == 0, le16(b, i + 14) & Int(clientProtocol41) != 0 else { return .no }
        return .yes(requestDir: .out, datagram: false)
    }

    /// Where a packet may start after a gap: a command (sequence 0, a known command byte)
    /// on the request side; the first packet of a response (sequence 1: OK, ERR, EOF or a
    /// column count) on the response side. When the packet is whole and the next header is
    /// buffered, the next sequence id must fit too.
    /// Heuristic: a packet's bytes may look like one; pairing after a gap is flagged.
    static func boundary(_ b: Bytes, from: Int, request: Bool) -> Int? {
        var i = max(from, 0)
        // A packet cut short by the end of the buffer is only taken when no whole one follows
        // (a shifted header with zero length bytes looks like one).
        var fallback: Int?
        while i < b.count {
            if b.count - i < 5 {
                // Only the start of a header is buffered (a record that starts a message, or
                // one byte at a time): taken when nothing came before it and its sequence id,
                // if in, fits; a tail after other bytes is not.
                if i == from && (b.count - i < 4 || b[i + 3] == (request ? 0 : 1)) { return i }
                return fallback
            }
            let len = le24(b, i), seq = b[i + 3], c = b[i + 4]
            let end = i + 4 + len
            var ok: Bool
            if request {
                ok = seq == 0 && len >= 1 && isCommand(c)
            } else {
                ok = seq == 1 && len >= 1 && (c == 0x00 && len >= 7 || c == 0xFF && len >= 3 || c == 0xFE && len < 9
                                               || (c >= 1 && c < 0xFB && len <= 2))
            }
            if ok {
                if end > b.count {
                    if fallback == nil && len < 1 << 16 { fallback = i }
                    ok = false
                } else if end + 4 <= b.count {
                    let next = b[end + 3]
                    if request { ok = next == 0 || (len == maxPayload && next == 1) }
                    else { ok = c >= 1 && c < 0xFB ? next == 2 : (next == 1 || next == 2) }
                }
            }
            if ok { return i }
            i += 1
        }
        return fallback
    }
}

/// MySQL/MariaDB on one connection. The server greeting is an exchange of its own
/// (response only, flagged `push`); the client's handshake response, with the
/// authentication packets that follow it (auth switch, more data), is a request answered
/// by everything the server sends until OK or ERR. Then each command (sequence id 0) is a
/// request; its response is framed by what the command returns: OK, ERR, a text or binary
/// result set (column count, column definitions, EOF unless CLIENT_DEPRECATE_EOF, rows,
/// EOF or OK; more when SERVER_MORE_RESULTS_EXISTS), COM_STMT_PREPARE's OK with its
/// parameter and column definitions, LOCAL INFILE. COM_STMT_CLOSE,
/// COM_STMT_SEND_LONG_DATA and COM_QUIT have no response by design. Client packets with a
/// sequence id other than 0 belong to the request being answered. After an SSLRequest (or
/// with compression) the rest of the connection is opaque, `unknown`, flagged `upgraded`.
public struct MySQLSession: Session {
    public var proto: Proto { .mysql }

    /// What a command's response looks like.
    public enum Kind: Sendable, Equatable {
        case auth, query, execute, prepare, fetch, fieldList, simple, generic
    }

    public struct Info: Sendable {
        var kind: Kind
        /// COM_STMT_EXECUTE opened a cursor: the response ends after the column definitions.
        var cursor = false
    }

    enum State: Equatable {
        case idle
        /// The first packet of a response, or of the next result of a multi-result response.
        case start
        case columns(Int)
        case columnsEOF
        case rows
        case params(Int, then: Int)
        case paramsEOF(then: Int)
        case prepColumns(Int)
        case prepColumnsEOF
        case localInfile
    }

    var pairer = FIFOPairer<Info>(proto: .mysql)
    var serverCaps: UInt32?
    var clientCaps: UInt32?
    /// A request packet chain (payloads of 0xFFFFFF bytes) not finished yet.
    var reqOpen: Message?
    var respChain = false
    var state = State.idle
    var kind = Kind.generic
    var cur: Message?
    var greeted = false
    var compressAfterAuth = false
    var opaque: OpaquePairer?
    public init() {}

    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        // The server speaks first: its greeting.
        let (b, other): (Bytes, Direction) = first == .in ? (inb, .out) : (out, .in)
        switch MySQL.greeting(b) {
        case .yes: return .yes(requestDir: other, datagram: false)
        case .needMore: return .needMore
        default: break
        }
        // In the middle of a connection: a whole command of the client (at the start or
        // further on), believed on the port only.
        for (r, dir) in [(b, first), (first == .in ? out : inb, other)] {
            if let i = MySQL.boundary(r, from: 0, request: true), r.count - i >= 5,
               case .complete = MySQL.framePacket(UnsafeBufferPointer(rebasing: r[i...])) {
                return .weak(requestDir: dir)
            }
        }
        // A capture that starts inside a command: wait a little for the next one.
        return b.count < 256 ? .needMore : .no
    }

    var deprecateEOF: Bool {
        guard let c = clientCaps else { return false }
        return c & (serverCaps ?? c) & MySQL.clientDeprecateEOF != 0
    }

    public func frame(_ side: Side, _ b: Bytes) -> Frame {
        if opaque != nil { return .complete(b.count) }
        let f = MySQL.framePacket(b)
        // A new command: sequence id 0 and a command byte.
        if side == .request, reqOpen == nil, b.count >= 4, b[3] == 0, MySQL.le24(b, 0) == 0 || (b.count >= 5 && !MySQL.isCommand(b[4])) {
            return .invalid
        }
        return f
    }

    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? {
        if opaque != nil { return from < b.count ? from : nil }
        return MySQL.boundary(b, from: from, request: side == .request)
    }

    func append(_ a: Message?, _ m: Message, _ limits: Limits, _ counters: inout Counters) -> Message {
        OpaquePairer.append(a, m, maxBytes: limits.maxBufferBytes, &counters)
    }

    /// Header of a packet message: (payload length, sequence id, first payload byte).
    static func header(_ m: Message) -> (len: Int, seq: UInt8, first: UInt8?)? {
        guard m.data.count >= 4 else { return nil }
        let len = Int(m.data[0]) | Int(m.data[1]) << 8 | Int(m.data[2]) << 16
        return (len, m.data[3], m.data.count > 4 ? m.data[4] : nil)
    }

    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        if opaque != nil {
            opaque?.add(side, m, maxBytes: UnknownSession.maxBytes, &out, &counters)
            return
        }
        guard let h = Self.header(m) else {
            counters.malformed += 1
            out.emit(Exchange(proto: .mysql, req: side == .request ? m : nil, resp: side == .response ? m : nil,
                              flags: Flag.merge([Flag.malformed], m)))
            return
        }
        switch side {
        case .request:
            reqOpen = append(reqOpen, m, limits, &counters)
            if h.len == MySQL.maxPayload { return }
            guard let r = reqOpen else { return }
            reqOpen = nil
            request(r, limits, &out, &counters)
        case .response:
            response(m, h, limits, &out, &counters)
        }
    }

    /// A whole logical request packet (a chain of packets of 0xFFFFFF bytes and the one
    /// that ends it).
    mutating func request(_ r: Message, _ limits: Limits, _ out: inout Emitter, _ counters: inout Counters) {
        let seq = r.data.count >= 4 ? r.data[3] : 0
        if seq != 0 {
            // Handshake response (sequence 1, or 2 after an SSLRequest), or an SSLRequest.
            if seq <= 2, pairer.count == 0, let caps = handshakeCaps(r) {
                if r.len == 36 && caps & MySQL.clientSSL != 0 {
                    pairer.flush(&out, &counters)
                    out.emit(Exchange(proto: .mysql, req: r, resp: nil))
                    opaque = OpaquePairer(proto: .unknown, flags: [Flag.upgraded])
                    return
                }
                clientCaps = caps
                compressAfterAuth = caps & (serverCaps ?? caps) & MySQL.clientCompress != 0
                pairer.request(r, info: Info(kind: .auth), &out, limits, &counters)
                return
            }
            // Authentication data or LOCAL INFILE contents: part of the request being answered.
            if pairer.count > 0 {
                var c = counters
                pairer.updateFront { $0.req = OpaquePairer.append($0.req, r, maxBytes: limits.maxBufferBytes, &c) }
                counters = c
                return
            }
            pairer.request(r, info: Info(kind: .generic), &out, limits, &counters)
            return
        }
        let cmd = r.data.count > 4 ? r.data[4] : 0xFF
        var info = Info(kind: .simple)
        switch cmd {
        case 0x01, 0x18, 0x19: // COM_QUIT, COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE: no response
            out.emit(Exchange(proto: .mysql, req: r, resp: nil, flags: Flag.merge([], r)))
            return
        case 0x03, 0x0A: info.kind = .query // COM_QUERY, COM_PROCESS_INFO
        case 0x16: info.kind = .prepare
        case 0x17:
            info.kind = .execute
            info.cursor = r.data.count > 9 && r.data[9] & 0x07 != 0
        case 0x1C: info.kind = .fetch
        case 0x04: info.kind = .fieldList
        case 0x11: info.kind = .auth // COM_CHANGE_USER
        case 0xFA: info.kind = .execute // MariaDB COM_STMT_BULK_EXECUTE
        case 0x12, 0x13, 0x14, 0x15, 0xFE: info.kind = .generic // binlog, replication, COM_MULTI
        default: info.kind = .simple
        }
        pairer.request(r, info: info, &out, limits, &counters)
    }

    /// The capabilities of a HandshakeResponse41 or SSLRequest (CLIENT_PROTOCOL_41, 23
    /// filler bytes, zero but for MariaDB's extended capabilities in the last 4); nil when
    /// `r` is not one.
    func handshakeCaps(_ r: Message) -> UInt32? {
        guard r.data.count >= 36 else { return nil }
        return r.data.withUnsafeBufferPointer { b -> UInt32? in
            let caps = MySQL.le32(b, 4)
            guard caps & MySQL.clientProtocol41 != 0 else { return nil }
            for k in 13..<32 where b[k] != 0 { return nil }
            return caps
        }
    }

    mutating func response(_ m: Message, _ h: (len: Int, seq: UInt8, first: UInt8?), _ limits: Limits, _ out: inout Emitter, _ counters: inout Counters) {
        if respChain {
            // The rest of a packet of 16 MiB or more: a row or a column, never the end.
            cur = append(cur, m, limits, &counters)
            respChain = h.len == MySQL.maxPayload
            return
        }
        respChain = h.len == MySQL.maxPayload
        if cur == nil {
            if !greeted && pairer.count == 0 && h.seq == 0 && (h.first == 10 || h.first == 0xFF) {
                // The server greeting (or an ERR instead of it: too many connections).
                greeted = true
                if h.first == 10 { serverCaps = greetingCaps(m) }
                out.emit(Exchange(proto: .mysql, req: nil, resp: m, flags: Flag.merge([Flag.push], m)))
                return
            }
            if pairer.count == 0 && h.first == 0xFF {
                // An error the server sends on its own before closing (idle timeout, kill).
                out.emit(Exchange(proto: .mysql, req: nil, resp: m, flags: Flag.merge([Flag.push], m)))
                return
            }
            kind = pairer.front?.info.kind ?? .generic
            state = .start
        }
        cur = append(cur, m, limits, &counters)
        if step(m, h) { finish(&out, &counters) }
    }

    /// Advances the response state machine by one packet; true when the response is whole.
    mutating func step(_ m: Message, _ h: (len: Int, seq: UInt8, first: UInt8?)) -> Bool {
        let c = h.first ?? 0
        let terminator = c == 0xFE && h.len < MySQL.maxPayload
        switch state {
        case .idle, .start:
            switch kind {
            case .auth:
                if c == 0x00 {
                    if compressAfterAuth { opaque = OpaquePairer(proto: .unknown, flags: [Flag.upgraded]) }
                    return true
                }
                return c == 0xFF
            case .simple:
                return true
            case .prepare:
                guard c == 0x00, h.len >= 12, m.data.count >= 13 else { return true }
                let cols = Int(m.data[9]) | Int(m.data[10]) << 8, params = Int(m.data[11]) | Int(m.data[12]) << 8
                if params > 0 { state = .params(params, then: cols); return false }
                if cols > 0 { state = .prepColumns(cols); return false }
                return true
            case .fetch:
                state = .rows
                return step(m, h)
            case .fieldList:
                state = .columns(Int.max)
                return step(m, h)
            case .query, .execute, .generic:
                if c == 0xFF { return true }
                if c == 0x00 || terminator { return !more(m, eof: terminator) }
                if c == 0xFB && kind != .execute { state = .localInfile; return false }
                let n = m.data.withUnsafeBufferPointer { MySQL.lenenc($0, 4, end: $0.count) }
                guard let (cols, used) = n, cols > 0 else { return true }
                if let caps = clientCaps, caps & (serverCaps ?? caps) & MySQL.clientOptionalMetadata != 0,
                   m.data.count > 4 + used, m.data[4 + used] == 0 {
                    state = deprecateEOF ? .rows : .columnsEOF
                } else {
                    state = .columns(cols)
                }
                return false
            }
        case .columns(let n):
            if c == 0xFF { return true }
            if kind == .fieldList && terminator { return true }
            state = n > 1 ? .columns(n - 1) : (deprecateEOF ? .rows : .columnsEOF)
            return false
        case .columnsEOF:
            if c == 0xFF { return true }
            if terminator {
                if kind == .execute && pairer.front?.info.cursor == true && status(m, eof: true) & MySQL.cursorExists != 0 { return true }
                state = .rows
                return false
            }
            state = .rows
            return step(m, h)
        case .rows:
            if c == 0xFF { return true }
            if terminator {
                if more(m, eof: true) { state = .start; return false }
                return true
            }
            return false
        case .params(let n, let cols):
            if c == 0xFF { return true }
            if n > 1 { state = .params(n - 1, then: cols); return false }
            if !deprecateEOF { state = .paramsEOF(then: cols); return false }
            if cols > 0 { state = .prepColumns(cols); return false }
            return true
        case .paramsEOF(let cols):
            if cols > 0 { state = .prepColumns(cols); return false }
            return true
        case .prepColumns(let n):
            if c == 0xFF { return true }
            if n > 1 { state = .prepColumns(n - 1); return false }
            if !deprecateEOF { state = .prepColumnsEOF; return false }
            return true
        case .prepColumnsEOF:
            return true
        case .localInfile:
            if c == 0x00 && more(m, eof: false) { state = .start; return false }
            return true
        }
    }

    /// The server status of an OK or EOF packet.
    func status(_ m: Message, eof: Bool) -> Int {
        m.data.withUnsafeBufferPointer { b -> Int in
            if eof && b.count >= 9 && MySQL.le24(b, 0) == 5 { return MySQL.le16(b, 7) }
            var i = 5
            guard let (_, a) = MySQL.lenenc(b, i, end: b.count) else { return 0 }
            i += a
            guard let (_, n) = MySQL.lenenc(b, i, end: b.count) else { return 0 }
            i += n
            return i + 2 <= b.count ? MySQL.le16(b, i) : 0
        }
    }

    /// SERVER_MORE_RESULTS_EXISTS in an OK or EOF packet: another result follows.
    func more(_ m: Message, eof: Bool) -> Bool { status(m, eof: eof) & MySQL.moreResultsExist != 0 }

    func greetingCaps(_ m: Message) -> UInt32? {
        m.data.withUnsafeBufferPointer { b -> UInt32? in
            var i = 5
            while i < b.count, b[i] != 0 { i += 1 }
            let low = i + 14
            guard low + 2 <= b.count else { return nil }
            var caps = UInt32(MySQL.le16(b, low))
            if low + 7 <= b.count { caps |= UInt32(MySQL.le16(b, low + 5)) << 16 }
            return caps
        }
    }

    mutating func finish(_ out: inout Emitter, _ counters: inout Counters) {
        state = .idle
        respChain = false
        if let r = cur {
            cur = nil
            pairer.response(r, &out, &counters)
        }
    }

    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        if opaque != nil {
            return
        }
        switch side {
        case .request:
            if var o = reqOpen {
                o.gap = true
                reqOpen = o
            } else if !partial {
                pairer.lostRequest(info: Info(kind: .generic), &out, limits, &counters)
            }
        case .response:
            let hadPartial = cur != nil
            if var r = cur {
                cur = nil
                r.gap = true
                r.truncated = true
                pairer.response(r, &out, &counters)
            }
            state = .idle
            respChain = false
            pairer.lostResponses(partial: hadPartial, lastTS: lastTS, &out, &counters)
        }
    }

    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        opaque?.flush(&out, &counters)
        if let o = reqOpen {
            reqOpen = nil
            counters.noResponse += 1
            out.emit(Exchange(proto: .mysql, req: o, resp: nil, flags: Flag.merge([Flag.noResponse, Flag.truncated], o)))
        }
        if var r = cur {
            cur = nil
            r.truncated = true
            counters.truncated += 1
            pairer.response(r, &out, &counters)
        }
        pairer.flush(&out, &counters)
    }
}
