import OllyNDJSON

/// PostgreSQL frontend/backend protocol 3.0 framing
/// (https://www.postgresql.org/docs/current/protocol-message-formats.html): an untyped
/// startup packet (`int32 length, int32 code`), then messages `byte1 type, int32 length`
/// (the length counts itself, not the type).
public enum PG {
    public static let protocol3: UInt32 = 196608
    public static let sslRequest: UInt32 = 80877103
    public static let gssEncRequest: UInt32 = 80877104
    public static let cancelRequest: UInt32 = 80877102
    /// Largest message accepted (the server's own limit for most messages is 1 GB).
    public static let maxMessage = 1 << 30
    static let frontendTypes: [UInt8] = Array("QPBDECSHFXpdcf".utf8)
    static let backendTypes: [UInt8] = Array("RKSZTDCEINAGHWdcnst123vV".utf8)

    static func be32(_ b: Bytes, _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    /// Frames a typed message at `from`.
    static func typed(_ b: Bytes, _ from: Int, types: [UInt8]) -> Frame {
        guard b.count - from >= 5 else {
            if b.count > from && !types.contains(b[from]) { return .invalid }
            return .needMore(atLeast: from + 5, exact: false)
        }
        guard types.contains(b[from]) else { return .invalid }
        let len = Int(be32(b, from + 1))
        guard len >= 4, len <= maxMessage else { return .invalid }
        return b.count - from >= 1 + len ? .complete(1 + len) : .needMore(atLeast: from + 1 + len, exact: true)
    }

    /// Frames an untyped startup-phase packet.
    static func startup(_ b: Bytes) -> Frame {
        guard b.count >= 8 else {
            if !b.isEmpty && b[0] != 0 { return .invalid }
            return .needMore(atLeast: 8, exact: false)
        }
        let len = Int(be32(b, 0)), code = be32(b, 4)
        guard len >= 8, len <= 10000,
              code == protocol3 || code == sslRequest || code == gssEncRequest || code == cancelRequest
                || code >> 16 == 3 else { return .invalid }
        return b.count >= len ? .complete(len) : .needMore(atLeast: len, exact: true)
    }

    /// Where a typed message may start: a known type, a sane length, and the next message
    /// (when its header is buffered) sane too.
    static func boundary(_ b: Bytes, from: Int, types: [UInt8]) -> Int? {
        var i = from
        while i < b.count {
            if types.contains(b[i]) {
                switch typed(b, i, types: types) {
                case .needMore: return i
                case .complete(let n):
                    let next = i + n
                    if next == b.count { return i }
                    if case .invalid = typed(b, next, types: types) {} else { return i }
                default: break
                }
            }
            i += 1
        }
        return nil
    }
}

/// PostgreSQL on one connection. A request is the startup packet (with the password
/// messages that follow it), a simple Query, a FunctionCall, or the extended-query
/// messages up to and including Sync; COPY data the client sends belongs to the request it
/// answers. A response is every backend message up to and including ReadyForQuery (or the
/// one-byte answer to SSLRequest/GSSENCRequest). Requests are pipelined; NoticeResponse,
/// NotificationResponse and ParameterStatus while nothing is pending are `push`
/// exchanges. Terminate and CancelRequest are exchanges without a response by design.
public struct PostgresSession: Session {
    public var proto: Proto { .postgres }

    public struct Info: Sendable {
        /// The answer is one byte (SSLRequest, GSSENCRequest).
        var oneByte = false
    }

    var pairer = FIFOPairer<Info>(proto: .postgres)
    /// The frontend is still in the startup phase (untyped packets).
    var frontendStartup = true
    /// Extended-query messages not yet closed by Sync.
    var open: Message?
    /// Backend messages not yet closed by ReadyForQuery.
    var cur: Message?
    /// After SSLRequest 'S': the rest is TLS, not framed.
    var encrypted: OpaquePairer?
    public init() {}

    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        for (b, dir) in [(out, Direction.out), (inb, .in)] where !b.isEmpty {
            switch PG.startup(b) {
            case .complete, .needMore(_, exact: true): return .yes(requestDir: dir, datagram: false)
            case .needMore: if b.count < 8 && dir == first { return .needMore }
            default: break
            }
        }
        // In the middle of a connection: typed frontend messages, believed on the port only.
        for (b, dir) in [(out, Direction.out), (inb, .in)] where dir == first && !b.isEmpty {
            if case .complete = PG.typed(b, 0, types: PG.frontendTypes) { return .weak(requestDir: dir) }
        }
        return .no
    }

    public func frame(_ side: Side, _ b: Bytes) -> Frame {
        if encrypted != nil { return .complete(b.count) }
        switch side {
        case .request:
            return frontendStartup ? PG.startup(b) : PG.typed(b, 0, types: PG.frontendTypes)
        case .response:
            if pairer.front?.info.oneByte == true && cur == nil {
                return b[0] == UInt8(ascii: "N") || b[0] == UInt8(ascii: "S") || b[0] == UInt8(ascii: "G")
                    ? .complete(1) : .invalid
            }
            return PG.typed(b, 0, types: PG.backendTypes)
        }
    }

    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? {
        if encrypted != nil { return from < b.count ? from : nil }
        return PG.boundary(b, from: from, types: side == .request ? PG.frontendTypes : PG.backendTypes)
    }

