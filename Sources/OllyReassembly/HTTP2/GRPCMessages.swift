/// gRPC length-prefixed messages (gRPC over HTTP/2, "Length-Prefixed-Message"): inside the
/// DATA payloads of one direction of a stream, each message is
///
///     +---------------+-----------------------------------+---------------------+
///     | Compressed(8) |   Message-Length (32, big endian) |  Message (length)   |
///     +---------------+-----------------------------------+---------------------+
///
/// and messages may span DATA frames, or several share one. This counts them as the bytes
/// go by, without keeping any.
struct GRPCMessages: Sendable, Equatable {
    /// Whole messages seen.
    private(set) var count = 0
    /// Bytes of the current message's prefix seen (0 to 4), and its length so far.
    private var prefixSeen = 0
    private var length: UInt32 = 0
    /// Bytes of the current message's body still to come.
    private var remaining: UInt64 = 0
    /// Bytes went missing (a gap): the count cannot be trusted.
    private(set) var broken = false

    /// A message has begun and not ended.
    var inMessage: Bool { prefixSeen > 0 || remaining > 0 }

    mutating func feed(_ b: UnsafeBufferPointer<UInt8>) {
        if broken { return }
        var i = 0
        while i < b.count {
            if remaining > 0 {
                let n = Int(min(remaining, UInt64(b.count - i)))
                remaining -= UInt64(n)
                i += n
                if remaining == 0 { count += 1 }
                continue
            }
            // The compressed flag (0 or 1), then 4 length bytes.
            if prefixSeen == 0 && b[i] > 1 {
                broken = true
                return
            }
            if prefixSeen > 0 { length = length << 8 | UInt32(b[i]) }
            prefixSeen += 1
            i += 1
            if prefixSeen == 5 {
                prefixSeen = 0
                remaining = UInt64(length)
                length = 0
                if remaining == 0 { count += 1 }
            }
        }
    }

    mutating func breakCount() { broken = true }
}
