/// RFC 4648 base64 (standard alphabet, padded), working on raw bytes.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 0xFF marks a byte outside the alphabet.
    static let reverse: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    public static func encodedLength(_ n: Int) -> Int { (n + 2) / 3 * 4 }

    /// Writes the encoding of `src` to `dst`, which must hold `encodedLength(src.count)` bytes.
    
    public static func encode(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutablePointer<UInt8>) {
        alphabet.withUnsafeBufferPointer { a in
            let n = src.count
            var i = 0
            var o = 0
            while i + 3 <= n {
                let v = UInt32(src[i]) << 16 | UInt32(src[i + 1]) << 8 | UInt32(src[i + 2])
                dst[o] = a[Int(v >> 18)]
                dst[o + 1] = a[Int((v >> 12) & 63)]
                dst[o + 2] = a[Int((v >> 6) & 63)]
                dst[o + 3] = a[Int(v & 63)]
                i += 3
                o += 4
            }
            let rest = n - i
            if rest == 1 {
                let v = UInt32(src[i]) << 16
                dst[o] = a[Int(v >> 18)]
                dst[o + 1] = a[Int((v >> 12) & 63)]
                dst[o + 2] = UInt8(ascii: "=")
                dst[o + 3] = UInt8(ascii: "=")
            } else if rest == 2 {
                let v = UInt32(src[i]) << 16 | UInt32(src[i + 1]) << 8
                dst[o] = a[Int(v >> 18)]
                dst[o + 1] = a[Int((v >> 12) & 63)]
                dst[o + 2] = a[Int((v >> 6) & 63)]
                dst[o + 3] = UInt8(ascii: "=")
            }
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        let out = OutputBuffer(capacity: encodedLength(bytes.count) + 1)
        out.reserve(encodedLength(bytes.count))
        bytes.withUnsafeBytes { encode($0, into: out.cursor) }
        out.advance(encodedLength(bytes.count))
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Decodes padded base64. Returns nil and the offset of the first bad byte on failure.
    
    public static func decode(_ src: UnsafeRawBufferPointer) -> Result<[UInt8], DecodeError> {
        let n = src.count
        if n % 4 != 0 {
            return .failure(DecodeError(offset: n, "bad base64: length \(n) is not a multiple of 4"))
        }
        if n == 0 { return .success([]) }
        var pad = 0
        if src[n - 1] == UInt8(ascii: "=") {
            pad = src[n - 2] == UInt8(ascii: "=") ? 2 : 1
        }
        let outLen = n / 4 * 3 - pad
        var bad = -1
        let result = [UInt8](unsafeUninitializedCapacity: outLen) { out, initialized in
            reverse.withUnsafeBufferPointer { r in
                var i = 0
                var o = 0
                let full = pad > 0 ? n - 4 : n
                while i < full {
                    let a = r[Int(src[i])], b = r[Int(src[i + 1])], c = r[Int(src[i + 2])], d = r[Int(src[i + 3])]
                    if (a | b | c | d) & 0xC0 != 0 {
                        bad = i
                        break
                    }
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    out[o] = UInt8(truncatingIfNeeded: v >> 16)
                    out[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: v)
                    i += 4
                    o += 3
                }
                if bad < 0 && pad > 0 {
                    let a = r[Int(src[i])], b = r[Int(src[i + 1])]
                    let c = pad == 1 ? r[Int(src[i + 2])] : 0
                    if (a | b | c) & 0xC0 != 0 {
                        bad = i
                    } else {
                        let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                        out[o] = UInt8(truncatingIfNeeded: v >> 16)
                        if pad == 1 { out[o + 1] = UInt8(truncatingIfNeeded: v >> 8) }
                    }
                }
            }
            initialized = bad < 0 ? outLen : 0
        }
        if bad >= 0 {
            // Point at the exact offending byte within the quartet.
            var at = bad
            while at < n && reverse[Int(src[at])] != 0xFF { at += 1 }
            return .failure(DecodeError(offset: at, "bad base64: byte 0x\(String(src[min(at, n - 1)], radix: 16)) at payload offset \(at)"))
        }
        return .success(result)
    }
}
