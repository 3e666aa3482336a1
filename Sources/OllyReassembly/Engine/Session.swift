import OllyNDJSON

/// One protocol on one connection, Pixie style: find a message boundary, frame a message,
/// pair messages into exchanges. The engine owns ordering, buffering, gaps and limits and
/// calls these in stream order per direction.
public protocol Session {
    var proto: Proto { get }
    /// Each `data` record is one message (DNS over UDP); no bytes are carried over.
    var datagram: Bool { get }
    /// Frames one message at the start of `b` (which holds only whole captured bytes, with
    /// gap bytes inside a message of known length filled with zeros).
    mutating func frame(_ side: Side, _ b: Bytes) -> Frame
    /// The index of the first position at or after `from` where a message may start, for
    /// resynchronising after a gap or an invalid message; nil when there is none in `b`.
    func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int?
    /// A framed message (or a partial one, flagged) to pair.
    mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters)
    /// A whole framed message without a hole, handed over in place: `m` holds its times,
    /// pid, tid and length but no data, and `bytes` (valid only during the call) are its
    /// bytes. The default copies them into `m.data` and calls `message`; a session that
    /// reads its messages without keeping them (HTTP/2 frames) saves that copy.
    mutating func message(_ side: Side, _ m: Message, bytes: Bytes, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters)
    /// Whole messages of `side` may have been lost in a gap; `ts` is the time of the last
    /// record of that side before the gap; `partial` says the message the gap hit was passed
    /// to `message` (flagged), else the gap fell between messages.
    mutating func lost(_ side: Side, partial: Bool, lastTS ts: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters)
    /// The connection ended (closed, idle or evicted): flush what is pending.
    mutating func close(_ out: inout Emitter, _ counters: inout Counters)
}

extension Session {
    public var datagram: Bool { false }

    public mutating func message(_ side: Side, _ m: Message, bytes: Bytes, _ out: inout Emitter, _ limits: Limits,
                                 _ counters: inout Counters) {
        var m = m
        m.data = Array(bytes)
        message(side, m, &out, limits, &counters)
    }
}

/// Limits of the engine (olly-reassemble(1), LIMITS). Reaching one evicts the oldest
/// state and counts it; it never stops the stage.
public struct Limits: Sendable {
    /// Bytes buffered per connection, both directions together (unframed bytes and a
    /// message waiting to complete).
    public var maxBufferBytes = 16 << 20
    /// Requests waiting for their response, per connection.
    public var maxPending = 1024
    /// Connections in the table.
    public var maxConns = 65536
    /// A connection without a record for this long (record time, nanoseconds) is flushed
    /// and forgotten.
    public var idleTimeout: Int64 = 300_000_000_000
    /// Out-of-order records held per direction before the missing bytes become a gap.
    public var reorderWindow = 64
    /// Bytes kept per direction before the protocol is known; then it is `unknown`.
    public var detectBytes = 16384
    /// HTTP/2: body bytes kept per stream and direction (`len` counts them all).
    public var maxStreamBytes = 4 << 20
    public init() {}
}

/// The engine's counters, written in the stage's `stats` record in this order.
public struct Counters: Sendable, Equatable {
    public var exchanges: Int64 = 0
    public var conns: Int64 = 0
    public var connsEvicted: Int64 = 0
    public var connsIdle: Int64 = 0
    public var gaps: Int64 = 0
    public var gapBytes: Int64 = 0
    public var skippedBytes: Int64 = 0
    public var reordered: Int64 = 0
    public var duplicateBytes: Int64 = 0
    public var truncated: Int64 = 0
    public var noResponse: Int64 = 0
    public var noRequest: Int64 = 0
    public var pendingEvicted: Int64 = 0
    public var malformed: Int64 = 0
    public var unknownExchanges: Int64 = 0
    /// HTTP/2 header blocks that could not be decoded (HPACK state unknown after a gap).
    public var hpackDesync: Int64 = 0
    public init() {}

    public var list: [(String, Int64)] {
        [("exchanges", exchanges), ("conns", conns), ("conns_evicted", connsEvicted), ("conns_idle", connsIdle),
         ("gaps", gaps), ("gap_bytes", gapBytes), ("skipped_bytes", skippedBytes), ("reordered_records", reordered),
         ("duplicate_bytes", duplicateBytes), ("truncated_messages", truncated), ("no_response", noResponse),
         ("no_request", noRequest), ("pending_evicted", pendingEvicted), ("malformed", malformed),
         ("unknown_exchanges", unknownExchanges), ("hpack_desync", hpackDesync)]
    }
}
