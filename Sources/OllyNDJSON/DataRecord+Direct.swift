// Writing a `data` record straight from captured bytes into the output buffer, for
// capture sources that see one such record per system call: no `DataRecord`, no payload
// array, one capacity check per record. The bytes are exactly those the general encoder
// writes for the same record (`Record.data(...)` through `RecordEncoder.append`), in
// both formats; tests compare the two.

extension RecordEncoder {
    /// Appends the `data` record `{kind, ts, cid, pid, tid, dir, off, len, data[, tls]}`
    /// with `payload` as its captured bytes.
    public mutating func appendData(ts: Int64, cid: Int64, pid: Int64, tid: Int64, dir: Direction,
                                    off: Int64, len: Int64, payload: UnsafeRawBufferPointer, tls: Bool) {
        switch format {
        case .ndjson:
            let b64 = Base64.encodedLength(payload.count)
            // fixed text 90 bytes at most; 6 integers of at most 20 characters each
            out.reserve(b64 + 256)
            var c = out.cursor
            let start = c
            c = put(c, "{\"kind\":\"data\",\"ts\":")
            c = dataText.putTimestamp(c, ts)
            c = dataText.putConnection(c, cid: cid, pid: pid, tid: tid) { c in
                var c = put(c, ",\"cid\":")
                c = putDecimal(c, cid)
                c = put(c, ",\"pid\":")
                c = putDecimal(c, pid)
                c = put(c, ",\"tid\":")
                return putDecimal(c, tid)
            }
            c = put(c, dir == .out ? ",\"dir\":\"out\",\"off\":" : ",\"dir\":\"in\",\"off\":")
            c = putDecimal(c, off)
            c = put(c, ",\"len\":")
            c = putDecimal(c, len)
            c = put(c, ",\"data\":\"")
            Base64.encode(payload, into: c)
            c += b64
            c = put(c, tls ? "\",\"tls\":true}\n" : "\"}\n")
            out.advance(c - start)
        case .bin:
            header()
            out.reserve(payload.count + 4 + 160) // fixed 62 bytes at most, 7 varints of at most 10
            var c = out.cursor
            let start = c
            c += 4
            c = put(c, "\u{09}\u{05}kind\u{06}\u{04}data\u{03}ts\u{04}")
            c = putZigzag(c, ts)
            c = dataText.putConnection(c, cid: cid, pid: pid, tid: tid) { c in
                var c = put(c, "\u{04}cid\u{04}")
                c = putZigzag(c, cid)
                c = put(c, "\u{04}pid\u{04}")
                c = putZigzag(c, pid)
                c = put(c, "\u{04}tid\u{04}")
                return putZigzag(c, tid)
            }
            c = put(c, dir == .out ? "\u{04}dir\u{06}\u{03}out\u{04}off\u{04}" : "\u{04}dir\u{06}\u{02}in\u{04}off\u{04}")
            c = putZigzag(c, off)
            c = put(c, "\u{04}len\u{04}")
            c = putZigzag(c, len)
            c = put(c, "\u{05}data\u{07}")
            c = putVarint(c, UInt64(payload.count))
            if let p = payload.baseAddress, payload.count > 0 {
                // a plain memcpy (update(from:count:) was a call of its own per record)
                UnsafeMutableRawPointer(c).copyMemory(from: p, byteCount: payload.count)
                c += payload.count
            }
            c = put(c, tls ? "\u{04}tls\u{03}\u{00}" : "\u{00}")
            let body = c - start - 4
            out.patchUInt32LE(at: out.count, UInt32(truncatingIfNeeded: body))
            out.advance(c - start)
        }
    }
}

