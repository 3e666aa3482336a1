#if canImport(Glibc)
import Glibc
#endif
/// A key read from a record: a slice of the input when it needed no unescaping,
/// otherwise its decoded bytes.
public struct Key {
    let ptr: UnsafePointer<UInt8>?
    let count: Int
    let owned: [UInt8]?

    init(ptr: UnsafePointer<UInt8>, count: Int) {
        self.ptr = ptr
        self.count = count
        self.owned = nil
    }

    init(owned: [UInt8]) {
        self.ptr = nil
        self.count = owned.count
        self.owned = owned
    }

    
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let owned { return owned.withUnsafeBytes(body) }
        return body(UnsafeRawBufferPointer(start: ptr, count: count))
    }

    
    public func equals(_ s: StaticString) -> Bool {
        guard s.utf8CodeUnitCount == count else { return false }
        return withBytes { b in
            count == 0 || memcmpBytes(b.baseAddress!, UnsafeRawPointer(s.utf8Start), count)
        }
    }

    public var string: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}

@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// The keys of one record kind in canonical (encoding) order. Decoders look up a key
/// trying the expected position first, so records in canonical order match in one compare.
/// The keys live in one immutable buffer that is never freed (tables are static).
public struct KeyTable: @unchecked Sendable {
    let bytes: UnsafePointer<UInt8>
    /// (offset, length) of each key in `bytes`.
    let spans: UnsafePointer<(Int, Int)>
    public let count: Int

    public init(_ keys: [String]) {
        let total = keys.reduce(0) { $0 + $1.utf8.count }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        let sp = UnsafeMutablePointer<(Int, Int)>.allocate(capacity: max(keys.count, 1))
        var off = 0
        for (i, k) in keys.enumerated() {
            let u = Array(k.utf8)
            (b + off).initialize(from: u, count: u.count)
            sp[i] = (off, u.count)
            off += u.count
        }
        bytes = UnsafePointer(b)
        spans = UnsafePointer(sp)
        count = keys.count
    }

    @inline(__always)
    func matches(_ i: Int, _ kp: UnsafeRawPointer, _ kn: Int) -> Bool {
        let (o, l) = spans[i]
        return l == kn && memcmpBytes(bytes + o, kp, kn)
    }

    /// Index of `key`, or -1 when unknown. `hint` is the index expected next.
    @inline(__always)
    public func index(of key: Key, hint: Int) -> Int {
        if let kp = key.ptr {
            return index(kp, key.count, hint: hint)
        }
        return key.withBytes { index($0.baseAddress ?? UnsafeRawPointer(bytes), $0.count, hint: hint) }
    }

    func index(_ kp: UnsafeRawPointer, _ kn: Int, hint: Int) -> Int {
        if hint >= 0 && hint < count && matches(hint, kp, kn) { return hint }
        for i in 0..<count where i != hint && matches(i, kp, kn) { return i }
        return -1
    }

    public func name(_ i: Int) -> String {
        let (o, l) = spans[i]
        return String(decoding: UnsafeBufferPointer(start: bytes + o, count: l), as: UTF8.self)
    }
}

/// What a typed record decoder needs from a format (NDJSON or binary). Decoders are
/// generic over it, so one decoder per record kind serves both formats.
public protocol FieldDecoder {
    /// Byte offset of the cursor within the record.
    var position: Int { get set }
    /// The key last returned by `nextKey`, for error messages.
    var currentField: String? { get }

    mutating func beginObject() throws(DecodeError)
    /// The next key of the current object, or nil at its end (which it consumes).
    mutating func nextKey() throws(DecodeError) -> Key?
    mutating func beginArray() throws(DecodeError)
    /// True when another element follows; false at the end of the array (which it consumes).
    mutating func nextElement() throws(DecodeError) -> Bool
    mutating func readInt() throws(DecodeError) -> Int64
    mutating func readDouble() throws(DecodeError) -> Double
    mutating func readBool() throws(DecodeError) -> Bool
    mutating func readString() throws(DecodeError) -> String
    /// A string as raw bytes (for matching enum values without building a String).
    mutating func readStringKey() throws(DecodeError) -> Key
    /// A byte payload: base64 in NDJSON, raw in binary.
    mutating func readBytes() throws(DecodeError) -> [UInt8]
    mutating func readValue() throws(DecodeError) -> JSONValue
    /// Consumes a `null` if one is next.
    mutating func readNull() throws(DecodeError) -> Bool
    mutating func skipValue() throws(DecodeError)
    /// Checks that nothing but whitespace follows the record.
    mutating func finish() throws(DecodeError)
    func error(_ message: String) -> DecodeError
    /// The scanner state, to read a record's members twice (finding `kind` first).
    func mark() -> DecoderMark
    mutating func reset(to mark: DecoderMark)
    /// An object of fields that mostly repeats from record to record (a span's resource):
    /// with a `DecodeCache`, a value whose bytes equal the last one decoded there is not
    /// decoded again (the same bytes always decode to the same fields).
    mutating func readRepeatedFields() throws(DecodeError) -> JSONFields
}

