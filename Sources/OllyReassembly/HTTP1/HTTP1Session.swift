import OllyNDJSON

/// HTTP/1.x on one connection: FIFO pairing (keep-alive and pipelining), the request's
/// method deciding a response's length (HEAD, CONNECT), and after `101 Switching
/// Protocols` or a successful CONNECT the rest of the connection as opaque exchanges
/// (`proto: unknown`, flagged `upgraded`).
public struct HTTP1Session: Session {
    public var proto: Proto { .http1 }
    var pairer = FIFOPairer<HTTP1.RequestKind>(proto: .http1)
    var tunnel: OpaquePairer?
    /// Per side: this many bytes at the start of the message being framed hold no blank
    /// line, so its head is incomplete; bytes that arrive later are searched alone, not
    /// the whole head again (a head dripping in byte by byte costs linear time).
    var noBlankLine = (0, 0)
    public init() {}

    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        var undecided = false
        for (b, dir) in [(out, Direction.out), (inb, .in)] where !b.isEmpty {
            switch HTTP1.methodAt(b, 0) {
            case .yes: return .yes(requestDir: dir, datagram: false)
            case .needMore: undecided = true
            default: break
            }
            switch HTTP1.statusLineAt(b, 0) {
            case .yes: return .yes(requestDir: dir == .out ? .in : .out, datagram: false)
            case .needMore: undecided = true
            default: break
            }
        }
        // A capture that starts in the middle of a connection: a status or request line
        // further on.
        for (b, dir) in [(out, Direction.out), (inb, .in)] where !b.isEmpty {
            if let i = HTTP1.boundary(b, from: 1, response: true), case .yes = HTTP1.statusLineAt(b, i) {
                return .yes(requestDir: dir == .out ? .in : .out, datagram: false)
            }
            if let i = HTTP1.boundary(b, from: 1, response: false), case .yes = HTTP1.methodAt(b, i),
               case .head = HTTP1.head(b, from: i, response: false) {
                return .yes(requestDir: dir, datagram: false)
            }
        }
        return undecided ? .needMore : .no
    }

    public mutating func frame(_ side: Side, _ b: Bytes) -> Frame {
        if tunnel != nil { return .complete(b.count) }
        let known = side == .request ? noBlankLine.0 : noBlankLine.1
        if known > 0 && known <= b.count && b.count <= HTTP1.maxHead && !HTTP1.hasBlankLine(b, from: max(0, known - 2)) {
            setNoBlankLine(side, b.count)
            return .needMore(atLeast: b.count + 1, exact: false)
        }
        let f: Frame
        switch side {
        case .request: f = HTTP1.frameRequest(b)
        case .response: f = HTTP1.frameResponse(b, answering: pairer.front?.info)
        }
        if case .needMore = f, !HTTP1.hasBlankLine(b, from: 0) {
            setNoBlankLine(side, b.count)
        } else {
            setNoBlankLine(side, 0)
        }
        return f
    }

    mutating func setNoBlankLine(_ side: Side, _ n: Int) {
        if side == .request { noBlankLine.0 = n } else { noBlankLine.1 = n }
    }

    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? {
        if tunnel != nil { return from < b.count ? from : nil }
        return HTTP1.boundary(b, from: from, response: side == .response)
    }

    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        setNoBlankLine(side, 0)
        if tunnel != nil {
            tunnel?.add(side, m, maxBytes: UnknownSession.maxBytes, &out, &counters)
            return
        }
        switch side {
        case .request:
            pairer.request(m, info: HTTP1.kind(m.data), &out, limits, &counters)
        case .response:
            let kind = pairer.front?.info
            pairer.response(m, &out, &counters)
            if let status = HTTP1.finalStatus(m.data), !m.truncated,
               status == 101 || (kind?.connect == true && status / 100 == 2) {
                // Requests pipelined after the upgrade request are not HTTP/1.x any more.
                pairer.flush(&out, &counters)
                tunnel = OpaquePairer(proto: .unknown, flags: [Flag.upgraded])
            }
        }
    }

    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        setNoBlankLine(side, 0)
        if tunnel != nil { return }
        switch side {
        case .request:
            if !partial { pairer.lostRequest(info: HTTP1.RequestKind(), &out, limits, &counters) }
        case .response:
            pairer.lostResponses(partial: partial, lastTS: lastTS, &out, &counters)
        }
    }

    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        tunnel?.flush(&out, &counters)
        pairer.flush(&out, &counters)
    }
}
