import COllySupport
#if canImport(Glibc)
import Glibc
#endif

// A fast path for the most frequent record: a `data` record in the exact canonical
// layout that Olly's own encoder writes (no whitespace, members in order). Anything else
// — other spacing or order, extra members, any doubt — returns nil and the general
// decoder takes over, which also produces the precise error message. The fast path
// accepts only what the general decoder accepts, and yields the same record.

extension DataRecord {
    /// Cursor over the line; every read checks bounds.
    struct Cursor {
        let p: UnsafePointer<UInt8>
        let n: Int
        var i = 0

        @inline(__always)
        mutating func lit(_ s: StaticString) -> Bool {
            let len = s.utf8CodeUnitCount
            guard n - i >= len, memcmpBytes(p + i, UnsafeRawPointer(s.utf8Start), len) else { return false }
            i += len
            return true
        }

        /// A JSON integer in 0...Int64.max without leading zeros.
        @inline(__always)
        mutating func uint() -> Int64? {
            let start = i
            var v: UInt64 = 0
            let digits = olly_parse_digits(p + i, n - i, &v)
            i += digits
            // 19 digits can exceed Int64.max (and 20 a UInt64): check the value, reject more.
            guard digits > 0, digits <= 19, v <= UInt64(Int64.max), digits == 1 || p[start] != 0x30 else { return nil }
            guard i < n, p[i] == UInt8(ascii: ",") || p[i] == UInt8(ascii: "}") else { return nil }
            return Int64(v)
        }
    }

    static func decodeFastNDJSON(_ line: UnsafeRawBufferPointer) -> DataRecord? {
        guard let base = line.baseAddress else { return nil }
        var c = Cursor(p: base.assumingMemoryBound(to: UInt8.self), n: line.count)
        var r = DataRecord()
        guard c.lit("{\"kind\":\"data\",\"ts\":"), let ts = c.uint() else { return nil }
        r.ts = ts
        guard c.lit(",\"cid\":"), let cid = c.uint() else { return nil }
        r.cid = cid
        guard c.lit(",\"pid\":"), let pid = c.uint(), pid <= Int64(Int32.max) else { return nil }
        r.pid = Int(pid)
        if c.lit(",\"tid\":") {
            guard let tid = c.uint(), tid <= Int64(Int32.max) else { return nil }
            r.tid = Int(tid)
        }
        if c.lit(",\"dir\":\"out\"") {
            r.dir = .out
        } else if c.lit(",\"dir\":\"in\"") {
            r.dir = .in
        } else {
            return nil
        }
        guard c.lit(",\"off\":"), let off = c.uint() else { return nil }
        r.off = off
        guard c.lit(",\"len\":"), let len = c.uint() else { return nil }
        r.len = len
        guard c.lit(",\"data\":\"") else { return nil }
        let start = c.i
        guard let q = memchr(c.p + start, 0x22, c.n - start) else { return nil }
        let end = UnsafePointer<UInt8>(q.assumingMemoryBound(to: UInt8.self)) - c.p
        var e: DecodeError? = nil
        guard let bytes = Base64.decode(UnsafeRawBufferPointer(start: c.p + start, count: end - start), error: &e),
              Int64(bytes.count) <= len else { return nil }
        r.data = bytes
        c.i = end + 1
        if c.lit(",\"tls\":true") { r.tls = true }
        guard c.lit("}"), c.i == c.n else { return nil }
        return r
    }
}

extension DataRecord {
    /// Cursor over a binary frame body.
    struct BinCursor {
        let p: UnsafePointer<UInt8>
        let n: Int
        var i = 0

        @inline(__always)
        mutating func bytes(_ s: [UInt8]) -> Bool {
            guard n - i >= s.count, s.withUnsafeBytes({ memcmpBytes(p + i, $0.baseAddress!, s.count) }) else { return false }
            i += s.count
            return true
        }

