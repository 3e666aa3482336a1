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

    /// The key as a string; a well-known attribute name too long to be stored inline in a
    /// `String` (over 15 bytes) comes from `AttributeNames` instead of a new allocation.
    public var fieldName: String {
        if count > 15, let known = AttributeNames.lookup(self) { return known }
        return string
    }
}

/// The attribute names Olly's stages write that do not fit in a small string, and a few
/// common resource names of other producers: decoding them allocates nothing (the
/// strings are literals, never freed).
enum AttributeNames {
    static let names: [String] = [
        "db.collection.name", "db.operation.name", "db.response.returned_rows", "db.response.status_code",
        "dns.question.name", "http.request.body.size", "http.request.method", "http.request.method_original",
        "http.response.body.size", "http.response.status_code", "network.peer.address", "network.peer.port",
        "network.protocol.name", "network.protocol.version", "olly.capture.gap", "olly.capture.truncated",
        "olly.dns.answer_count", "olly.dns.question.type", "olly.dns.response_code", "olly.exchange.flags",
        "olly.mysql.command", "olly.parse.malformed", "olly.parse.unsupported", "olly.rpc.request.message_count",
        "olly.rpc.response.message_count", "process.command_args", "process.executable.name",
        "process.executable.path", "rpc.grpc.status_code", "user_agent.original", "telemetry.sdk.language",
        "service.instance.id", "service.namespace", "process.runtime.name",
    ]
    static let table = KeyTable(names)
    /// Indices of the names of each length (index: length; lengths up to 63).
    static let byLength: [[Int]] = {
        var b = [[Int]](repeating: [], count: 64)
        for (i, n) in names.enumerated() where n.utf8.count < 64 { b[n.utf8.count].append(i) }
        return b
    }()

    static func lookup(_ k: Key) -> String? {
        guard k.count < 64 else { return nil }
        return k.withBytes { b -> String? in
            guard let base = b.baseAddress else { return nil }
            for i in byLength[k.count] where table.matches(i, base, k.count) { return names[i] }
            return nil
        }
    }
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

    /// `readRepeatedFields` for a scanner over `base[0..<end]`: an object whose bytes are in
    /// `cache` is skipped whole (`skipped` then resets what the scanner remembers of the
    /// last key), any other is decoded and kept there.
    mutating func readFields(caching cache: DecodeCache?, base: UnsafePointer<UInt8>, end: Int,
                             skipped: (inout Self) -> Void) throws(DecodeError) -> JSONFields {
        guard let cache else { return try readFields() }
        if let (f, l) = cache.hit(base + position, available: end - position) {
            // A whole object value, so the containers are as they were before it.
            position += l
            skipped(&self)
            return f
        }
        let start = position
        let f = try readFields()
        cache.store(base + start, count: position - start, f)
        return f
    }
}

/// The repeated values decoded last (see `FieldDecoder.readRepeatedFields`): a few, since
/// the spans of several processes interleave. Owned by one reader, used by the thread
/// that decodes its records.
public final class DecodeCache {
    var entries: [(raw: [UInt8], fields: JSONFields)] = []
    /// The entry replaced next when all are taken.
    var next = 0
    static let capacity = 8
    public init() {}

    /// The cached fields if the bytes at `p` (of which `available` may be read) begin with
    /// a cached value's bytes, with their length.
    func hit(_ p: UnsafePointer<UInt8>, available: Int) -> (JSONFields, Int)? {
        for e in entries {
            let l = e.raw.count
            guard l > 0, available >= l else { continue }
            let same = e.raw.withUnsafeBytes { r in r.baseAddress.map { memcmp($0, p, l) == 0 } ?? false }
            if same { return (e.fields, l) }
        }
        return nil
    }

    func store(_ p: UnsafePointer<UInt8>, count: Int, _ f: JSONFields) {
        let e = (raw: Array(UnsafeBufferPointer(start: p, count: count)), fields: f)
        if entries.count < Self.capacity {
            entries.append(e)
        } else {
            entries[next] = e
            next = (next + 1) % Self.capacity
        }
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
    /// An object that many records share unchanged (a span's `resource`): the writers of a
    /// `RecordEncoder` copy the bytes they wrote for the same array last time.
    mutating func sharedFields(_ f: JSONFields)
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

    public mutating func sharedFields(_ f: JSONFields) { fields(f) }

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
        out.reserveCapacity(16)
        while let k = try nextKey() { out.append((k.fieldName, try readValue())) }
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

/// The encoded bytes of the few objects most recently written with `sharedFields`, keyed
/// by the identity of their array's storage. An entry holds its array, so that storage
/// stays allocated and cannot change while the entry exists (an array whose storage is
/// shared is copied before it is written to): the same storage address and count means
/// the same fields, and so the same bytes.
public final class EncodeCache {
    struct Entry {
        var fields: JSONFields
        var address: UnsafeRawPointer?
        var bytes: [UInt8]
    }
    var entries: [Entry] = []
    var next = 0
    static let capacity = 8

    public init() {}

    static func address(_ f: JSONFields) -> UnsafeRawPointer? {
        f.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    /// The bytes written for `f` before, if they are still here.
    func lookup(_ f: JSONFields) -> [UInt8]? {
        guard let a = Self.address(f) else { return nil }
        for e in entries where e.address == a && e.fields.count == f.count { return e.bytes }
        return nil
    }

    /// Appends the bytes written for `f` before, or runs `encode` (which writes `f` to
    /// `out`) and keeps what it wrote. True when the bytes came from the cache.
    func write(_ f: JSONFields, to out: OutputBuffer, encode: () -> Void) -> Bool {
        if let b = lookup(f) {
            out.append(b)
            return true
        }
        let start = out.count
        encode()
        store(f, UnsafeRawBufferPointer(start: out.base + start, count: out.count - start))
        return false
    }

    func store(_ f: JSONFields, _ bytes: UnsafeRawBufferPointer) {
        guard let a = Self.address(f) else { return }
        let e = Entry(fields: f, address: a, bytes: Array(bytes))
        if entries.count < Self.capacity {
            entries.append(e)
        } else {
            entries[next] = e
            next = (next + 1) % Self.capacity
        }
    }
}
