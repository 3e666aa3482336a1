import OllyNDJSON

/// HTTP/2 (RFC 9113) on one connection, and gRPC over it: one exchange per stream.
///
/// The request direction starts with the client preface (prior knowledge, or h2 over TLS,
/// whose plaintext a TLS hook captured); then both directions are frames (`HTTP2Framing`).
/// Each stream's request is its HEADERS (and CONTINUATION) header list, its DATA payloads
/// (padding left out) and any trailers; its response likewise. Header blocks are decoded
/// with HPACK per direction (`HeaderBlockDecoder`), in wire order, whether or not their
/// stream is still tracked, so that the dynamic table stays right. A stream's exchange is
/// written when it completes: END_STREAM of both sides, or RST_STREAM (flagged `reset`);
/// streams refused by GOAWAY, evicted by the limit or open when the connection ends are
/// flushed (`no_response`, `truncated`). PUSH_PROMISE makes an exchange of the promised
/// stream flagged `push`, whose request is the promised header list.
public struct HTTP2Session: Session {
    public var proto: Proto { .http2 }

    enum Preface { case expected, seen, absent }

    struct Stream {
        var id: UInt32
        var seq: Int
        var req: Message?
        var resp: Message?
        /// END_STREAM seen, per side (request 0, response 1).
        var ended = PerSide(false)
        /// A header block of the side could not be decoded.
        var desync = PerSide(false)
        var flags: [String] = []
        /// The request's (else the response's) content-type is application/grpc…
        var grpc: Bool?
        var messages = PerSide(GRPCMessages())
        /// Body bytes kept, both sides.
        var kept = 0
        /// Header list bytes kept per side (RFC 7541 §4.1 sizes), at most `HTTP2.maxHeaderBlock`.
        var headerBytes = PerSide(0)
    }

    /// One value per side (request 0, response 1), held inline: a stream opens without
    /// allocating.
    struct PerSide<T> {
        var request: T
        var response: T
        init(_ value: T) { request = value; response = value }
        subscript(_ s: Int) -> T {
            get { s == 0 ? request : response }
            set { if s == 0 { request = newValue } else { response = newValue } }
        }
    }

    /// A header block waiting for its CONTINUATION frames.
    struct PendingBlock {
        var stream: UInt32
        var promised: UInt32?
        var endStream: Bool
        var block: [UInt8]
        var first: Message
        var dropped = false
    }

    var preface = Preface.expected
    var streams: [UInt32: Stream] = [:]
    var nextSeq = 0
    /// Highest stream opened by the client (odd IDs) and by the server (even IDs, pushes).
    var highestClient: UInt32 = 0
    var highestServer: UInt32 = 0
    var decoders = [HeaderBlockDecoder(exact: true), HeaderBlockDecoder(exact: true)]
    var pending: [PendingBlock?] = [nil, nil]
    /// SETTINGS_HEADER_TABLE_SIZE values each side sent that the other has not acknowledged
    /// yet (nil: a SETTINGS frame without one); bounded.
    var unacked: [[Int?]] = [[], []]
    /// The largest frame each side may send (the other side's SETTINGS_MAX_FRAME_SIZE).
    var maxFrame = [HTTP2.defaultMaxFrameSize, HTTP2.defaultMaxFrameSize]
    /// Frames of this side are checked for plausibility until one is whole (after a gap, or
    /// a request direction without the preface).
    var suspect = [false, false]
    /// Body bytes kept over all open streams.
    var keptTotal = 0

