/// RFC 4648 base64 (standard alphabet, padded), working on raw bytes.
import COllySupport

public enum Base64 {
    public static func encodedLength(_ n: Int) -> Int { (n + 2) / 3 * 4 }

    /// Writes the encoding of `src` to `dst`, which must hold `encodedLength(src.count)` bytes.
    @inline(__always)
    public static func encode(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutablePointer<UInt8>) {
        guard let b = src.baseAddress, src.count > 0 else { return }
        olly_b64_encode(b.assumingMemoryBound(to: UInt8.self), src.count, dst)
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        let out = OutputBuffer(capacity: encodedLength(bytes.count) + 1)
        out.reserve(encodedLength(bytes.count))
        bytes.withUnsafeBytes { encode($0, into: out.cursor) }
        out.advance(encodedLength(bytes.count))
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Decodes padded base64; on failure returns nil and sets `error` (offset = first bad byte).
    @inline(__always)
    public static func decode(_ src: UnsafeRawBufferPointer, error: inout DecodeError?) -> [UInt8]? {
        let n = src.count
        guard n % 4 == 0 else {
            error = DecodeError(offset: n, "bad base64: length \(n) is not a multiple of 4")
            return nil
        }
        guard let base = src.baseAddress, n > 0 else { return [] }
        var result: Int = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: n / 4 * 3 + 4) { out, initialized in
            result = olly_b64_decode(base.assumingMemoryBound(to: UInt8.self), n, out.baseAddress!)
            initialized = max(result, 0)
        }
        if result < 0 {
            let at = -result - 1
            let what = at < n ? "byte 0x\(String(src[at], radix: 16))" : "padding"
            error = DecodeError(offset: at, "bad base64: \(what) at payload offset \(at)")
            return nil
        }
        return bytes
    }

    public static func decode(_ s: String) -> [UInt8]? {
        var s = s
        var e: DecodeError? = nil
        return s.withUTF8 { decode(UnsafeRawBufferPointer($0), error: &e) }
    }
}
