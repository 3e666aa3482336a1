/// Encodes records as compact JSON into an `OutputBuffer`.
public struct JSONWriter: FieldEncoder {
    public let out: OutputBuffer
    /// Whether the next member of the innermost container is its first (no comma).
    var first = true
    /// Bytes of recently written shared objects (see `EncodeCache`).
    public var cache: EncodeCache?

    public init(_ out: OutputBuffer, cache: EncodeCache? = nil) {
        self.out = out
        self.cache = cache
    }

    public mutating func sharedFields(_ f: JSONFields) {
        guard let cache, !f.isEmpty else { fields(f); return }
        if cache.write(f, to: out, encode: { fields(f) }) { first = false }
    }

    @inline(__always)
    mutating func separator() {
        if first { first = false } else { out.append(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() { out.append(UInt8(ascii: "{")); first = true }
    public mutating func endObject() { out.append(UInt8(ascii: "}")); first = false }
    public mutating func beginArray() { out.append(UInt8(ascii: "[")); first = true }
    public mutating func endArray() { out.append(UInt8(ascii: "]")); first = false }
    public mutating func element() { separator() }

    
    public mutating func key(_ k: StaticString) {
        separator()
        let len = k.utf8CodeUnitCount
        out.reserve(len + 3)
        let c = out.cursor
        c[0] = UInt8(ascii: "\"")
        (c + 1).update(from: k.utf8Start, count: len)
        c[len + 1] = UInt8(ascii: "\"")
        c[len + 2] = UInt8(ascii: ":")
        out.advance(len + 3)
    }

    public mutating func key(dynamic k: String) {
        separator()
        Self.writeString(k, to: out)
        out.append(UInt8(ascii: ":"))
    }

    public mutating func int(_ v: Int64) { out.appendDecimal(v) }
    public mutating func double(_ v: Double) { out.append(Array(formatDouble(v).utf8)) }
    public mutating func bool(_ v: Bool) { out.append(v ? "true" : "false") }
    public mutating func null() { out.append("null") }
    public mutating func string(_ s: String) { Self.writeString(s, to: out) }

    
    public mutating func literal(_ s: StaticString) {
        let len = s.utf8CodeUnitCount
        out.reserve(len + 2)
        let c = out.cursor
        c[0] = UInt8(ascii: "\"")
        (c + 1).update(from: s.utf8Start, count: len)
        c[len + 1] = UInt8(ascii: "\"")
        out.advance(len + 2)
    }

    
    public mutating func bytes(_ b: [UInt8]) {
        let len = Base64.encodedLength(b.count)
        out.reserve(len + 2)
        let c = out.cursor
        c[0] = UInt8(ascii: "\"")
        b.withUnsafeBytes { Base64.encode($0, into: c + 1) }
        c[len + 1] = UInt8(ascii: "\"")
        out.advance(len + 2)
    }

    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let s):
            var s = s
            s.withUTF8 { out.append(UnsafeRawBufferPointer($0)) }
        case .string(let s): string(s)
        case .bytes(let b): bytes(b)
        case .array(let items):
            beginArray()
            for i in items {
                element()
                value(i)
            }
            endArray()
        case .object(let fields):
            beginObject()
            for (k, v) in fields {
                key(dynamic: k)
                value(v)
            }
            endObject()
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes `s` as a JSON string: `"`, `\` and control characters escaped, everything else
    /// (including non-ASCII, already valid UTF-8 in a Swift String) copied as is.
    public static func writeString(_ s: String, to out: OutputBuffer) {
        var s = s
        s.withUTF8 { u in
            out.reserve(u.count + 2)
            out.append(UInt8(ascii: "\""))
            var runStart = 0
            var i = 0
            let n = u.count
            let raw = UnsafeRawBufferPointer(u)
            while i < n {
                // Eight bytes at a time while none needs escaping (SWAR: no byte below 0x20,
                // none equal to '"' or '\\').
                while i + 8 <= n {
                    let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                    let q = x ^ (0x22 &* ones), b = x ^ (0x5C &* ones)
                    let special = (((x &- 0x20 &* ones) & ~x) | ((q &- ones) & ~q) | ((b &- ones) & ~b)) & highs
                    if special != 0 { break }
                    i += 8
                }
                guard i < n else { break }
                let c = u[i]
                if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") {
                    i += 1
                    continue
                }
                if i > runStart { out.append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(u)[runStart..<i])) }
                switch c {
                case UInt8(ascii: "\""): out.append("\\\"")
                case UInt8(ascii: "\\"): out.append("\\\\")
                case 0x0A: out.append("\\n")
                case 0x0D: out.append("\\r")
                case 0x09: out.append("\\t")
                case 0x08: out.append("\\b")
                case 0x0C: out.append("\\f")
                default:
                    out.append("\\u00")
                    out.append(hex[Int(c >> 4)])
                    out.append(hex[Int(c & 0xF)])
                }
                i += 1
                runStart = i
            }
            if n > runStart { out.append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(u)[runStart..<n])) }
            out.append(UInt8(ascii: "\""))
        }
    }
}
