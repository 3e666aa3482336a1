import OllyNDJSON

/// DNS messages (RFC 1035 §4): over UDP one datagram per message, over TCP each message
/// behind a 2-byte length (§4.2.2). Queries and responses are matched by ID, not by order.
public enum DNS {
    /// Most records per section accepted.
    static let maxCount = 4096

    /// The length of the DNS message at `b[from...]` when it is well formed and fits in
    /// `b[from..<to]` (names, counts, record lengths all checked); nil otherwise.
    public static func messageLength(_ b: Bytes, from: Int, to: Int) -> Int? {
        guard to - from >= 12, to <= b.count else { return nil }
        let opcode = (b[from + 2] >> 3) & 0x0F
        guard opcode <= 6, opcode != 3 else { return nil }
        func u16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        let qd = u16(from + 4), an = u16(from + 6), ns = u16(from + 8), ar = u16(from + 10)
        guard qd <= 16, an <= maxCount, ns <= maxCount, ar <= maxCount else { return nil }
        var i = from + 12
        func skipName() -> Bool {
            var total = 0
            while i < to {
                let l = Int(b[i])
                if l == 0 { i += 1; return true }
                if l & 0xC0 == 0xC0 { i += 2; return i <= to }
                guard l & 0xC0 == 0 else { return false }
                total += l + 1
                guard total <= 255 else { return false }
                i += 1 + l
            }
            return false
        }
        for _ in 0..<qd {
            guard skipName(), i + 4 <= to else { return nil }
            i += 4
        }
        for _ in 0..<(an + ns + ar) {
            guard skipName(), i + 10 <= to else { return nil }
            let rdlen = u16(i + 8)
            i += 10 + rdlen
            guard i <= to else { return nil }
        }
        return i - from
    }

    public static func isResponse(_ data: [UInt8]) -> Bool { data.count > 2 && data[2] & 0x80 != 0 }
    public static func id(_ data: [UInt8]) -> Int? { data.count >= 2 ? Int(data[0]) << 8 | Int(data[1]) : nil }
}

public struct DNSSession: Session {
    public var proto: Proto { .dns }
    public let datagram: Bool
    /// Unanswered queries in the order they were sent: (id, query, flags).
    var pending: [(Int, Message, [String])] = []
    public init(datagram: Bool) { self.datagram = datagram }

    public static func detect(first: Direction, firstChunk: Bytes, out: Bytes, in inb: Bytes) -> Detection {
        let b = firstChunk
        let other: Direction = first == .out ? .in : .out
        if let n = DNS.messageLength(b, from: 0, to: b.count), n == b.count {
            return .yes(requestDir: b[2] & 0x80 == 0 ? first : other, datagram: true)
        }
        let s = first == .out ? out : inb
        if s.count >= 2 {
            let l = Int(s[0]) << 8 | Int(s[1])
            if l >= 12 && s.count >= 2 + l {
                if DNS.messageLength(s, from: 2, to: 2 + l) == l {
                    return .yes(requestDir: s[4] & 0x80 == 0 ? first : other, datagram: false)
                }
            } else if l >= 12 && s.count < 2 + l && s.count < 514 {
                return .needMore
            }
        }
        return .no
    }

    public func frame(_ side: Side, _ b: Bytes) -> Frame {
        if datagram {
            guard let n = DNS.messageLength(b, from: 0, to: b.count) else { return b.count < 12 ? .needMore(atLeast: 12, exact: false) : .invalid }
            return .complete(n)
        }
        guard b.count >= 2 else { return .needMore(atLeast: 2, exact: false) }
        let l = Int(b[0]) << 8 | Int(b[1])
        guard l >= 12 else { return .invalid }
        if b.count < 2 + l { return .needMore(atLeast: 2 + l, exact: true) }
        return DNS.messageLength(b, from: 2, to: 2 + l) == l ? .complete(2 + l) : .invalid
    }

    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? {
        var i = from
        while i + 2 <= b.count {
            let l = Int(b[i]) << 8 | Int(b[i + 1])
            if l >= 12 {
                if i + 2 + l > b.count { return i }
                if DNS.messageLength(b, from: i + 2, to: i + 2 + l) == l { return i }
            }
            i += 1
        }
        return nil
    }

    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        // Over TCP the data keeps its length prefix; the header follows it.
        let header = datagram ? m.data : Array(m.data.dropFirst(2))
        guard let id = DNS.id(header) else {
            counters.malformed += 1
            out.emit(Exchange(proto: .dns, req: side == .request ? m : nil, resp: side == .response ? m : nil, flags: Flag.merge([Flag.malformed], m)))
            return
        }
        if !DNS.isResponse(header) {
            if pending.count >= limits.maxPending {
                let old = pending.removeFirst()
                counters.pendingEvicted += 1
                counters.noResponse += 1
                out.emit(Exchange(proto: .dns, req: old.1, resp: nil, flags: Flag.merge(old.2 + [Flag.noResponse, Flag.evicted], old.1)))
            }
            pending.append((id, m, []))
            return
        }
        if let i = pending.firstIndex(where: { $0.0 == id }) {
            let q = pending.remove(at: i)
            out.emit(Exchange(proto: .dns, req: q.1, resp: m, flags: Flag.merge(q.2, q.1, m)))
        } else {
            counters.noRequest += 1
            out.emit(Exchange(proto: .dns, req: nil, resp: m, flags: Flag.merge([Flag.noRequest], m)))
        }
    }

    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {}

    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        for q in pending {
            counters.noResponse += 1
            out.emit(Exchange(proto: .dns, req: q.1, resp: nil, flags: Flag.merge(q.2 + [Flag.noResponse], q.1)))
        }
        pending.removeAll()
    }
}
