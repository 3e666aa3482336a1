import OllyNDJSON

/// HTTP/2 framing (RFC 9113 §4.1) on bytes. Every frame starts with a 9-byte header:
///
///     +-----------------------------------------------+
///     |                 Length (24)                   |
///     +---------------+---------------+---------------+
///     |   Type (8)    |   Flags (8)   |
///     +-+-------------+---------------+-------------------------------+
///     |R|                 Stream Identifier (31)                      |
///     +=+=============================================================+
///     |                   Frame Payload (0...)                      ...
///     +---------------------------------------------------------------+
///
/// Framing in sync takes every header as it comes (unknown types are skipped, RFC 9113
/// §5.5); detection and resynchronisation after a gap accept only headers that a
/// conforming peer sends (`plausible`).
public enum HTTP2 {
    /// The client connection preface (RFC 9113 §3.4).
    public static let preface: StaticString = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    public static let prefaceLength = 24
    public static let frameHeaderLength = 9
    /// SETTINGS_MAX_FRAME_SIZE until a peer says otherwise (RFC 9113 §6.5.2).
    public static let defaultMaxFrameSize = 16384
    /// SETTINGS_HEADER_TABLE_SIZE until a peer says otherwise.
    public static let defaultHeaderTableSize = 4096
    /// Longest header block (HEADERS or PUSH_PROMISE with its CONTINUATION frames) and longest
    /// decoded header list accepted; a longer one is dropped (its exchange `hpack_desync`).
    public static let maxHeaderBlock = 262_144
    /// Largest HPACK dynamic table kept per direction, whatever SETTINGS_HEADER_TABLE_SIZE
    /// allows (browsers ask for 64 KiB; the default is 4 KiB). A smaller table than the
    /// encoder's only evicts earlier: a block that needs an entry evicted here is
    /// `hpack_desync`, never misread (see `HeaderBlockDecoder`).
    public static let maxHeaderTable = 65536

    /// Frame types (RFC 9113 §6).
    public enum FrameType: UInt8, Sendable {
        case data = 0, headers = 1, priority = 2, rstStream = 3, settings = 4, pushPromise = 5, ping = 6,
             goaway = 7, windowUpdate = 8, continuation = 9
    }

    /// Frame flags (RFC 9113 §6).
    public enum Flags {
        public static let endStream: UInt8 = 0x1
        public static let ack: UInt8 = 0x1
        public static let endHeaders: UInt8 = 0x4
        public static let padded: UInt8 = 0x8
        public static let priority: UInt8 = 0x20
    }

    /// SETTINGS parameters (RFC 9113 §6.5.2) this engine uses.
    enum Setting {
        static let headerTableSize: UInt16 = 0x1
        static let maxFrameSize: UInt16 = 0x5
    }

    public struct FrameHeader: Sendable, Equatable {
        public var length: Int
        public var type: UInt8
        public var flags: UInt8
        public var stream: UInt32
        public var kind: FrameType? { FrameType(rawValue: type) }
        public func has(_ f: UInt8) -> Bool { flags & f != 0 }
    }

