import OllyNDJSON

/// MongoDB wire protocol framing
/// (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/): every message
/// starts with a 16-byte header of little-endian int32s — messageLength (the header
/// included), requestID, responseTo, opCode.
public enum Mongo {
    public static let opReply: UInt32 = 1, opUpdate: UInt32 = 2001, opInsert: UInt32 = 2002, opQuery: UInt32 = 2004
    public static let opGetMore: UInt32 = 2005, opDelete: UInt32 = 2006, opKillCursors: UInt32 = 2007
    public static let opCompressed: UInt32 = 2012, opMsg: UInt32 = 2013
    /// OP_MSG flagBits.
    public static let checksumPresent: UInt32 = 1, moreToCome: UInt32 = 2, exhaustAllowed: UInt32 = 1 << 16
    /// Largest message accepted (the server's maxMessageSizeBytes).
    public static let maxMessage = 48_000_000

    static func le32(_ b: Bytes, _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    static func knownOpcode(_ op: UInt32) -> Bool {
        switch op {
        case opReply, opUpdate, opInsert, opQuery, opGetMore, opDelete, opKillCursors, opCompressed, opMsg: return true
        default: return false
        }
    }

    /// Frames one message at `from`.
    public static func frameMessage(_ b: Bytes, from: Int = 0) -> Frame {
        guard b.count - from >= 4 else { return .needMore(atLeast: from + 4, exact: false) }
        let len = Int(le32(b, from))
        guard len >= 16, len <= maxMessage else { return .invalid }
        if b.count - from >= 16 {
            guard knownOpcode(le32(b, from + 12)) else { return .invalid }
            // OP_MSG: only the defined flag bits; OP_COMPRESSED: a known compressor id.
            if le32(b, from + 12) == opMsg {
                guard len >= 21 else { return .invalid }
                if b.count - from >= 20 && le32(b, from + 16) & 0xFFFE_FFFC != 0 { return .invalid }
            }
            if le32(b, from + 12) == opCompressed {
                guard len >= 25 else { return .invalid }
                if b.count - from >= 25 && b[from + 24] > 3 { return .invalid }
            }
        }
        return b.count - from >= len ? .complete(len) : .needMore(atLeast: from + len, exact: true)
    }

    /// Where a message may start: a sane header (its opcode checked unless the buffer starts
    /// with it), and the next one sane too when buffered.
    static func boundary(_ b: Bytes, from: Int) -> Int? {
        var i = max(from, 0)
        while i < b.count {
            switch frameMessage(b, from: i) {
            case .needMore:
                // A header whose opcode is in, or a record that starts with a message.
                if i == from || b.count - i >= 16 { return i }
            case .complete(let n):
                if i + n == b.count { return i }
                if case .invalid = frameMessage(b, from: i + n) {} else { return i }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The header of a message: (requestID, responseTo, opCode, flagBits of an OP_MSG or of
    /// an OP_COMPRESSED holding one uncompressed (noop)); nil when cut short.
    static func header(_ d: [UInt8]) -> (id: UInt32, to: UInt32, op: UInt32, flags: UInt32?)? {
        d.withUnsafeBufferPointer { b in
            guard b.count >= 16 else { return nil }
            let op = le32(b, 12)
            var flags: UInt32?
            if op == opMsg && b.count >= 20 { flags = le32(b, 16) }
            if op == opCompressed && b.count >= 29 && le32(b, 16) == opMsg && b[24] == 0 { flags = le32(b, 25) }
            return (le32(b, 4), le32(b, 8), op, flags)
        }
    }

    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        let (b, other): (Bytes, Direction) = first == .out ? (out, .in) : (inb, .out)
        guard b.count >= 16 else {
            if b.count >= 4, case .invalid = frameMessage(b) { return .no }
            return b.isEmpty ? .no : .needMore
        }
        guard case let f = frameMessage(b), f != .invalid else { return .no }
        let op = le32(b, 12), to = le32(b, 8)
        // A client's command first: OP_MSG, OP_QUERY or OP_COMPRESSED answering nothing.
        if to == 0 && (op == opMsg || op == opQuery || op == opCompressed) {
            if op == opMsg {
                guard b.count >= 21 else { return .needMore }
                if b[20] > 1 { return .no }
            }
            if op == opQuery {
                // flags, then a collection name "db.coll" ("admin.$cmd").
                var i = 20, dot = false
                while i < b.count && b[i] != 0 {
                    if b[i] == UInt8(ascii: ".") { dot = true }
                    if b[i] < 0x20 { return .no }
                    i += 1
                }
                if i >= b.count { return b.count < 512 ? .needMore : .no }
                if !dot { return .no }
            }
            return .yes(requestDir: first, datagram: false)
        }
        // In the middle of a connection: believed on the port only.
        if case .complete = f { return .weak(requestDir: to == 0 ? first : other) }
        return .no
    }
}

/// MongoDB on one connection: requests and replies are matched by requestID/responseTo,
/// not by order. An OP_MSG with moreToCome from the client (an unacknowledged write) and
/// the legacy OP_INSERT, OP_UPDATE, OP_DELETE and OP_KILL_CURSORS have no response by
/// design. A reply with moreToCome (an exhaust cursor, a streaming hello) is followed by
/// replies to itself: those are `push` exchanges. OP_COMPRESSED messages are framed by
/// their header and flagged `compressed`.
public struct MongoSession: Session {
    public var proto: Proto { .mongodb }

    struct Pending {
        var id: UInt32
        var req: Message
        var flags: [String]
        /// A response-direction gap came while it waited: its reply may have been lost.
        var suspect = false
    }

    var pending: [Pending] = []
    /// Replies with moreToCome whose own follow-ups are expected (bounded).
    var exhaust: [UInt32] = []
    /// A request-direction gap: a reply to an unknown request may answer a lost one.
    var requestGap = false
    public init() {}

    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        Mongo.detect(first: first, out: out, in: inb)
    }

    public func frame(_ side: Side, _ b: Bytes) -> Frame { Mongo.frameMessage(b) }

    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? { Mongo.boundary(b, from: from) }

    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        guard let h = Mongo.header(m.data) else {
            counters.malformed += 1
            out.emit(Exchange(proto: .mongodb, req: side == .request ? m : nil, resp: side == .response ? m : nil,
                              flags: Flag.merge([Flag.malformed], m)))
            return
        }
        var flags: [String] = []
        if h.op == Mongo.opCompressed { flags.append(Flag.compressed) }
        switch side {
        case .request:
            let noReply = [Mongo.opInsert, Mongo.opUpdate, Mongo.opDelete, Mongo.opKillCursors].contains(h.op)
            if noReply || (h.flags ?? 0) & Mongo.moreToCome != 0 {
                out.emit(Exchange(proto: .mongodb, req: m, resp: nil, flags: Flag.merge(flags, m)))
                return
            }
            if pending.count >= limits.maxPending {
                let old = pending.removeFirst()
                counters.pendingEvicted += 1
                counters.noResponse += 1
                out.emit(Exchange(proto: .mongodb, req: old.req, resp: nil,
                                  flags: Flag.merge(old.flags + [Flag.noResponse, Flag.evicted], old.req)))
            }
            pending.append(Pending(id: h.id, req: m, flags: flags))
        case .response:
            if (h.flags ?? 0) & Mongo.moreToCome != 0 {
                if exhaust.count >= 64 { exhaust.removeFirst() }
                exhaust.append(h.id)
            }
            if let i = pending.firstIndex(where: { $0.id == h.to }) {
                let p = pending.remove(at: i)
                // Requests sent before it that waited over a gap: the server answers in
                // order, so their replies were lost in the gap.
                var k = 0
                while k < pending.count {
                    if pending[k].suspect && pending[k].req.end <= p.req.ts {
                        let q = pending.remove(at: k)
                        counters.noResponse += 1
                        out.emit(Exchange(proto: .mongodb, req: q.req, resp: nil,
                                          flags: Flag.merge(q.flags + [Flag.gap, Flag.noResponse], q.req)))
                    } else {
                        k += 1
                    }
                }
                out.emit(Exchange(proto: .mongodb, req: p.req, resp: m, flags: Flag.merge(p.flags + flags, p.req, m)))
            } else if let i = exhaust.firstIndex(of: h.to) {
                exhaust.remove(at: i)
                out.emit(Exchange(proto: .mongodb, req: nil, resp: m, flags: Flag.merge(flags + [Flag.push], m)))
            } else {
                counters.noRequest += 1
                out.emit(Exchange(proto: .mongodb, req: nil, resp: m,
                                  flags: Flag.merge(flags + (requestGap ? [Flag.gap] : []) + [Flag.noRequest], m)))
            }
        }
    }

    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        switch side {
        case .request: requestGap = true
        case .response:
            for i in pending.indices { pending[i].suspect = true }
        }
    }

    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        for p in pending {
            counters.noResponse += 1
            out.emit(Exchange(proto: .mongodb, req: p.req, resp: nil,
                              flags: Flag.merge(p.flags + (p.suspect ? [Flag.gap] : []) + [Flag.noResponse], p.req)))
        }
        pending.removeAll()
    }
}
