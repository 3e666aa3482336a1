@testable import OllyNDJSON
import Testing

/// A span resource repeated from record to record is decoded once per distinct value
/// (DecodeCache): records decoded with the cache equal those decoded without it, in both
/// formats, whatever the order of resources, and a damaged record is still refused.
@Suite struct DecodeCacheTests {
    static let resources = [
        #"{"service.name":"a","process.pid":1}"#,
        #"{"service.name":"a","process.pid":1}"#,
        #"{"service.name":"b","process.command_args":["x","y"]}"#,
        #"{"service.name":"a","process.pid":1}"#,
        #"{"service.name":"a","process.pid":12}"#,
        #"{}"#,
        #"{ "service.name" : "a" , "process.pid":1 }"#,
        #"{"service.name":"a","process.pid":1}"#,
    ]

    static func line(_ i: Int, _ resource: String) -> String {
        #"{"kind":"span","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba9020\#(i)","name":"GET","span_kind":"server","start":1,"end":2,"status":"unset","resource":\#(resource),"olly":{"cid":\#(i)}}"#
    }

    static func decode(_ bytes: [UInt8], _ f: RecordFormat, _ cache: DecodeCache?) -> Result<Record, DecodeError> {
        bytes.withUnsafeBytes { raw in
            do throws(DecodeError) { return .success(try Record.decode(raw, format: f, cache: cache)) } catch { return .failure(error) }
        }
    }

    @Test(arguments: RecordFormat.allCases)
    func sameRecordsWithAndWithoutTheCache(format: RecordFormat) throws {
        let cache = DecodeCache()
        for (i, r) in Self.resources.enumerated() {
            let plain = try #require(decodeLine(Self.line(i, r)).success)
            let bytes = format == .ndjson ? Array(Self.line(i, r).utf8) : frameBody(plain)
            let cached = try #require(Self.decode(bytes, format, cache).success)
            #expect(cached == plain, "record \(i)")
            guard case .span(let s) = cached else { Issue.record("not a span"); continue }
            #expect(s.resource.count == (r == "{}" ? 0 : 2))
        }
    }

    /// A record whose resource begins like the cached one but is cut short, or differs
    /// after the cached bytes, is decoded (or refused) exactly as without the cache.
    @Test func prefixesOfTheCachedValue() throws {
        let cache = DecodeCache()
        let good = Self.line(1, Self.resources[0])
        _ = try #require(Self.decode(Array(good.utf8), .ndjson, cache).success)
        let cut = String(good.prefix(good.utf8.count - 20))
        #expect(Self.decode(Array(cut.utf8), .ndjson, cache).failure != nil)
        #expect(Self.decode(Array(cut.utf8), .ndjson, nil).failure?.offset == Self.decode(Array(cut.utf8), .ndjson, cache).failure?.offset)
        let longer = Self.line(2, #"{"service.name":"a","process.pid":1,"x":true}"#)
        let a = try #require(Self.decode(Array(longer.utf8), .ndjson, cache).success)
        #expect(a == (try #require(decodeLine(longer).success)))
    }
}

/// A span resource written again and again (EncodeCache): the bytes copied from the cache
/// equal those encoded afresh, in both formats, when the same array is shared by many
/// spans, when a copy of it is changed after it was written, and when more distinct
/// resources than the cache holds take turns.
@Suite struct EncodeCacheTests {
    static func span(_ i: Int, _ resource: JSONFields) -> Record {
        var s = SpanRecord()
        s.traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        s.spanID = "00f067aa0ba9020\(i % 10)"
        s.name = "GET"
        s.spanKind = .server
        s.start = 1
        s.end = 2
        s.attrs = [("http.request.method", .string("GET"))]
        s.resource = resource
        return .span(s)
    }

    static func encode(_ r: Record, _ f: RecordFormat, _ cache: EncodeCache?) -> [UInt8] {
        let out = OutputBuffer()
        switch f {
        case .ndjson:
            var w = JSONWriter(out, cache: cache)
            r.encode(to: &w)
        case .bin:
            var w = BinaryWriter(out, cache: cache)
            r.encode(to: &w)
        }
        return Array(UnsafeRawBufferPointer(start: out.base, count: out.count))
    }

    @Test(arguments: RecordFormat.allCases)
    func sameBytesWithAndWithoutTheCache(format: RecordFormat) {
        let cache = EncodeCache()
        var shared: JSONFields = [("service.name", .string("a")), ("process.pid", .int(1))]
        var resources: [JSONFields] = [shared, shared, []]
        let before = shared
        shared.append(("container.id", .string("c")))  // a copy changed after it was written
        resources += [before, shared, shared]
        shared[0].1 = .string("b")                      // changed in place: this array is not cached
        resources += [shared, shared, before]
        for k in 0..<2 * EncodeCache.capacity {        // more distinct values than entries
            resources.append([("service.name", .string("s\(k)")), ("process.pid", .int(Int64(k)))])
            resources.append(resources[resources.count - 1 - (k % 3)])
        }
        for (i, res) in resources.enumerated() {
            let r = Self.span(i, res)
            #expect(Self.encode(r, format, cache) == Self.encode(r, format, nil), "span \(i)")
        }
    }
}
