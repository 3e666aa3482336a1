import OllyNDJSON

/// Redis on one connection: commands and replies paired first in, first out (pipelining);
/// RESP3 pushes and RESP2 pub/sub messages are exchanges of their own (response only,
/// flagged `push`); a (P|S)SUBSCRIBE or UNSUBSCRIBE gets all its confirmations as one
/// response.
public struct RedisSession: Session {
    public var proto: Proto { .redis }

    public struct Info: Sendable {
        /// The subscription confirmation this command expects ("subscribe", ...), if any.
        var confirms: String?
        /// Confirmations still expected; -1: until the subscription count reaches 0.
        var remaining = 1
    }

    var pairer = FIFOPairer<Info>(proto: .redis)
    /// A subscription was made: RESP2 arrays "message"/"pmessage"/"smessage" are pushes.
    var subscribed = false
    public init() {}

    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        for (b, dir) in [(out, Direction.out), (inb, .in)] where !b.isEmpty {
            if b[0] == UInt8(ascii: "*") {
                guard let le = Ascii.lineEnd(b, from: 1, limit: 16) else { return b.count < 16 ? .needMore : .no }
                if le > 2, b[le - 1] == Ascii.cr, Ascii.decimal(b, 1, le - 1) != nil {
                    if le + 1 >= b.count { return .needMore }
                    if b[le + 1] == UInt8(ascii: "$") { return .yes(requestDir: dir, datagram: false) }
                }
            }
        }
        // An inline command (PING) or a reply first: plausible only.
        for (b, dir) in [(out, Direction.out), (inb, .in)] where dir == first && !b.isEmpty {
            if case .complete = RESP.frameCommand(b), b[0] >= 65 { return .weak(requestDir: dir) }
        }
        return .no
    }

    public func frame(_ side: Side, _ b: Bytes) -> Frame {
        side == .request ? RESP.frameCommand(b) : RESP.frameValue(b)
    }

    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? {
        RESP.boundary(b, from: from, command: side == .request)
    }

    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        switch side {
        case .request:
            var info = Info()
            if let (cmd, nargs) = RESP.command(m.data) {
                switch cmd {
                case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE":
                    subscribed = true
                    info.confirms = cmd.lowercased()
                    info.remaining = max(nargs, 1)
                case "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
                    info.confirms = cmd.lowercased()
                    info.remaining = nargs > 0 ? nargs : -1
                default:
                    break
                }
            }
            pairer.request(m, info: info, &out, limits, &counters)
        case .response:
            let sh = RESP.shape(m.data)
            let aggregate = sh.type == UInt8(ascii: ">") || (subscribed && sh.type == UInt8(ascii: "*"))
            if aggregate, let first = sh.first {
                if first == "message" || first == "pmessage" || first == "smessage" {
                    out.emit(Exchange(proto: .redis, req: nil, resp: m, flags: Flag.merge([Flag.push], m)))
                    return
                }
                if first.hasSuffix("subscribe") {
                    if let f = pairer.front, f.info.confirms == first {
                        confirm(m, count: sh.third, &out, &counters)
                    } else {
                        out.emit(Exchange(proto: .redis, req: nil, resp: m, flags: Flag.merge([Flag.push], m)))
                    }
                    if first.hasPrefix("unsub") || first.hasPrefix("punsub") || first.hasPrefix("sunsub"), sh.third == 0 {
                        subscribed = false
                    }
                    return
                }
            }
            if sh.type == UInt8(ascii: ">") {
                out.emit(Exchange(proto: .redis, req: nil, resp: m, flags: Flag.merge([Flag.push], m)))
                return
            }
            pairer.response(m, &out, &counters)
        }
    }

    /// One subscription confirmation for the front command.
    mutating func confirm(_ m: Message, count: Int?, _ out: inout Emitter, _ counters: inout Counters) {
        var done = false
        pairer.updateFront { p in
            p.resp = p.resp.map { OpaquePairer.append($0, m, maxBytes: Int.max, &counters) } ?? m
            if p.info.remaining > 0 { p.info.remaining -= 1 }
            done = p.info.remaining == 0 || (p.info.remaining < 0 && (count ?? 0) == 0)
        }
        if done, let p = pairer.popFront(), let resp = p.resp {
            out.emit(Exchange(proto: .redis, req: p.req, resp: resp, flags: Flag.merge(p.flags, p.req, resp)))
        }
    }

    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        switch side {
        case .request:
            if !partial { pairer.lostRequest(info: Info(), &out, limits, &counters) }
        case .response:
            pairer.lostResponses(partial: partial, lastTS: lastTS, &out, &counters)
        }
    }

    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        pairer.flush(&out, &counters)
    }
}