    public init() {}

    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        HTTP2.detect(first: first, out: out, in: inb)
    }

    // MARK: - Framing

    public mutating func frame(_ side: Side, _ b: Bytes) -> Frame {
        let s = side.rawValue
        if side == .request && preface == .expected {
            if let n = HTTP2.prefacePrefix(b) {
                return n == HTTP2.prefaceLength ? .complete(n) : .needMore(atLeast: HTTP2.prefaceLength, exact: true)
            }
            noPreface()
        }
        if suspect[s] {
            guard let i = HTTP2.boundary(b, from: 0, maxLength: maxFrame[s]) else { return .needMore(atLeast: b.count + 1, exact: false) }
            if i > 0 { return .skip(i) }
        }
        guard let h = HTTP2.header(b, at: 0) else { return .needMore(atLeast: HTTP2.frameHeaderLength, exact: false) }
        let total = HTTP2.frameHeaderLength + h.length
        if b.count < total { return .needMore(atLeast: total, exact: true) }
        suspect[s] = false
        return .complete(total)
    }

    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? {
        if side == .request && preface == .expected && from == 0 && HTTP2.prefacePrefix(b) != nil { return 0 }
        return HTTP2.boundary(b, from: from, maxLength: maxFrame[side.rawValue])
    }

    /// The request direction did not start with the preface (a capture that began in the
    /// middle of the connection): the HPACK tables are unknown.
    mutating func noPreface() {
        preface = .absent
        decoders[0].reset()
        decoders[1].reset()
        suspect[0] = true
    }

    // MARK: - Frames

    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        var head = m
        head.data = []
        m.data.withUnsafeBufferPointer { b in handle(side, head, b, &out, limits, &counters) }
    }

    /// Frames are read in place: only what a stream keeps (body bytes, header fields) is copied.
    public mutating func message(_ side: Side, _ m: Message, bytes: Bytes, _ out: inout Emitter, _ limits: Limits,
                                 _ counters: inout Counters) {
        handle(side, m, bytes, &out, limits, &counters)
    }

    /// One frame (or the preface) `b`; `m` holds its times, flags and length, not its data.
    mutating func handle(_ side: Side, _ m: Message, _ b: Bytes, _ out: inout Emitter, _ limits: Limits,
                         _ counters: inout Counters) {
        if side == .request && preface == .expected {
            let whole = !m.gap && !m.truncated && b.count == HTTP2.prefaceLength && HTTP2.prefacePrefix(b) == HTTP2.prefaceLength
            if whole {
                preface = .seen
                return
            }
            noPreface()
            if b.count <= HTTP2.prefaceLength { return }
        }
        guard let h = HTTP2.header(b, at: 0) else {
            // A frame header cut short (gap, end of the connection): what it held is unknown.
            lostBlock(side, &out, limits, &counters)
            return
        }
        if m.gap || m.truncated || b.count < HTTP2.frameHeaderLength + h.length {
            partialFrame(side, h, b, m, &out, limits, &counters)
            return
        }
        let payload = UnsafeBufferPointer(rebasing: b[HTTP2.frameHeaderLength...])
        if h.kind != .continuation, pending[side.rawValue] != nil {
            // RFC 9113 §6.10: nothing may come between a header block's frames.
            counters.malformed += 1
            dropPending(side, &out, limits, &counters)
        }
        switch h.kind {
        case .data: data(side, h, payload, m, &out, limits, &counters)
        case .headers: headers(side, h, payload, m, &out, limits, &counters)
        case .continuation: continuation(side, h, payload, m, &out, limits, &counters)
        case .pushPromise: pushPromise(side, h, payload, m, &out, limits, &counters)
        case .rstStream:
            guard h.stream != 0, h.length == 4 else { counters.malformed += 1; return }
            if streams[h.stream] != nil { complete(h.stream, extra: [Flag.reset], &out, &counters) }
        case .settings: settings(side, h, payload, &counters)
        case .goaway:
            guard h.stream == 0, h.length >= 8 else { counters.malformed += 1; return }
            goaway(side, lastStream: HTTP2.be32(payload, 0) & 0x7FFF_FFFF, &out, &counters)
        case .priority:
            if h.stream == 0 || h.length != 5 { counters.malformed += 1 }
        case .ping:
            if h.stream != 0 || h.length != 8 { counters.malformed += 1 }
        case .windowUpdate:
            if h.length != 4 { counters.malformed += 1 }
        case nil:
            break // RFC 9113 §5.5: frames of unknown types are ignored.
        }
    }

    /// The padding of a DATA, HEADERS or PUSH_PROMISE payload (RFC 9113 §6.1): the range of
    /// the payload inside it, after `skip` more bytes (priority fields, promised stream);
    /// nil when the padding is longer than the payload (a PROTOCOL_ERROR).
    static func unpadded(_ h: HTTP2.FrameHeader, _ p: Bytes, skip: Int) -> Range<Int>? {
        var start = 0, pad = 0
        if h.has(HTTP2.Flags.padded) {
            guard p.count >= 1 else { return nil }
            pad = Int(p[0])
            start = 1
        }
        start += skip
        guard start + pad <= p.count else { return nil }
        return start..<(p.count - pad)
    }

    mutating func data(_ side: Side, _ h: HTTP2.FrameHeader, _ p: Bytes, _ m: Message,
                       _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        guard h.stream != 0, let r = Self.unpadded(h, p, skip: 0) else { counters.malformed += 1; return }
        guard var st = take(h.stream, side: side, m, &out, limits, &counters) else { return }
        append(&st, side, UnsafeBufferPointer(rebasing: p[r]), len: r.count, gap: false, m, limits, &counters)
        if h.has(HTTP2.Flags.endStream) { st.ended[side.rawValue] = true }
        put(st, &out, &counters)
    }

    mutating func headers(_ side: Side, _ h: HTTP2.FrameHeader, _ p: Bytes, _ m: Message,
                          _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        guard h.stream != 0, let r = Self.unpadded(h, p, skip: h.has(HTTP2.Flags.priority) ? 5 : 0) else {
            // The block cannot be found in the frame: the peer's table moved on without us.
            counters.malformed += 1
            counters.hpackDesync += 1
            lostBlock(side, &out, limits, &counters)
            openDesynced(h.stream, side, m, endStream: h.has(HTTP2.Flags.endStream), &out, limits, &counters)
            return
        }
        let endStream = h.has(HTTP2.Flags.endStream)
        if h.has(HTTP2.Flags.endHeaders) {
            // The whole block is in this frame: decoded in place.
            let block = PendingBlock(stream: h.stream, promised: nil, endStream: endStream, block: [], first: m)
            headerBlock(side, block, UnsafeBufferPointer(rebasing: p[r]), m, &out, limits, &counters)
        } else {
            let block = PendingBlock(stream: h.stream, promised: nil, endStream: endStream, block: Array(p[r]), first: m)
            // The stream opens now; its headers come with the last CONTINUATION.
            if var st = take(h.stream, side: side, m, &out, limits, &counters) {
                if message(of: st, side) == nil { set(&st, side, Self.start(m)) }
                streams[st.id] = st
            }
            pending[side.rawValue] = block
            checkPendingSize(side, &counters)
        }
    }

    mutating func pushPromise(_ side: Side, _ h: HTTP2.FrameHeader, _ p: Bytes, _ m: Message,
                              _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        guard h.stream != 0, let r = Self.unpadded(h, p, skip: 4), r.lowerBound >= 4 else {
            counters.malformed += 1
            lostBlock(side, &out, limits, &counters)
            return
        }
        let promised = HTTP2.be32(p, r.lowerBound - 4) & 0x7FFF_FFFF
        if h.has(HTTP2.Flags.endHeaders) {
            let block = PendingBlock(stream: h.stream, promised: promised, endStream: false, block: [], first: m)
            headerBlock(side, block, UnsafeBufferPointer(rebasing: p[r]), m, &out, limits, &counters)
        } else {
            pending[side.rawValue] = PendingBlock(stream: h.stream, promised: promised, endStream: false, block: Array(p[r]), first: m)
            checkPendingSize(side, &counters)
        }
    }

    mutating func continuation(_ side: Side, _ h: HTTP2.FrameHeader, _ p: Bytes, _ m: Message,
                               _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        let s = side.rawValue
        guard var block = pending[s], block.stream == h.stream else {
            // A fragment without its start: whatever it adds to the peer's table is unknown.
            counters.malformed += 1
            dropPending(side, &out, limits, &counters)
            lostBlock(side, &out, limits, &counters)
            markDesync(h.stream, side)
            return
        }
        pending[s] = nil
        if !block.dropped { block.block.append(contentsOf: p) }
        pending[s] = block
        checkPendingSize(side, &counters)
        if h.has(HTTP2.Flags.endHeaders), let done = pending[s] {
            pending[s] = nil
            if done.dropped {
                if let promised = done.promised {
                    promise(promised, nil, done.first, m, &out, limits, &counters)
                } else {
                    markDesync(done.stream, side)
                    if done.endStream { endSide(done.stream, side, done.first, &out, limits, &counters) }
                }
            } else {
                done.block.withUnsafeBufferPointer { headerBlock(side, done, $0, m, &out, limits, &counters) }
            }
        }
    }

    /// A header block longer than `HTTP2.maxHeaderBlock` is not kept: it cannot be decoded.
    mutating func checkPendingSize(_ side: Side, _ counters: inout Counters) {
        let s = side.rawValue
        guard var p = pending[s], !p.dropped, p.block.count > HTTP2.maxHeaderBlock else { return }
        pending[s] = nil
        p.dropped = true
        p.block = []
        pending[s] = p
        counters.hpackDesync += 1
        decoders[s].reset()
    }

    /// A whole header block `bytes` (those of `block`, which may not hold them): decoded
    /// (always, to keep the table in step), then given to its stream — a new one, the other
    /// side's headers, 1xx and final responses, or trailers.
    mutating func headerBlock(_ side: Side, _ block: PendingBlock, _ bytes: Bytes, _ last: Message,
                              _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        let s = side.rawValue
        let wasExact = decoders[s].exact
        let list = decoders[s].decode(bytes)
        if list == nil {
            counters.hpackDesync += 1
            if wasExact { counters.malformed += 1 }
        }
        if let promised = block.promised {
            promise(promised, list, block.first, last, &out, limits, &counters)
            return
        }
        guard var st = take(block.stream, side: side, block.first, &out, limits, &counters) else { return }
        var msg = message(of: st, side) ?? Self.start(block.first)
        if let list {
            if msg.headers == nil { msg.headers = [] }
            // Header lists of one message are bounded too (1xx responses may repeat).
            let size = list.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
            if st.headerBytes[s] + size <= HTTP2.maxHeaderBlock {
                st.headerBytes[s] += size
                // The first list is taken as it is (no copy); later ones (trailers, 1xx) append.
                if msg.headers?.isEmpty ?? true { msg.headers = list } else { msg.headers?.append(contentsOf: list) }
            } else if !msg.truncated {
                msg.truncated = true
                counters.truncated += 1
            }
            if st.grpc == nil && (side == .request || st.req?.headers == nil) {
                if let ct = list.first(where: { $0.name == "content-type" }) {
                    st.grpc = ct.value.hasPrefix("application/grpc")
                } else if side == .request {
                    st.grpc = false
                }
            }
        } else {
            st.desync[s] = true
        }
        msg.end = max(msg.end, last.end)
        set(&st, side, msg)
        if block.endStream { st.ended[s] = true }
        put(st, &out, &counters)
    }

    /// PUSH_PROMISE: the promised stream's request is the promised header list.
    mutating func promise(_ id: UInt32, _ list: [HeaderField]?, _ first: Message, _ last: Message,
                          _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        guard id != 0, id % 2 == 0, id > highestServer else { counters.malformed += 1; return }
        highestServer = id
        evictIfFull(&out, limits, &counters)
        var st = Stream(id: id, seq: nextSeq)
        nextSeq += 1
        var req = Self.start(first)
        req.end = max(req.end, last.end)
        req.headers = list
        st.req = req
        st.desync[0] = list == nil
        st.ended[0] = true
        st.flags = [Flag.push]
        if let list, let ct = list.first(where: { $0.name == "content-type" }) { st.grpc = ct.value.hasPrefix("application/grpc") }
        streams[id] = st
    }

    mutating func settings(_ side: Side, _ h: HTTP2.FrameHeader, _ p: Bytes, _ counters: inout Counters) {
        let s = side.rawValue, o = side.other.rawValue
        guard h.stream == 0 else { counters.malformed += 1; return }
        if h.has(HTTP2.Flags.ack) {
            guard h.length == 0 else { counters.malformed += 1; return }
            // This side acknowledges the other's oldest SETTINGS: a new table size bounds
            // this side's encoder.
            if !unacked[o].isEmpty, let size = unacked[o].removeFirst() { decoders[s].setMaxTableSize(size) }
            return
        }
        guard h.length % 6 == 0 else { counters.malformed += 1; return }
        var size: Int?
        var i = 0
        while i + 6 <= p.count {
            let id = UInt16(p[i]) << 8 | UInt16(p[i + 1])
            let value = Int(HTTP2.be32(p, i + 2))
            if id == HTTP2.Setting.headerTableSize { size = value }
            if id == HTTP2.Setting.maxFrameSize, value >= HTTP2.defaultMaxFrameSize, value < 1 << 24 {
                maxFrame[o] = max(maxFrame[o], value)
            }
            i += 6
        }
        if unacked[s].count >= 16 { unacked[s].removeFirst() }
        unacked[s].append(size)
    }

    /// GOAWAY from `side`: streams the other side opened above `lastStream` were not and
    /// will not be processed.
    mutating func goaway(_ side: Side, lastStream: UInt32, _ out: inout Emitter, _ counters: inout Counters) {
        let otherOpensOdd = side == .response
        let refused = streams.values.filter { ($0.id % 2 == 1) == otherOpensOdd && $0.id > lastStream && $0.resp == nil }
            .map(\.id).sorted()
        for id in refused { complete(id, extra: [], &out, &counters) }
    }

    // MARK: - Gaps and partial frames

    /// A frame cut short by a gap or by the end of the connection, or with a hole.
    mutating func partialFrame(_ side: Side, _ h: HTTP2.FrameHeader, _ b: Bytes, _ m: Message,
                               _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        let s = side.rawValue
        switch h.kind {
        case .data:
            guard h.stream != 0 else { return }
            var start = HTTP2.frameHeaderLength, pad = 0
            if h.has(HTTP2.Flags.padded) {
                guard b.count > start else { return }
                pad = Int(b[start])
                start += 1
            }
            let payloadLength = max(0, h.length - (start - HTTP2.frameHeaderLength) - pad)
            let end = max(start, min(b.count, start + payloadLength))
            guard var st = take(h.stream, side: side, m, &out, limits, &counters) else { return }
            append(&st, side, UnsafeBufferPointer(rebasing: b[start..<end]), len: payloadLength, gap: true, m, limits, &counters)
            if h.has(HTTP2.Flags.endStream) { st.ended[s] = true }
            put(st, &out, &counters)
        case .headers:
            lostBlock(side, &out, limits, &counters)
            counters.hpackDesync += 1
            openDesynced(h.stream, side, m, endStream: h.has(HTTP2.Flags.endStream), &out, limits, &counters)
        case .pushPromise:
            lostBlock(side, &out, limits, &counters)
            counters.hpackDesync += 1
            let at = HTTP2.frameHeaderLength + (h.has(HTTP2.Flags.padded) ? 1 : 0)
            if b.count >= at + 4 { promise(HTTP2.be32(b, at) & 0x7FFF_FFFF, nil, m, m, &out, limits, &counters) }
        case .continuation:
            if pending[s] == nil { counters.hpackDesync += 1 }
            lostBlock(side, &out, limits, &counters)
        default:
            break
        }
    }

    /// A header block of `side` was lost: the decoder's table no longer follows the peer's.
    mutating func lostBlock(_ side: Side, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        dropPending(side, &out, limits, &counters)
        decoders[side.rawValue].reset()
    }

    /// The header block in progress on `side` will not be completed: its stream (or its
    /// promised stream) is flagged, and ends if the block said so.
    mutating func dropPending(_ side: Side, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        let s = side.rawValue
        guard let p = pending[s] else { return }
        pending[s] = nil
        decoders[s].reset()
        counters.hpackDesync += 1
        if let promised = p.promised {
            promise(promised, nil, p.first, p.first, &out, limits, &counters)
            return
        }
        markDesync(p.stream, side)
        if p.endStream { endSide(p.stream, side, p.first, &out, limits, &counters) }
    }

    mutating func markDesync(_ id: UInt32, _ side: Side) {
        guard var st = streams.removeValue(forKey: id) else { return }
        st.desync[side.rawValue] = true
        streams[id] = st
    }

    /// A stream whose header block of `side` is lost: opened if new, flagged.
    mutating func openDesynced(_ id: UInt32, _ side: Side, _ m: Message, endStream: Bool,
                               _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        guard var st = take(id, side: side, m, &out, limits, &counters) else { return }
        if message(of: st, side) == nil { set(&st, side, Self.start(m)) }
        st.desync[side.rawValue] = true
        if endStream { st.ended[side.rawValue] = true }
        put(st, &out, &counters)
    }

    mutating func endSide(_ id: UInt32, _ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        guard var st = take(id, side: side, m, &out, limits, &counters) else { return }
        st.ended[side.rawValue] = true
        put(st, &out, &counters)
    }

    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        let s = side.rawValue
        lostBlock(side, &out, limits, &counters)
        suspect[s] = true
        // Acknowledgements this side sent may be in the gap.
        unacked[side.other.rawValue].removeAll()
        for id in Array(streams.keys) {
            guard var st = streams.removeValue(forKey: id) else { continue }
            if !st.ended[s] {
                if !st.flags.contains(Flag.gap) { st.flags.append(Flag.gap) }
                st.messages[s].breakCount()
            }
            streams[id] = st
        }
    }

    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        for s in 0..<2 {
            if let p = pending[s] {
                pending[s] = nil
                markDesync(p.stream, Side(rawValue: s) ?? .request)
            }
        }
        for id in streams.keys.sorted() { complete(id, extra: [], &out, &counters) }
    }

    // MARK: - Streams

    static func start(_ m: Message) -> Message {
        var x = Message()
        x.ts = m.ts
        x.end = m.end
        x.pid = m.pid
        x.tid = m.tid
        return x
    }

    func message(of st: Stream, _ side: Side) -> Message? { side == .request ? st.req : st.resp }

    func set(_ st: inout Stream, _ side: Side, _ m: Message) {
        if side == .request { st.req = m } else { st.resp = m }
    }

    /// Takes a stream out of the table to change it (`put` puts it back): no copy of its
    /// bodies is made. A stream not seen before is opened when its ID is above every ID its
    /// initiator used (a frame of a closed or evicted stream gives nil).
    mutating func take(_ id: UInt32, side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) -> Stream? {
        if let st = streams.removeValue(forKey: id) { return st }
        // The client opens odd streams; even ones are the server's (promised first).
        guard id != 0, id % 2 == 1 || side == .response else { return nil }
        if id % 2 == 1 {
            guard id > highestClient else { return nil }
            highestClient = id
        } else {
            guard id > highestServer else { return nil }
            highestServer = id
        }
        evictIfFull(&out, limits, &counters)
        var st = Stream(id: id, seq: nextSeq)
        nextSeq += 1
        // First seen by the response (its request was before the capture, or in a gap): no
        // request will come; the exchange ends with the response.
        if side == .response { st.ended[0] = true }
        return st
    }

    /// Puts a stream back, or writes its exchange when it is complete.
    mutating func put(_ st: Stream, _ out: inout Emitter, _ counters: inout Counters) {
        streams[st.id] = st
        if st.ended[0] && st.ended[1] { complete(st.id, extra: [], &out, &counters) }
    }

    /// At `Limits.maxPending` open streams, the oldest is written flagged `evicted`.
    mutating func evictIfFull(_ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        while streams.count >= max(1, limits.maxPending), let oldest = streams.values.min(by: { $0.seq < $1.seq }) {
            counters.pendingEvicted += 1
            complete(oldest.id, extra: [Flag.evicted], &out, &counters)
        }
    }

    mutating func append(_ st: inout Stream, _ side: Side, _ bytes: Bytes, len: Int, gap: Bool, _ m: Message,
                         _ limits: Limits, _ counters: inout Counters) {
        let s = side.rawValue
        var msg = (side == .request ? st.req : st.resp) ?? Self.start(m)
        if side == .request { st.req = nil } else { st.resp = nil }
        msg.len += Int64(len)
        msg.end = max(msg.end, m.end)
        let room = max(0, min(limits.maxStreamBytes - msg.data.count, limits.maxBufferBytes - keptTotal))
        let keep = min(room, bytes.count)
        msg.data.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[0..<keep]))
        st.kept += keep
        keptTotal += keep
        if keep < bytes.count && !msg.truncated {
            msg.truncated = true
            counters.truncated += 1
        }
        if gap {
            msg.gap = true
            st.messages[s].breakCount()
        } else if st.grpc == true {
            st.messages[s].feed(bytes)
        }
        set(&st, side, msg)
    }

    /// Writes the exchange of a stream and forgets the stream.
    mutating func complete(_ id: UInt32, extra: [String], _ out: inout Emitter, _ counters: inout Counters) {
        guard var st = streams.removeValue(forKey: id) else { return }
        keptTotal -= st.kept
        var flags = st.flags + extra
        for s in 0..<2 {
            let side = Side(rawValue: s) ?? .request
            guard var msg = message(of: st, side) else { continue }
            if st.desync[s] {
                msg.headers = nil
                if !flags.contains(Flag.hpackDesync) { flags.append(Flag.hpackDesync) }
            }
            if !st.ended[s] && !msg.truncated && !extra.contains(Flag.reset) {
                msg.truncated = true
                counters.truncated += 1
            }
            if st.grpc == true && !st.messages[s].broken {
                msg.messages = st.messages[s].count
                if st.messages[s].inMessage && !msg.truncated {
                    msg.truncated = true
                    counters.truncated += 1
                }
            }
            set(&st, side, msg)
        }
        if st.desync[0] && st.req == nil || st.desync[1] && st.resp == nil {
            if !flags.contains(Flag.hpackDesync) { flags.append(Flag.hpackDesync) }
        }
        if st.resp == nil {
            flags.append(Flag.noResponse)
            counters.noResponse += 1
        }
        if st.req == nil {
            flags.append(Flag.noRequest)
            counters.noRequest += 1
        }
        var e = Exchange(proto: st.grpc == true ? .grpc : .http2, req: st.req, resp: st.resp,
                         flags: Flag.merge(flags, st.req, st.resp))
        e.stream = Int64(id)
        out.emit(e)
    }
}
