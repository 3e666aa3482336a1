import OllyNDJSON

/// A request waiting for its response.
public struct Pending<Info>: Sendable where Info: Sendable {
    public var req: Message?
    public var flags: [String]
    public var info: Info
    /// Response messages already gathered (protocols whose answer is several messages).
    public var resp: Message?
}

/// First-in first-out pairing (HTTP/1.x, Redis, PostgreSQL): responses answer requests in
/// the order they were sent. Bounded by `Limits.maxPending`.
public struct FIFOPairer<Info: Sendable>: Sendable {
    public private(set) var queue: [Pending<Info>] = []
    var head = 0
    public let proto: Proto
    public init(proto: Proto) { self.proto = proto }

    public var count: Int { queue.count - head }
    public var front: Pending<Info>? { head < queue.count ? queue[head] : nil }

    public mutating func updateFront(_ f: (inout Pending<Info>) -> Void) {
        if head < queue.count { f(&queue[head]) }
    }

    public mutating func updateBack(_ f: (inout Pending<Info>) -> Void) {
        if head < queue.count { f(&queue[queue.count - 1]) }
    }

    /// Queues a request; marks it `pipelined` when an earlier one is still unanswered.
    public mutating func request(_ m: Message?, info: Info, flags: [String] = [], _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        var flags = flags
        if count > 0 && m != nil && !flags.contains(Flag.pipelined) { flags.append(Flag.pipelined) }
        if count >= limits.maxPending, let old = popFront() {
            counters.pendingEvicted += 1
            counters.noResponse += 1
            out.emit(Exchange(proto: proto, req: old.req, resp: old.resp, flags: Flag.merge(old.flags + [Flag.noResponse, Flag.evicted], old.req, old.resp)))
        }
        queue.append(Pending(req: m, flags: flags, info: info, resp: nil))
    }

    public mutating func popFront() -> Pending<Info>? {
        guard head < queue.count else { return nil }
        let p = queue[head]
        head += 1
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return p
    }

    /// Pairs a response with the oldest request (or emits it alone, flagged `no_request`).
    public mutating func response(_ m: Message, flags: [String] = [], _ out: inout Emitter, _ counters: inout Counters) {
        if let p = popFront() {
            out.emit(Exchange(proto: proto, req: p.req, resp: m, flags: Flag.merge(p.flags + flags, p.req, m)))
        } else {
            counters.noRequest += 1
            out.emit(Exchange(proto: proto, req: nil, resp: m, flags: Flag.merge(flags + [Flag.noRequest], m)))
        }
    }

    /// After a gap in the response direction: unless the partial response was already paired,
    /// the front request's answer was lost in it, and requests sent before the last response
    /// record before the gap may have been answered inside it too. They are flushed, flagged `gap`, rather than risk pairing them with the
    /// wrong responses.
    public mutating func lostResponses(partial: Bool, lastTS: Int64, _ out: inout Emitter, _ counters: inout Counters) {
        var first = !partial
        while let p = front, first || (p.req.map { $0.end <= lastTS } ?? true) {
            first = false
            _ = popFront()
            if p.resp == nil { counters.noResponse += 1 }
            out.emit(Exchange(proto: proto, req: p.req, resp: p.resp,
                              flags: Flag.merge(p.flags + [Flag.gap] + (p.resp == nil ? [Flag.noResponse] : []), p.req, p.resp)))
        }
    }

    /// After a gap in the request direction: a request may have been lost in it; a
    /// placeholder takes its place so that its response is not paired with the next one.
    public mutating func lostRequest(info: Info, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        request(nil, info: info, flags: [Flag.gap], &out, limits, &counters)
    }

    /// Flushes every pending request as `no_response`.
    public mutating func flush(_ out: inout Emitter, _ counters: inout Counters) {
        while let p = popFront() {
            if p.req == nil && p.resp == nil { continue } // a placeholder never answered
            if p.resp == nil { counters.noResponse += 1 }
            out.emit(Exchange(proto: proto, req: p.req, resp: p.resp,
                              flags: Flag.merge(p.flags + (p.resp == nil ? [Flag.noResponse] : [Flag.truncated]), p.req, p.resp)))
        }
    }
}

/// Pairing of traffic whose messages cannot be framed (unknown protocols, upgraded
/// connections): a request is what one side sends until the other side speaks; the
/// response is what the other side sends until the first speaks again.
public struct OpaquePairer: Sendable {
    var req: Message?
    var resp: Message?
    let proto: Proto
    let flags: [String]
    public init(proto: Proto, flags: [String] = []) { self.proto = proto; self.flags = flags }

    public mutating func add(_ side: Side, _ m: Message, maxBytes: Int, _ out: inout Emitter, _ counters: inout Counters) {
        switch side {
        case .request:
            if resp != nil { emit(&out, &counters) }
            req = Self.append(req, m, maxBytes: maxBytes, &counters)
        case .response:
            resp = Self.append(resp, m, maxBytes: maxBytes, &counters)
        }
    }

    static func append(_ a: Message?, _ m: Message, maxBytes: Int, _ counters: inout Counters) -> Message {
        guard var a else { return m }
        let room = max(0, maxBytes - a.data.count)
        if m.data.count > room {
            if !a.truncated { counters.truncated += 1 }
            a.truncated = true
            a.data += m.data.prefix(room)
        } else {
            a.data += m.data
        }
        a.len += m.len
        a.end = m.end
        a.gap = a.gap || m.gap
        a.truncated = a.truncated || m.truncated
        return a
    }

    mutating func emit(_ out: inout Emitter, _ counters: inout Counters) {
        guard req != nil || resp != nil else { return }
        var f = flags
        if req == nil { f.append(Flag.noRequest); counters.noRequest += 1 }
        if proto == .unknown { counters.unknownExchanges += 1 }
        out.emit(Exchange(proto: proto, req: req, resp: resp, flags: Flag.merge(f, req, resp)))
        req = nil
        resp = nil
    }

    public mutating func flush(_ out: inout Emitter, _ counters: inout Counters) {
        if req != nil && resp == nil {
            var f = flags
            f.append(Flag.noResponse)
            counters.noResponse += 1
            if proto == .unknown { counters.unknownExchanges += 1 }
            out.emit(Exchange(proto: proto, req: req, resp: nil, flags: Flag.merge(f, req)))
            req = nil
        } else {
            emit(&out, &counters)
        }
    }
}
