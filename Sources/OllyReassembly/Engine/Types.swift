import OllyNDJSON

/// Which half of an exchange a direction of a connection carries.
public enum Side: Int, Sendable {
    case request = 0, response = 1
    public var other: Side { self == .request ? .response : .request }
}

/// What a framer says about the bytes at the start of a buffer (swift-nio style: each
/// outcome states how much of the buffer it covers).
public enum Frame: Equatable, Sendable {
    /// A whole message of this many bytes starts the buffer.
    case complete(Int)
    /// More bytes are needed. `atLeast` is the length below which framing need not be tried
    /// again; when `exact`, it is the message's total length.
    case needMore(atLeast: Int, exact: Bool)
    /// This many bytes are not part of any message and are skipped (e.g. blank lines
    /// before an HTTP request); counted in `skipped_bytes`.
    case skip(Int)
    /// The message runs until the direction ends (an HTTP body delimited by close).
    case untilClose
    /// The buffer does not start with a message: resynchronise.
    case invalid
}

/// One framed message of one direction.
public struct Message: Sendable, Equatable {
    /// Times of the records holding its first and last byte.
    public var ts: Int64 = 0
    public var end: Int64 = 0
    /// Its length in the stream (gap bytes included).
    public var len: Int64 = 0
    /// Its captured bytes (gap bytes left out; a head only when truncated).
    public var data: [UInt8] = []
    /// Bytes of it were not captured.
    public var gap = false
    /// It was cut short (by a gap, the end of the connection or a limit).
    public var truncated = false
    public var pid: Int?
    public var tid: Int?
    /// Decoded header fields in wire order (HTTP/2: every header block of this side).
    public var headers: [HeaderField]?
    /// gRPC length-prefixed messages in `data` (gRPC only).
    public var messages: Int?
    public init() {}
    public init(data: [UInt8], ts: Int64 = 0, end: Int64 = 0) {
        self.data = data; self.ts = ts; self.end = end; self.len = Int64(data.count)
    }
}

/// One decoded header field (HTTP/2).
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// An exchange as a session makes it; the engine adds the connection's members.
public struct Exchange: Sendable {
    public var proto: Proto
    public var req: Message?
    public var resp: Message?
    public var flags: [String] = []
    public var stream: Int64?
    public init(proto: Proto, req: Message?, resp: Message?, flags: [String] = []) {
        self.proto = proto; self.req = req; self.resp = resp; self.flags = flags
    }
}

/// Where sessions put the exchanges they complete, in order.
public struct Emitter {
    public var exchanges: [Exchange] = []
    public init() {}
    public mutating func emit(_ e: Exchange) { exchanges.append(e) }
}

/// Flag names written in `exchange.flags` (olly-records(7)).
public enum Flag {
    public static let gap = "gap"
    public static let truncated = "truncated"
    public static let noResponse = "no_response"
    public static let noRequest = "no_request"
    public static let pipelined = "pipelined"
    public static let evicted = "evicted"
    public static let upgraded = "upgraded"
    public static let push = "push"
    public static let reset = "reset"
    public static let hpackDesync = "hpack_desync"
    public static let malformed = "malformed"
    public static let compressed = "compressed"

    /// Flags of a message merged into an exchange's flags, without duplicates, in a fixed order.
    static func merge(_ flags: [String], _ messages: Message?...) -> [String] {
        var set = flags
        for m in messages {
            guard let m else { continue }
            if m.gap && !set.contains(gap) { set.append(gap) }
            if m.truncated && !set.contains(truncated) { set.append(truncated) }
        }
        let order = [gap, truncated, noResponse, noRequest, pipelined, evicted, upgraded, push, reset, hpackDesync, malformed, compressed]
        return set.sorted { (order.firstIndex(of: $0) ?? order.count) < (order.firstIndex(of: $1) ?? order.count) }
    }
}

/// A typed view of a contiguous run of bytes; framers read with it and never go out of bounds.
public typealias Bytes = UnsafeBufferPointer<UInt8>