    static func be32(_ b: Bytes, _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    /// The frame header at `i`, when 9 bytes are there; the reserved bit is ignored (§4.1).
    public static func header(_ b: Bytes, at i: Int) -> FrameHeader? {
        guard i >= 0, b.count - i >= frameHeaderLength else { return nil }
        let length = Int(b[i]) << 16 | Int(b[i + 1]) << 8 | Int(b[i + 2])
        return FrameHeader(length: length, type: b[i + 3], flags: b[i + 4], stream: be32(b, i + 5) & 0x7FFF_FFFF)
    }

    /// Whether a conforming peer sends this header: a known type on the right kind of stream,
    /// no undefined flag, a length the type allows and at most `maxLength`, the reserved bit clear.
    public static func plausible(_ b: Bytes, at i: Int, maxLength: Int = defaultMaxFrameSize) -> Bool {
        guard let h = header(b, at: i), b[i + 5] & 0x80 == 0, h.length <= maxLength, let kind = h.kind else { return false }
        let s = h.stream != 0
        switch kind {
        case .data: return s && h.flags & ~(Flags.endStream | Flags.padded) == 0
        case .headers:
            return s && h.flags & ~(Flags.endStream | Flags.endHeaders | Flags.padded | Flags.priority) == 0
        case .priority: return s && h.length == 5 && h.flags == 0
        case .rstStream: return s && h.length == 4 && h.flags == 0
        case .settings:
            return !s && h.flags & ~Flags.ack == 0 && h.length % 6 == 0 && (h.flags == 0 || h.length == 0)
        case .pushPromise: return s && h.length >= 4 && h.flags & ~(Flags.endHeaders | Flags.padded) == 0
        case .ping: return !s && h.length == 8 && h.flags & ~Flags.ack == 0
        case .goaway: return !s && h.length >= 8 && h.flags == 0
        case .windowUpdate: return h.length == 4 && h.flags == 0
        case .continuation: return s && h.flags & ~Flags.endHeaders == 0
        }
    }

    /// How many bytes of the preface start `b` (up to 24), or nil when `b` does not start with it.
    static func prefacePrefix(_ b: Bytes) -> Int? {
        let n = min(b.count, prefaceLength)
        let p = preface.utf8Start
        for k in 0..<n where b[k] != p[k] { return nil }
        return n
    }

    /// Frames chained from the start of `b`: how many are whole, and whether the chain ends
    /// exactly at the end of `b` (else inside a frame whose header is plausible); nil when a
    /// header on the way is not plausible.
    static func chain(_ b: Bytes, maxLength: Int = defaultMaxFrameSize) -> (frames: Int, exact: Bool)? {
        var i = 0, n = 0
        while i < b.count {
            if b.count - i < frameHeaderLength { return (n, false) }
            guard plausible(b, at: i, maxLength: maxLength), let h = header(b, at: i) else { return nil }
            if b.count - i - frameHeaderLength < h.length { return (n, false) }
            i += frameHeaderLength + h.length
            n += 1
        }
        return (n, true)
    }

    /// Content detection: the client preface opens the request direction (prior knowledge,
    /// or h2 over TLS whose ALPN is not seen). A capture that starts in the middle of a
    /// connection is believed when a direction's first bytes are plausible frames that end
    /// exactly where the bytes held end (at least two frames, or one that is not DATA).
    public static func detect(first: Direction, out: Bytes, in inb: Bytes) -> Detection {
        var undecided = false
        for (b, dir) in [(out, Direction.out), (inb, .in)] where !b.isEmpty {
            if let n = prefacePrefix(b) {
                if n == prefaceLength { return .yes(requestDir: dir, datagram: false) }
                undecided = true
            }
        }
        if undecided { return .needMore }
        var partial = false
        for (b, dir) in [(out, Direction.out), (inb, .in)] where !b.isEmpty {
            guard let c = chain(b) else { continue }
            if c.exact, c.frames >= 2 || (c.frames == 1 && b[3] != FrameType.data.rawValue) {
                // Which side carries requests: the role says (the engine asks it first);
                // else what the frames say; else the first speaker.
                let client = speaker(b) ?? true
                return .yes(requestDir: client ? dir : (dir == .out ? .in : .out), datagram: false)
            }
            partial = true
        }
        return partial && out.count < 16384 && inb.count < 16384 ? .needMore : .no
    }

    /// Whose frames start `b`: true for a client's, false for a server's, nil when they do
    /// not say. A PUSH_PROMISE is a server's and SETTINGS_ENABLE_PUSH a client's; a header
    /// block starts with its pseudo-header fields (RFC 9113 §8.3), and the HPACK
    /// representation of the first names `:method` (static index 2 or 3), `:scheme`,
    /// `:path` or `:authority` (1 to 7) in a request, `:status` (8 to 14) in a response.
    static func speaker(_ b: Bytes) -> Bool? {
        var i = 0
        while let h = header(b, at: i), b.count - i - frameHeaderLength >= h.length {
            let p = i + frameHeaderLength, end = p + h.length
            switch h.kind {
            case .pushPromise: return false
            case .settings where !h.has(Flags.ack):
                var k = p
                while k + 6 <= end {
                    if b[k] == 0 && b[k + 1] == 2 { return true }
                    k += 6
                }
            case .headers:
                var k = p + (h.has(Flags.padded) ? 1 : 0) + (h.has(Flags.priority) ? 5 : 0)
                while k < end && b[k] & 0xE0 == 0x20 { k += 1 } // table size updates (one byte when small)
                guard k < end else { break }
                let c = b[k]
                let index: UInt8
                switch c {
                case 0x80...: index = c & 0x7F
                case 0x40...0x7F: index = c & 0x3F
                case 0x00...0x1F: index = c & 0x0F
                default: index = 0
                }
                if (1...7).contains(index) { return true }
                if (8...14).contains(index) { return false }
            default: break
            }
            i = end
        }
        return nil
    }

    /// The first position at or after `from` where a frame may start: a plausible header whose
    /// frame is followed by another plausible header, or ends where `b` ends, or (at `from`
    /// only, the first byte after a gap or of a record) runs past the end of `b`. When there is
    /// none, the last bytes that may still begin a header.
    static func boundary(_ b: Bytes, from: Int, maxLength: Int) -> Int? {
        var i = max(from, 0)
        while i + frameHeaderLength <= b.count {
            if plausible(b, at: i, maxLength: maxLength), let h = header(b, at: i) {
                let next = i + frameHeaderLength + h.length
                if next == b.count { return i }
                if next < b.count {
                    if b.count - next < frameHeaderLength || plausible(b, at: next, maxLength: maxLength) { return i }
                } else if i == from {
                    return i
                }
            }
            i += 1
        }
        return i < b.count ? i : nil
    }
}