        /// A key (length + 1, bytes) followed by the int tag.
        @inline(__always)
        mutating func intKey(_ k: StaticString) -> Bool {
            let len = k.utf8CodeUnitCount
            guard n - i >= len + 2, p[i] == UInt8(len + 1), memcmpBytes(p + i + 1, UnsafeRawPointer(k.utf8Start), len),
                  p[i + 1 + len] == BinaryFormat.Tag.int.rawValue else { return false }
            i += len + 2
            return true
        }

        @inline(__always)
        mutating func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                let b = p[i]
                i += 1
                if shift == 63 && b > 1 { return nil }
                v |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return v }
                shift += 7
                if shift > 63 { return nil }
            }
            return nil
        }

        /// A zigzag int that must be ≥ 0.
        @inline(__always)
        mutating func nonNegative() -> Int64? {
            guard let z = varint(), z & 1 == 0 else { return nil }
            return Int64(bitPattern: z >> 1)
        }
    }

    /// `{kind:"data"` as written by `BinaryWriter`: object tag, key "kind", string "data".
    static let binaryPrefix: [UInt8] = [BinaryFormat.Tag.object.rawValue, 5] + Array("kind".utf8)
        + [BinaryFormat.Tag.string.rawValue, 4] + Array("data".utf8)

    static func decodeFastBinary(_ frame: UnsafeRawBufferPointer) -> DataRecord? {
        guard let base = frame.baseAddress else { return nil }
        var c = BinCursor(p: base.assumingMemoryBound(to: UInt8.self), n: frame.count)
        var r = DataRecord()
        guard c.bytes(binaryPrefix) else { return nil }
        guard c.intKey("ts"), let ts = c.nonNegative() else { return nil }
        r.ts = ts
        guard c.intKey("cid"), let cid = c.nonNegative() else { return nil }
        r.cid = cid
        guard c.intKey("pid"), let pid = c.nonNegative(), pid <= Int64(Int32.max) else { return nil }
        r.pid = Int(pid)
        if c.intKey("tid") {
            guard let tid = c.nonNegative(), tid <= Int64(Int32.max) else { return nil }
            r.tid = Int(tid)
        }
        // "dir": string "out" | "in"
        guard c.n - c.i >= 6, c.p[c.i] == 4, memcmpBytes(c.p + c.i + 1, UnsafeRawPointer(("dir" as StaticString).utf8Start), 3),
              c.p[c.i + 4] == BinaryFormat.Tag.string.rawValue else { return nil }
        c.i += 5
        if c.p[c.i] == 3, c.n - c.i >= 4, c.p[c.i + 1] == UInt8(ascii: "o"), c.p[c.i + 2] == UInt8(ascii: "u"), c.p[c.i + 3] == UInt8(ascii: "t") {
            r.dir = .out
            c.i += 4
        } else if c.p[c.i] == 2, c.n - c.i >= 3, c.p[c.i + 1] == UInt8(ascii: "i"), c.p[c.i + 2] == UInt8(ascii: "n") {
            r.dir = .in
            c.i += 3
        } else {
            return nil
        }
        guard c.intKey("off"), let off = c.nonNegative() else { return nil }
        r.off = off
        guard c.intKey("len"), let len = c.nonNegative() else { return nil }
        r.len = len
        guard c.n - c.i >= 6, c.p[c.i] == 5, memcmpBytes(c.p + c.i + 1, UnsafeRawPointer(("data" as StaticString).utf8Start), 4),
              c.p[c.i + 5] == BinaryFormat.Tag.bytes.rawValue else { return nil }
        c.i += 6
        guard let dlen = c.varint(), dlen <= UInt64(c.n - c.i), Int64(dlen) <= len else { return nil }
        r.data = Array(UnsafeBufferPointer(start: c.p + c.i, count: Int(dlen)))
        c.i += Int(dlen)
        if c.n - c.i >= 5, c.p[c.i] == 4, memcmpBytes(c.p + c.i + 1, UnsafeRawPointer(("tls" as StaticString).utf8Start), 3) {
            guard c.p[c.i + 4] == BinaryFormat.Tag.trueValue.rawValue else { return nil }
            r.tls = true
            c.i += 5
        }
        guard c.n - c.i == 1, c.p[c.i] == BinaryFormat.Tag.end.rawValue else { return nil }
        return r
    }
}
