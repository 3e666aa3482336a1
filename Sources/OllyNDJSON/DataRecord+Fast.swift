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

        /// A JSON integer in 0...Int64.max without leading zeros (19 digits fit a UInt64).
        @inline(__always)
        mutating func uint() -> Int64? {
            let start = i
            var v: UInt64 = 0
            while i < n {
                let d = p[i] &- 0x30
                if d > 9 { break }
                v = v &* 10 &+ UInt64(d)
                i += 1
            }
            let digits = i - start
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