    func append(_ a: Message?, _ m: Message, _ limits: Limits, _ counters: inout Counters) -> Message {
        OpaquePairer.append(a, m, maxBytes: limits.maxBufferBytes, &counters)
    }

    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        if encrypted != nil {
            encrypted?.add(side, m, maxBytes: UnknownSession.maxBytes, &out, &counters)
            return
        }
        guard let t = m.data.first else { return }
        switch side {
        case .request:
            if frontendStartup {
                let code: UInt32 = m.data.withUnsafeBufferPointer { $0.count >= 8 ? PG.be32($0, 4) : 0 }
                switch code {
                case PG.sslRequest, PG.gssEncRequest:
                    pairer.request(m, info: Info(oneByte: true), &out, limits, &counters)
                case PG.cancelRequest:
                    out.emit(Exchange(proto: .postgres, req: m, resp: nil))
                default:
                    frontendStartup = false
                    pairer.request(m, info: Info(), &out, limits, &counters)
                }
                return
            }
            switch t {
            case UInt8(ascii: "p"), UInt8(ascii: "d"), UInt8(ascii: "c"), UInt8(ascii: "f"):
                // Password and COPY data belong to the request being answered.
                if pairer.count > 0 && open == nil {
                    var c = counters
                    pairer.updateBack { $0.req = OpaquePairer.append($0.req, m, maxBytes: limits.maxBufferBytes, &c) }
                    counters = c
                } else {
                    open = append(open, m, limits, &counters)
                }
            case UInt8(ascii: "Q"), UInt8(ascii: "F"):
                // Messages not closed by Sync (a Flush, say) get no ReadyForQuery of their
                // own: whatever answers them comes before this one's, so they go with it.
                open = append(open, m, limits, &counters)
                closeOpen(&out, limits, &counters)
            case UInt8(ascii: "S"):
                open = append(open, m, limits, &counters)
                closeOpen(&out, limits, &counters)
            case UInt8(ascii: "X"):
                closeOpen(&out, limits, &counters)
                out.emit(Exchange(proto: .postgres, req: m, resp: nil))
            default:
                open = append(open, m, limits, &counters)
            }
        case .response:
            if let f = pairer.front, f.info.oneByte, cur == nil, m.data.count == 1 {
                pairer.response(m, &out, &counters)
                if t == UInt8(ascii: "N") { frontendStartup = true }
                else {
                    pairer.flush(&out, &counters)
                    encrypted = OpaquePairer(proto: .unknown, flags: [])
                }
                return
            }
            if cur == nil && pairer.count == 0
                && (t == UInt8(ascii: "N") || t == UInt8(ascii: "A") || t == UInt8(ascii: "S")) {
                out.emit(Exchange(proto: .postgres, req: nil, resp: m, flags: Flag.merge([Flag.push], m)))
                return
            }
            cur = append(cur, m, limits, &counters)
            if t == UInt8(ascii: "Z"), let r = cur {
                cur = nil
                pairer.response(r, &out, &counters)
            }
        }
    }

    mutating func closeOpen(_ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        if let o = open {
            open = nil
            pairer.request(o, info: Info(), &out, limits, &counters)
        }
    }

    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        switch side {
        case .request:
            if var o = open {
                o.gap = true
                open = o
            } else if !partial {
                pairer.lostRequest(info: Info(), &out, limits, &counters)
            }
        case .response:
            let hadPartial = cur != nil
            if var r = cur {
                cur = nil
                r.gap = true
                r.truncated = true
                pairer.response(r, &out, &counters)
            }
            pairer.lostResponses(partial: hadPartial, lastTS: lastTS, &out, &counters)
        }
    }

    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        encrypted?.flush(&out, &counters)
        if let o = open {
            open = nil
            counters.noResponse += 1
            out.emit(Exchange(proto: .postgres, req: o, resp: nil, flags: Flag.merge([Flag.noResponse], o)))
        }
        if let r = cur {
            // A response cut off by the end of the connection; an ErrorResponse ending the
            // startup (the server then closes) is whole.
            cur = nil
            var r = r
            if !lastIsError(r) { r.truncated = true; counters.truncated += 1 }
            pairer.response(r, &out, &counters)
        }
        pairer.flush(&out, &counters)
    }

    /// Whether the last backend message gathered in `m` is an ErrorResponse.
    func lastIsError(_ m: Message) -> Bool {
        m.data.withUnsafeBufferPointer { b in
            var i = 0
            var last: UInt8 = 0
            while i + 5 <= b.count {
                last = b[i]
                i += 1 + Int(PG.be32(b, i + 1))
            }
            return last == UInt8(ascii: "E") && i == b.count
        }
    }
}
