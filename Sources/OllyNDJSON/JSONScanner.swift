/// A strict JSON (RFC 8259) scanner over one record's bytes. It validates as it goes —
/// syntax, UTF-8, escapes, number grammar — including inside values it only skips, so a
/// record it accepts is valid JSON. It never allocates for keys or plain ASCII strings.
#if canImport(Glibc)
import Glibc
#endif

public struct JSONScanner: FieldDecoder {
    let p: UnsafePointer<UInt8>
    let n: Int
    public var position: Int = 0
    /// One bit per open container: set while the next key/element is the first.
    var firstBits: UInt64 = 0
    var depth: Int = 0
    var lastKey: (Int, Int) = (0, 0)
    var lastKeyOwned: String? = nil
    /// Nesting limit for generic values (guards the stack against hostile input).
    public static let maxDepth = 64

    /// Where `readRepeatedFields` remembers the last value (nil: no caching).
    var cache: DecodeCache?

    public init(_ bytes: UnsafeRawBufferPointer, cache: DecodeCache? = nil) {
        self.p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!
        self.n = bytes.count
        self.cache = cache
    }

    public mutating func readRepeatedFields() throws(DecodeError) -> JSONFields {
        try readFields(caching: cache, base: p, end: n) {
            $0.lastKey = (0, 0)
            $0.lastKeyOwned = nil
        }
    }

    public var currentField: String? {
        if let lastKeyOwned { return lastKeyOwned }
        if lastKey.1 == 0 { return nil }
        return String(decoding: UnsafeBufferPointer(start: p + lastKey.0, count: lastKey.1), as: UTF8.self)
    }

    public func error(_ message: String) -> DecodeError {
        DecodeError(offset: position, message, field: currentField)
    }

    public func mark() -> DecoderMark { DecoderMark(position: position, bits: firstBits, depth: depth) }

    public mutating func reset(to m: DecoderMark) {
        position = m.position
        firstBits = m.bits
        depth = m.depth
    }

    @inline(__always)
    mutating func skipWS() {
        while position < n {
            let b = p[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position &+= 1 } else { return }
        }
    }

    @inline(__always)
    mutating func peek() throws(DecodeError) -> UInt8 {
        skipWS()
        guard position < n else { throw error("unexpected end of record") }
        return p[position]
    }

