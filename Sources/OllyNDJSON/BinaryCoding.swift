/// Olly's length-prefixed binary record format.
///
/// A stream starts with the 8-byte magic `BinaryFormat.magic`, then frames:
///
///     +----------------+------------------------------+
///     | u32 LE length  | value (length bytes)         |
///     +----------------+------------------------------+
///
/// A value is a tag byte followed by its body:
///
///     0x00 end of object/array   0x01 null   0x02 false   0x03 true
///     0x04 int      zigzag LEB128 varint
///     0x05 number   varint length + JSON number text (non-integers written as text)
///     0x06 string   varint length + UTF-8
///     0x07 bytes    varint length + raw bytes (payloads; base64 strings in NDJSON)
///     0x08 array    values…, 0x00
///     0x09 object   (varint key length + 1, key UTF-8, value)…, 0x00
///     0x0A double   8 bytes, IEEE 754 bit pattern, little-endian
///
/// A record is one object frame. Nothing is escaped and payloads are copied raw, which is
/// why this form decodes several times faster than NDJSON.
public enum BinaryFormat {
    /// NUL first: no JSON text can start with it, so detection from the first byte is exact.
    public static let magic: [UInt8] = [0x00, 0x4F, 0x4C, 0x4C, 0x59, 0x42, 0x31, 0x0A] // "\0OLLYB1\n"

    public enum Tag: UInt8 {
        case end = 0, null, falseValue, trueValue, int, number, string, bytes, array, object, double
    }
}

/// Encodes records in the binary form.
public struct BinaryWriter: FieldEncoder {
    public let out: OutputBuffer
    /// Bytes of recently written shared objects (see `EncodeCache`).
    public var cache: EncodeCache?

    public init(_ out: OutputBuffer, cache: EncodeCache? = nil) {
        self.out = out
        self.cache = cache
    }

    public mutating func sharedFields(_ f: JSONFields) {
        guard let cache, !f.isEmpty else { fields(f); return }
        _ = cache.write(f, to: out, encode: { fields(f) })
    }

    @inline(__always)
    func tag(_ t: BinaryFormat.Tag) { out.append(t.rawValue) }

    @inline(__always)
    func varint(_ v: UInt64) { Self.varint(out, v) }