extension FieldDecoder {
    public mutating func readRepeatedFields() throws(DecodeError) -> JSONFields { try readFields() }
}

/// The last repeated value decoded (see `FieldDecoder.readRepeatedFields`): owned by one
/// reader, used by the thread that decodes its records.
public final class DecodeCache {
    var raw: [UInt8] = []
    var fields: JSONFields = []
    public init() {}

    /// The cached fields if the bytes at `p` (of which `available` may be read) begin with
    /// the cached value's bytes, with their length.
    func hit(_ p: UnsafePointer<UInt8>, available: Int) -> (JSONFields, Int)? {
        let l = raw.count
        guard l > 0, available >= l else { return nil }
        let same = raw.withUnsafeBytes { memcmp($0.baseAddress!, p, l) == 0 }
        return same ? (fields, l) : nil
    }

    func store(_ p: UnsafePointer<UInt8>, count: Int, _ f: JSONFields) {
        raw = Array(UnsafeBufferPointer(start: p, count: count))
        fields = f
    }
}

public struct DecoderMark: Sendable {
    public var position: Int
    public var bits: UInt64
    public var depth: Int
}

/// What a typed record encoder needs from a format.
public protocol FieldEncoder {
    mutating func beginObject()
    mutating func endObject()
    mutating func beginArray()
    mutating func endArray()
    /// Must precede each array element.
    mutating func element()
    mutating func key(_ k: StaticString)
    mutating func key(dynamic k: String)
    mutating func int(_ v: Int64)
    mutating func double(_ v: Double)
    mutating func bool(_ v: Bool)
    mutating func null()
    mutating func string(_ s: String)
    /// A string known to need no escaping (enum values).
    mutating func literal(_ s: StaticString)
    mutating func bytes(_ b: [UInt8])
    mutating func value(_ v: JSONValue)
}

extension FieldEncoder {
    public mutating func int(_ v: Int) { int(Int64(v)) }

    public mutating func fields(_ f: JSONFields) {
        beginObject()
        for (k, v) in f {
            key(dynamic: k)
            value(v)
        }
        endObject()
    }

    public mutating func stringArray(_ a: [String]) {
        beginArray()
        for s in a {
            element()
            string(s)
        }
        endArray()
    }
}

extension FieldDecoder {
    public mutating func readFields() throws(DecodeError) -> JSONFields {
        try beginObject()
        var out: JSONFields = []
        while let k = try nextKey() { out.append((k.string, try readValue())) }
        return out
    }

    public mutating func readStringArray() throws(DecodeError) -> [String] {
        try beginArray()
        var out: [String] = []
        while try nextElement() { out.append(try readString()) }
        return out
    }

    public mutating func readValueArray() throws(DecodeError) -> [JSONValue] {
        try beginArray()
        var out: [JSONValue] = []
        while try nextElement() { out.append(try readValue()) }
        return out
    }

    public mutating func readDoubleArray() throws(DecodeError) -> [Double] {
        try beginArray()
        var out: [Double] = []
        while try nextElement() { out.append(try readDouble()) }
        return out
    }

    public mutating func readIntArray() throws(DecodeError) -> [Int64] {
        try beginArray()
        var out: [Int64] = []
        while try nextElement() { out.append(try readInt()) }
        return out
    }

    /// An integer that must fit `Int` and lie in `range`.
    public mutating func readInt(in range: ClosedRange<Int64>) throws(DecodeError) -> Int {
        let start = position
        let v = try readInt()
        guard range.contains(v) else {
            var e = error("\(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            e.offset = start
            throw e
        }
        return Int(v)
    }
}