    func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16))"
    }

    
    mutating func expect(_ c: UInt8, _ what: StaticString) throws(DecodeError) {
        let b = try peek()
        guard b == c else { throw error("expected \(what), found \(describe(b))") }
        position &+= 1
    }

    // MARK: containers

    public mutating func beginObject() throws(DecodeError) {
        try expect(UInt8(ascii: "{"), "'{'")
        try push()
    }

    public mutating func beginArray() throws(DecodeError) {
        try expect(UInt8(ascii: "["), "'['")
        try push()
    }

    mutating func push() throws(DecodeError) {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        firstBits |= (1 << UInt64(depth))
        depth &+= 1
    }

    /// Handles the separator before the next member; returns false at the closing byte.
    
    mutating func nextMember(close: UInt8) throws(DecodeError) -> Bool {
        // Between members no field is being read: errors here name none.
        lastKey = (0, 0)
        lastKeyOwned = nil
        let b = try peek()
        let bit: UInt64 = 1 << UInt64(depth &- 1)
        let first = firstBits & bit != 0
        if b == close {
            position &+= 1
            depth &-= 1
            return false
        }
        if first {
            firstBits &= ~bit
        } else {
            guard b == UInt8(ascii: ",") else {
                throw error("expected ',' or '\(Character(Unicode.Scalar(close)))', found \(describe(b))")
            }
            position &+= 1
        }
        return true
    }

    public mutating func nextKey() throws(DecodeError) -> Key? {
        guard try nextMember(close: UInt8(ascii: "}")) else { return nil }
        let key = try readStringKeyExpecting("a key")
        if let owned = key.owned {
            lastKeyOwned = String(decoding: owned, as: UTF8.self)
        } else {
            lastKeyOwned = nil
            lastKey = (key.ptr! - p, key.count)
        }
        try expect(UInt8(ascii: ":"), "':'")
        return key
    }

    public mutating func nextElement() throws(DecodeError) -> Bool {
        try nextMember(close: UInt8(ascii: "]"))
    }

    // MARK: scalars

    public mutating func readNull() throws(DecodeError) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    
    mutating func literal(_ s: StaticString) throws(DecodeError) {
        let len = s.utf8CodeUnitCount
        guard position + len <= n, memcmpBytes(p + position, UnsafeRawPointer(s.utf8Start), len) else {
            throw error("invalid literal")
        }
        position += len
    }

    public mutating func readBool() throws(DecodeError) -> Bool {
        let b = try peek()
        if b == UInt8(ascii: "t") { try literal("true"); return true }
        if b == UInt8(ascii: "f") { try literal("false"); return false }
        throw error("expected true or false, found \(kindName(b))")
    }

    func kindName(_ b: UInt8) -> String {
        switch b {
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "a number"
        default: return describe(b)
        }
    }

    public mutating func readInt() throws(DecodeError) -> Int64 {
        let b = try peek()
        let start = position
        var neg = false
        if b == UInt8(ascii: "-") {
            neg = true
            position &+= 1
        } else if b < UInt8(ascii: "0") || b > UInt8(ascii: "9") {
            throw error("expected an integer, found \(kindName(b))")
        }
        var v: UInt64 = 0
        let digitsStart = position
        while position < n {
            let d = p[position] &- 0x30
            if d > 9 { break }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { position = start; throw error("integer out of range") }
            v = s
            position &+= 1
        }
        let digits = position - digitsStart
        if digits == 0 { position = start; throw error("invalid number") }
        if digits > 1 && p[digitsStart] == UInt8(ascii: "0") { position = start; throw error("invalid number: leading zero") }
        if position < n {
            let c = p[position]
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                position = start
                throw error("expected an integer, found a fractional number")
            }
        }
        if neg {
            guard v <= UInt64(Int64.max) + 1 else { position = start; throw error("integer out of range") }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        guard v <= UInt64(Int64.max) else { position = start; throw error("integer out of range") }
        return Int64(v)
    }

    /// Validates a number per the JSON grammar and returns its text range.
    
    mutating func scanNumber() throws(DecodeError) -> Range<Int> {
        let b = try peek()
        let start = position
        if b == UInt8(ascii: "-") { position &+= 1 }
        func digit(_ i: Int) -> Bool { i < n && p[i] &- 0x30 <= 9 }
        guard digit(position) else { throw error("expected a number, found \(kindName(b))") }
        if p[position] == UInt8(ascii: "0") {
            position &+= 1
            if digit(position) { throw error("invalid number: leading zero") }
        } else {
            while digit(position) { position &+= 1 }
        }
        if position < n && p[position] == UInt8(ascii: ".") {
            position &+= 1
            guard digit(position) else { throw error("invalid number: digit expected after '.'") }
            while digit(position) { position &+= 1 }
        }
        if position < n && (p[position] | 0x20) == UInt8(ascii: "e") {
            position &+= 1
            if position < n && (p[position] == UInt8(ascii: "+") || p[position] == UInt8(ascii: "-")) { position &+= 1 }
            guard digit(position) else { throw error("invalid number: digit expected in exponent") }
            while digit(position) { position &+= 1 }
        }
        return start..<position
    }

    public mutating func readDouble() throws(DecodeError) -> Double {
        let r = try scanNumber()
        let text = String(decoding: UnsafeBufferPointer(start: p + r.lowerBound, count: r.count), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { position = r.lowerBound; throw error("number out of range") }
        return d
    }

    // MARK: strings

    public mutating func readString() throws(DecodeError) -> String {
        let k = try readStringKeyExpecting("a string")
        return k.string
    }

    public mutating func readStringKey() throws(DecodeError) -> Key {
        try readStringKeyExpecting("a string")
    }

    /// Reads a string; returns a slice when it has no escapes, else its decoded bytes.
    
    mutating func readStringKeyExpecting(_ what: StaticString) throws(DecodeError) -> Key {
        let b = try peek()
        guard b == UInt8(ascii: "\"") else { throw error("expected \(what), found \(kindName(b))") }
        position &+= 1
        let start = position
        // Fast path: printable ASCII without escapes.
        while position < n {
            let c = p[position]
            if c == UInt8(ascii: "\"") {
                let k = Key(ptr: p + start, count: position - start)
                position &+= 1
                return k
            }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
            position &+= 1
        }
        guard let k = try slowString(start: start, build: true) else { throw error("unterminated string") }
        return k
    }

    /// Validates (and optionally decodes) the rest of a string whose first special byte is at `position`.
    
    mutating func slowString(start: Int, build: Bool) throws(DecodeError) -> Key? {
        var out: [UInt8] = []
        var hasEscape = false
        if build { out.reserveCapacity(position - start + 16); out.append(contentsOf: UnsafeBufferPointer(start: p + start, count: position - start)) }
        while true {
            guard position < n else { throw error("unterminated string") }
            let c = p[position]
            if c == UInt8(ascii: "\"") {
                position &+= 1
                if !build { return nil }
                if !hasEscape {
                    return Key(ptr: p + start, count: position - 1 - start)
                }
                return Key(owned: out)
            } else if c == UInt8(ascii: "\\") {
                hasEscape = true
                guard position + 1 < n else { throw error("unterminated string") }
                let e = p[position + 1]
                var scalar: UInt32
                switch e {
                case UInt8(ascii: "\""): scalar = 0x22
                case UInt8(ascii: "\\"): scalar = 0x5C
                case UInt8(ascii: "/"): scalar = 0x2F
                case UInt8(ascii: "b"): scalar = 0x08
                case UInt8(ascii: "f"): scalar = 0x0C
                case UInt8(ascii: "n"): scalar = 0x0A
                case UInt8(ascii: "r"): scalar = 0x0D
                case UInt8(ascii: "t"): scalar = 0x09
                case UInt8(ascii: "u"):
                    let escStart = position
                    position += 2
                    let hi = try hex4()
                    scalar = hi
                    if hi >= 0xD800 && hi <= 0xDBFF {
                        guard position + 1 < n, p[position] == UInt8(ascii: "\\"), p[position + 1] == UInt8(ascii: "u") else {
                            position = escStart
                            throw error("invalid \\u escape: unpaired high surrogate")
                        }
                        position += 2
                        let lo = try hex4()
                        guard lo >= 0xDC00 && lo <= 0xDFFF else {
                            position = escStart
                            throw error("invalid \\u escape: high surrogate not followed by a low one")
                        }
                        scalar = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else if hi >= 0xDC00 && hi <= 0xDFFF {
                        position = escStart
                        throw error("invalid \\u escape: unpaired low surrogate")
                    }
                    if build { appendUTF8(&out, scalar) }
                    continue
                default:
                    throw error("invalid escape \\\(Character(Unicode.Scalar(e)))")
                }
                if build { out.append(UInt8(scalar)) }
                position += 2
            } else if c < 0x20 {
                throw error("control character 0x\(String(c, radix: 16)) in string (must be escaped)")
            } else if c < 0x80 {
                if build { out.append(c) }
                position &+= 1
            } else {
                let len = try utf8Sequence()
                if build { out.append(contentsOf: UnsafeBufferPointer(start: p + position, count: len)) }
                position += len
            }
        }
    }

    
    mutating func hex4() throws(DecodeError) -> UInt32 {
        guard position + 4 <= n else { throw error("invalid \\u escape: truncated") }
        var v: UInt32 = 0
        for i in 0..<4 {
            let c = p[position + i]
            var d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - 0x30
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - 0x57
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - 0x37
            default: throw error("invalid \\u escape: '\(Character(Unicode.Scalar(c)))' is not hex")
            }
            v = v << 4 | UInt32(d)
        }
        position += 4
        return v
    }

    /// Length of the valid UTF-8 sequence at `position` (RFC 3629, no overlongs or surrogates).
    
    func utf8Sequence() throws(DecodeError) -> Int {
        let b0 = p[position]
        var len: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: len = 2
        case 0xE0: len = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: len = 3
        case 0xED: len = 3; hi = 0x9F
        case 0xF0: len = 4; lo = 0x90
        case 0xF1...0xF3: len = 4
        case 0xF4: len = 4; hi = 0x8F
        default: throw error("invalid UTF-8: byte 0x\(String(b0, radix: 16))")
        }
        guard position + len <= n else { throw error("invalid UTF-8: truncated sequence") }
        let b1 = p[position + 1]
        guard b1 >= lo && b1 <= hi else { throw error("invalid UTF-8: byte 0x\(String(b1, radix: 16)) after 0x\(String(b0, radix: 16))") }
        for i in 2..<len where p[position + i] & 0xC0 != 0x80 {
            throw error("invalid UTF-8: byte 0x\(String(p[position + i], radix: 16)) in a sequence")
        }
        return len
    }

    public mutating func readBytes() throws(DecodeError) -> [UInt8] {
        let b = try peek()
        guard b == UInt8(ascii: "\"") else { throw error("expected a base64 string, found \(kindName(b))") }
        let start = position + 1
        // base64 never needs escapes: find the closing quote with memchr and decode; a
        // backslash or control byte inside is reported by the decoder as a bad byte.
        if let q = memchr(p + start, 0x22, n - start) {
            let end = UnsafePointer<UInt8>(q.assumingMemoryBound(to: UInt8.self)) - p
            var e: DecodeError? = nil
            if let bytes = Base64.decode(UnsafeRawBufferPointer(start: p + start, count: end - start), error: &e) {
                position = end + 1
                return bytes
            }
            if let e, memchr(p + start, 0x5C, end - start) == nil {
                position = start + min(e.offset, end - start)
                throw error(e.message)
            }
        }
        // Escaped or malformed: take the slow path for the exact error.
        let k = try readStringKeyExpecting("a base64 string")
        var e: DecodeError? = nil
        if let bytes = k.withBytes({ Base64.decode($0, error: &e) }) { return bytes }
        throw error(e?.message ?? "bad base64")
    }

    // MARK: generic values

    public mutating func readValue() throws(DecodeError) -> JSONValue {
        try readValue(depth: 0)
    }

    mutating func readValue(depth d: Int) throws(DecodeError) -> JSONValue {
        guard d < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        let b = try peek()
        switch b {
        case UInt8(ascii: "{"):
            position &+= 1
            var fields: JSONFields = []
            var first = true
            while true {
                let c = try peek()
                if c == UInt8(ascii: "}") { position &+= 1; return .object(fields) }
                if !first {
                    guard c == UInt8(ascii: ",") else { throw error("expected ',' or '}', found \(describe(c))") }
                    position &+= 1
                }
                first = false
                let k = try readStringKeyExpecting("a key")
                try expect(UInt8(ascii: ":"), "':'")
                fields.append((k.string, try readValue(depth: d + 1)))
            }
        case UInt8(ascii: "["):
            position &+= 1
            var items: [JSONValue] = []
            var first = true
            while true {
                let c = try peek()
                if c == UInt8(ascii: "]") { position &+= 1; return .array(items) }
                if !first {
                    guard c == UInt8(ascii: ",") else { throw error("expected ',' or ']', found \(describe(c))") }
                    position &+= 1
                }
                first = false
                items.append(try readValue(depth: d + 1))
            }
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return .bool(try readBool())
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            let r = try scanNumber()
            return .number(String(decoding: UnsafeBufferPointer(start: p + r.lowerBound, count: r.count), as: UTF8.self))
        }
    }

    public mutating func skipValue() throws(DecodeError) {
        try skipValue(depth: 0)
    }

    mutating func skipValue(depth d: Int) throws(DecodeError) {
        guard d < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        let b = try peek()
        switch b {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = b == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            position &+= 1
            var first = true
            while true {
                let c = try peek()
                if c == close { position &+= 1; return }
                if !first {
                    guard c == UInt8(ascii: ",") else { throw error("expected ',' or '\(Character(Unicode.Scalar(close)))', found \(describe(c))") }
                    position &+= 1
                }
                first = false
                if close == UInt8(ascii: "}") {
                    try skipString("a key")
                    try expect(UInt8(ascii: ":"), "':'")
                }
                try skipValue(depth: d + 1)
            }
        case UInt8(ascii: "\""):
            try skipString("a string")
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            _ = try readBool()
        case UInt8(ascii: "n"):
            try literal("null")
        default:
            _ = try scanNumber()
        }
    }

    mutating func skipString(_ what: StaticString) throws(DecodeError) {
        let b = try peek()
        guard b == UInt8(ascii: "\"") else { throw error("expected \(what), found \(kindName(b))") }
        position &+= 1
        let start = position
        while position < n {
            let c = p[position]
            if c == UInt8(ascii: "\"") { position &+= 1; return }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { break }
            position &+= 1
        }
        _ = try slowString(start: start, build: false)
    }

    public mutating func finish() throws(DecodeError) {
        lastKey = (0, 0)
        lastKeyOwned = nil
        skipWS()
        if position < n { throw error("unexpected \(describe(p[position])) after the record") }
    }
}


func appendUTF8(_ out: inout [UInt8], _ s: UInt32) {
    switch s {
    case 0..<0x80: out.append(UInt8(s))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | (s >> 6)))
        out.append(UInt8(0x80 | (s & 0x3F)))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | (s >> 12)))
        out.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (s & 0x3F)))
    default:
        out.append(UInt8(0xF0 | (s >> 18)))
        out.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (s & 0x3F)))
    }
}