/// What the `data` records of one encoder repeat: the cid, pid and tid of a connection
/// (in a few slots, by cid: a process's two ends of a loopback connection alternate) and
/// the leading digits of the timestamp (the same for 0.1 s), kept as the bytes written
/// for them, so that a record of a connection seen before copies them instead of
/// formatting three integers and most of a fourth again.
/// The bytes depend on the encoder's format, which is fixed for its life.
final class DataTextCache {
    static let slots = 16
    /// per slot: cid, pid, tid (8 bytes each), byte count (8), then the bytes
    static let stride = 128
    static let textAt = 32
    static let textMax = stride - textAt // 3 × (7 + 20) in NDJSON, 3 × (5 + 10) in binary
    let table: UnsafeMutableRawPointer
    /// `ts / 10^8` whose digits are in `tsDigits` (`tsCount` of them), -1 for none
    var tsHigh: Int64 = -1
    var tsCount = 0
    let tsDigits: UnsafeMutablePointer<UInt8>

    init() {
        table = UnsafeMutableRawPointer.allocate(byteCount: Self.slots * Self.stride, alignment: 64)
        table.initializeMemory(as: UInt8.self, repeating: 0, count: Self.slots * Self.stride)
        tsDigits = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        tsDigits.initialize(repeating: 0, count: 32)
    }

    deinit {
        table.deallocate()
        tsDigits.deallocate()
    }