    @inline(__always)
    static func varint(_ out: OutputBuffer, _ v: UInt64) {
        out.reserve(10)
        var v = v
        let c = out.cursor
        var i = 0
        while v >= 0x80 {
            c[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        c[i] = UInt8(v)
        out.advance(i + 1)
    }

    
    func lengthPrefixed(_ b: UnsafeRawBufferPointer) {
        varint(UInt64(b.count))
        out.append(b)
    }

    public mutating func beginObject() { tag(.object) }
    public mutating func endObject() { tag(.end) }
    public mutating func beginArray() { tag(.array) }
    public mutating func endArray() { tag(.end) }
    public mutating func element() {}

    
    public mutating func key(_ k: StaticString) {
        varint(UInt64(k.utf8CodeUnitCount) + 1)
        out.append(k)
    }

    public mutating func key(dynamic k: String) {
        // Native and small strings are contiguous: no copy of the string value.
        let o = out
        if k.utf8.withContiguousStorageIfAvailable({ u -> Bool in
            BinaryWriter.varint(o, UInt64(u.count) + 1)
            o.append(UnsafeRawBufferPointer(u))
            return true
        }) == true { return }
        var k = k
        k.withUTF8 { u in
            varint(UInt64(u.count) + 1)
            out.append(UnsafeRawBufferPointer(u))
        }
    }

    
    public mutating func int(_ v: Int64) {
        tag(.int)
        varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    public mutating func double(_ v: Double) {
        tag(.double)
        var bits = v.bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { out.append($0) }
    }

    public mutating func bool(_ v: Bool) { tag(v ? .trueValue : .falseValue) }
    public mutating func null() { tag(.null) }

    public mutating func string(_ s: String) {
        tag(.string)
        let o = out
        if s.utf8.withContiguousStorageIfAvailable({ u -> Bool in
            BinaryWriter.varint(o, UInt64(u.count))
            o.append(UnsafeRawBufferPointer(u))
            return true
        }) == true { return }
        var s = s
        s.withUTF8 { lengthPrefixed(UnsafeRawBufferPointer($0)) }
    }

    
    public mutating func literal(_ s: StaticString) {
        tag(.string)
        lengthPrefixed(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    
    public mutating func bytes(_ b: [UInt8]) {
        tag(.bytes)
        b.withUnsafeBytes { lengthPrefixed($0) }
    }

    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let s):
            if let i = Int64(s), String(i) == s {
                int(i)
            } else {
                tag(.number)
                var s = s
                s.withUTF8 { lengthPrefixed(UnsafeRawBufferPointer($0)) }
            }
        case .string(let s): string(s)
        case .bytes(let b): bytes(b)
        case .array(let items):
            beginArray()
            for i in items { value(i) }
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
}

/// Decodes one binary frame's value. Strict like `JSONScanner`: strings must be valid
/// UTF-8, numbers valid JSON numbers, so anything it accepts re-encodes as valid NDJSON.
public struct BinaryScanner: FieldDecoder {
    let p: UnsafePointer<UInt8>
    let n: Int
    public var position: Int = 0
    var lastKey: (Int, Int) = (0, 0)
    public var currentField: String? {
        lastKey.1 == 0 ? nil : String(decoding: UnsafeBufferPointer(start: p + lastKey.0, count: lastKey.1), as: UTF8.self)
    }
    var depth = 0

    /// Where `readRepeatedFields` remembers the last value (nil: no caching).
    var cache: DecodeCache?

    public init(_ bytes: UnsafeRawBufferPointer, cache: DecodeCache? = nil) {
        self.p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!
        self.n = bytes.count
        self.cache = cache
    }

    public mutating func readRepeatedFields() throws(DecodeError) -> JSONFields {
        try readFields(caching: cache, base: p, end: n) { $0.lastKey = (0, 0) }
    }

    public func error(_ message: String) -> DecodeError {
        DecodeError(offset: position, message, field: currentField)
    }

    public func mark() -> DecoderMark { DecoderMark(position: position, bits: 0, depth: depth) }

    public mutating func reset(to m: DecoderMark) {
        position = m.position
        depth = m.depth
    }

    @inline(__always)
    mutating func byte() throws(DecodeError) -> UInt8 {
        guard position < n else { throw error("unexpected end of frame") }
        let b = p[position]
        position &+= 1
        return b
    }

    @inline(__always)
    mutating func varint() throws(DecodeError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw error("varint overflows 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
            if shift > 63 { throw error("varint overflows 64 bits") }
        }
    }

    
    mutating func length() throws(DecodeError) -> Int {
        let start = position
        let v = try varint()
        guard v <= UInt64(n - position) else {
            position = start
            throw error("length \(v) runs past the end of the frame")
        }
        return Int(v)
    }

    func tagName(_ t: UInt8) -> String {
        switch BinaryFormat.Tag(rawValue: t) {
        case .end: return "end of container"
        case .null: return "null"
        case .falseValue, .trueValue: return "a boolean"
        case .int, .number, .double: return "a number"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .array: return "an array"
        case .object: return "an object"
        case nil: return "unknown tag 0x\(String(t, radix: 16))"
        }
    }

    
    mutating func expectTag(_ t: BinaryFormat.Tag, _ what: StaticString) throws(DecodeError) {
        let b = try byte()
        guard b == t.rawValue else { position -= 1; throw error("expected \(what), found \(tagName(b))") }
    }

    public mutating func beginObject() throws(DecodeError) {
        try expectTag(.object, "an object")
        depth += 1
        guard depth <= JSONScanner.maxDepth else { throw error("nesting deeper than \(JSONScanner.maxDepth)") }
    }

    public mutating func beginArray() throws(DecodeError) {
        try expectTag(.array, "an array")
        depth += 1
        guard depth <= JSONScanner.maxDepth else { throw error("nesting deeper than \(JSONScanner.maxDepth)") }
    }

    public mutating func nextKey() throws(DecodeError) -> Key? {
        lastKey = (0, 0)
        guard position < n else { throw error("unexpected end of frame") }
        if p[position] == BinaryFormat.Tag.end.rawValue {
            position += 1
            depth -= 1
            return nil
        }
        let start = position
        let v = try varint()
        guard v >= 1, v - 1 <= UInt64(n - position) else { position = start; throw error("bad key length") }
        let len = Int(v - 1)
        let k = Key(ptr: p + position, count: len)
        guard validUTF8(position, len) else { throw error("invalid UTF-8 in key") }
        lastKey = (position, len)
        position += len
        return k
    }

    public mutating func nextElement() throws(DecodeError) -> Bool {
        guard position < n else { throw error("unexpected end of frame") }
        if p[position] == BinaryFormat.Tag.end.rawValue {
            position += 1
            depth -= 1
            return false
        }
        return true
    }

    public mutating func readInt() throws(DecodeError) -> Int64 {
        let start = position
        let t = try byte()
        if t == BinaryFormat.Tag.int.rawValue {
            let z = try varint()
            return Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
        }
        position = start
        throw error("expected an integer, found \(tagName(t))")
    }

    public mutating func readDouble() throws(DecodeError) -> Double {
        let start = position
        let t = try byte()
        switch BinaryFormat.Tag(rawValue: t) {
        case .double:
            guard n - position >= 8 else { throw error("unexpected end of frame") }
            let bits = UInt64(littleEndian: UnsafeRawPointer(p + position).loadUnaligned(as: UInt64.self))
            position += 8
            let d = Double(bitPattern: bits)
            guard d.isFinite else { position = start; throw error("number is not finite") }
            return d
        case .int:
            position = start
            return Double(try readInt())
        case .number:
            let len = try length()
            let s = String(decoding: UnsafeBufferPointer(start: p + position, count: len), as: UTF8.self)
            guard isJSONNumber(s), let d = Double(s), d.isFinite else { position = start; throw error("invalid number text") }
            position += len
            return d
        default:
            position = start
            throw error("expected a number, found \(tagName(t))")
        }
    }

    public mutating func readBool() throws(DecodeError) -> Bool {
        let t = try byte()
        if t == BinaryFormat.Tag.trueValue.rawValue { return true }
        if t == BinaryFormat.Tag.falseValue.rawValue { return false }
        position -= 1
        throw error("expected true or false, found \(tagName(t))")
    }

    public mutating func readNull() throws(DecodeError) -> Bool {
        guard position < n else { throw error("unexpected end of frame") }
        if p[position] == BinaryFormat.Tag.null.rawValue { position += 1; return true }
        return false
    }

    func validUTF8(_ at: Int, _ len: Int) -> Bool {
        var i = at
        let end = at + len
        while i < end && p[i] < 0x80 { i += 1 }
        if i == end { return true }
        return String(validating: UnsafeBufferPointer(start: p + at, count: len), as: UTF8.self) != nil
    }

    public mutating func readStringKey() throws(DecodeError) -> Key {
        try expectTag(.string, "a string")
        let len = try length()
        guard validUTF8(position, len) else { throw error("invalid UTF-8 in string") }
        let k = Key(ptr: p + position, count: len)
        position += len
        return k
    }

    public mutating func readString() throws(DecodeError) -> String {
        try readStringKey().string
    }

    public mutating func readBytes() throws(DecodeError) -> [UInt8] {
        try expectTag(.bytes, "bytes")
        let len = try length()
        let b = Array(UnsafeBufferPointer(start: p + position, count: len))
        position += len
        return b
    }

    public mutating func readValue() throws(DecodeError) -> JSONValue {
        let start = position
        let t = try byte()
        switch BinaryFormat.Tag(rawValue: t) {
        case .null: return .null
        case .falseValue: return .bool(false)
        case .trueValue: return .bool(true)
        case .int:
            position = start
            return .number(String(try readInt()))
        case .double:
            position = start
            return .number(formatDouble(try readDouble()))
        case .number:
            let len = try length()
            let s = String(decoding: UnsafeBufferPointer(start: p + position, count: len), as: UTF8.self)
            guard isJSONNumber(s) else { position = start; throw error("invalid number text") }
            position += len
            return .number(s)
        case .string:
            position = start
            return .string(try readString())
        case .bytes:
            position = start
            return .bytes(try readBytes())
        case .array:
            position = start
            try beginArray()
            var items: [JSONValue] = []
            while try nextElement() { items.append(try readValue()) }
            return .array(items)
        case .object:
            position = start
            try beginObject()
            var fields: JSONFields = []
            while let k = try nextKey() { fields.append((k.string, try readValue())) }
            return .object(fields)
        case .end, nil:
            position = start
            throw error("expected a value, found \(tagName(t))")
        }
    }

    public mutating func skipValue() throws(DecodeError) { _ = try readValue() }

    public mutating func finish() throws(DecodeError) {
        lastKey = (0, 0)
        if position != n { throw error("\(n - position) bytes after the record in its frame") }
    }
}

/// True when `s` is a number per the JSON grammar.
public func isJSONNumber(_ s: String) -> Bool {
    var s = s
    return s.withUTF8 { u -> Bool in
        var sc = JSONScanner(UnsafeRawBufferPointer(u))
        guard u.first.map({ $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) ?? false else { return false }
        guard (try? sc.scanNumber()) != nil else { return false }
        return sc.position == u.count
    }
}