    /// Writes the connection fields through `encode` the first time (and whenever the
    /// slot of `cid` held another connection), from the slot after that. Room for
    /// `textMax` bytes at `c` must be reserved.
    @inline(__always)
    func putConnection(_ c: UnsafeMutablePointer<UInt8>, cid: Int64, pid: Int64, tid: Int64,
                       encode: (UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let slot = table + Int(truncatingIfNeeded: UInt64(bitPattern: cid) & UInt64(Self.slots - 1)) * Self.stride
        let n = slot.load(fromByteOffset: 24, as: Int.self)
        if n > 0 && slot.load(as: Int64.self) == cid && slot.load(fromByteOffset: 8, as: Int64.self) == pid
            && slot.load(fromByteOffset: 16, as: Int64.self) == tid {
            // a fixed-size copy (a few vector moves), then only the bytes that count
            UnsafeMutableRawPointer(c).copyMemory(from: slot + Self.textAt, byteCount: Self.textMax)
            return c + n
        }
        let end = encode(c)
        let count = end - c
        if count <= Self.textMax {
            slot.storeBytes(of: cid, as: Int64.self)
            slot.storeBytes(of: pid, toByteOffset: 8, as: Int64.self)
            slot.storeBytes(of: tid, toByteOffset: 16, as: Int64.self)
            slot.storeBytes(of: count, toByteOffset: 24, as: Int.self)
            (slot + Self.textAt).copyMemory(from: c, byteCount: count)
        }
        return end
    }

    /// The decimal form of `ts`: the digits above the last 8 from the last record when
    /// they are the same, then 8 more.
    @inline(__always)
    func putTimestamp(_ c: UnsafeMutablePointer<UInt8>, _ ts: Int64) -> UnsafeMutablePointer<UInt8> {
        guard ts >= 100_000_000 else { return putDecimal(c, ts) }
        let high = ts / 100_000_000
        if high != tsHigh {
            let end = putDecimal(tsDigits, high)
            tsCount = end - tsDigits
            tsHigh = high
        }
        UnsafeMutableRawPointer(c).copyMemory(from: tsDigits, byteCount: 16) // at most 11 digits
        let end = c + tsCount + 8
        put8(end, UInt32(truncatingIfNeeded: ts - high * 100_000_000))
        return end
    }
}

extension RecordWriter {
    /// Writes a `data` record from captured bytes (see `RecordEncoder.appendData`).
    /// Inlinable: called once per captured event from another module, where a call of
    /// its own passed the payload through the stack and reloaded it wider than stored.
    @inlinable
    public func writeData(ts: Int64, cid: Int64, pid: Int64, tid: Int64, dir: Direction,
                          off: Int64, len: Int64, payload: UnsafeRawBufferPointer, tls: Bool) throws(WriteFailure) {
        encoder.appendData(ts: ts, cid: cid, pid: pid, tid: tid, dir: dir, off: off, len: len, payload: payload, tls: tls)
        try recordDone()
    }
}

@inline(__always)
private func put(_ c: UnsafeMutablePointer<UInt8>, _ s: StaticString) -> UnsafeMutablePointer<UInt8> {
    let n = s.utf8CodeUnitCount
    UnsafeMutableRawPointer(c).copyMemory(from: s.utf8Start, byteCount: n)
    return c + n
}

/// Two decimal digits per entry, "00" to "99".
private let digitPairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

/// Decimal digits of `u` (1 for 0): a few compares against constants, not a chain of
/// multiplications (a 19-digit timestamp took 17 dependent multiplies).
@inline(__always)
private func decimalDigits(_ u: UInt64) -> Int {
    if u < 100_000_000 {
        if u < 10_000 { return u < 100 ? (u < 10 ? 1 : 2) : (u < 1_000 ? 3 : 4) }
        return u < 1_000_000 ? (u < 100_000 ? 5 : 6) : (u < 10_000_000 ? 7 : 8)
    }
    if u < 10_000_000_000_000_000 {
        if u < 1_000_000_000_000 {
            return u < 10_000_000_000 ? (u < 1_000_000_000 ? 9 : 10) : (u < 100_000_000_000 ? 11 : 12)
        }
        return u < 100_000_000_000_000 ? (u < 10_000_000_000_000 ? 13 : 14)
            : (u < 1_000_000_000_000_000 ? 15 : (u < 10_000_000_000_000_000 ? 16 : 17))
    }
    return u < 100_000_000_000_000_000 ? 17 : (u < 1_000_000_000_000_000_000 ? 18 : (u < 10_000_000_000_000_000_000 ? 19 : 20))
}

/// Exactly 8 digits of `v` (< 10^8, zero-padded), ending just before `end`.
@inline(__always)
private func put8(_ end: UnsafeMutablePointer<UInt8>, _ v: UInt32) {
    let pairs = digitPairs.utf8Start
    var v = v
    var e = end
    for _ in 0..<4 {
        let r = Int(v % 100)
        v /= 100
        e -= 2
        e[0] = pairs[2 * r]
        e[1] = pairs[2 * r + 1]
    }
}

/// The decimal form of `v` (a minus sign for negatives): 8 digits per 64-bit division,
/// then two per 32-bit division (independent groups, so they overlap in the pipeline).
@inline(__always)
private func putDecimal(_ c: UnsafeMutablePointer<UInt8>, _ v: Int64) -> UnsafeMutablePointer<UInt8> {
    var c = c
    var u: UInt64
    if v < 0 {
        c.pointee = UInt8(ascii: "-")
        c += 1
        u = UInt64(bitPattern: 0 &- v)
    } else {
        u = UInt64(v)
    }
    if u < 10 {
        c.pointee = 0x30 &+ UInt8(truncatingIfNeeded: u)
        return c + 1
    }
    let result = c + decimalDigits(u)
    var end = result
    while u >= 100_000_000 {
        put8(end, UInt32(truncatingIfNeeded: u % 100_000_000))
        u /= 100_000_000
        end -= 8
    }
    let pairs = digitPairs.utf8Start
    var w = UInt32(truncatingIfNeeded: u)
    while w >= 100 {
        let r = Int(w % 100)
        w /= 100
        end -= 2
        end[0] = pairs[2 * r]
        end[1] = pairs[2 * r + 1]
    }
    if w >= 10 {
        end -= 2
        end[0] = pairs[2 * Int(w)]
        end[1] = pairs[2 * Int(w) + 1]
    } else {
        end -= 1
        end[0] = 0x30 &+ UInt8(truncatingIfNeeded: w)
    }
    return result
}

@inline(__always)
private func putVarint(_ c: UnsafeMutablePointer<UInt8>, _ v: UInt64) -> UnsafeMutablePointer<UInt8> {
    var v = v
    var i = 0
    while v >= 0x80 {
        c[i] = UInt8(truncatingIfNeeded: v) | 0x80
        v >>= 7
        i += 1
    }
    c[i] = UInt8(truncatingIfNeeded: v)
    return c + i + 1
}

@inline(__always)
private func putZigzag(_ c: UnsafeMutablePointer<UInt8>, _ v: Int64) -> UnsafeMutablePointer<UInt8> {
    putVarint(c, UInt64(bitPattern: (v << 1) ^ (v >> 63)))
}
