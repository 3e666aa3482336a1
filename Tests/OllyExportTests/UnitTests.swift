import Foundation
@testable import OllyExport
import OllyNDJSON
import Testing

@Suite struct DestinationTests {
    @Test func parsesDestinations() throws {
        #expect(try Destination.parse("otlp-grpc://127.0.0.1:4317") == .grpc(host: "127.0.0.1", port: 4317, tls: false))
        #expect(try Destination.parse("otlp-grpcs://collector:4317") == .grpc(host: "collector", port: 4317, tls: true))
        #expect(try Destination.parse("otlp-https://collector:4318/p") == .http(base: "https://collector:4318/p", json: false))
        #expect(try Destination.parse("otlp-https+json://collector:4318") == .http(base: "https://collector:4318", json: true))
        #expect(Destination.grpc(host: "c", port: 1, tls: true).name == "otlp-grpcs://c:1")
        #expect(Destination.http(base: "https://c:1/p", json: true).name == "otlp-https+json://c:1/p")
        #expect(try Destination.parse("otlp-http://collector:4318/") == .http(base: "http://collector:4318", json: false))
        #expect(try Destination.parse("otlp-http+json://[::1]:4318/otlp") == .http(base: "http://[::1]:4318/otlp", json: true))
        #expect(try Destination.parse("file:/tmp/x") == .file(dir: "/tmp/x"))
        #expect(try Destination.parse("stdout") == .stdout)
        #expect(try Destination.parse("tree") == .tree)
        for bad in ["otlp-grpc://host", "otlp-grpc://h:0", "otlp-grpc://h:1/x", "file:", "kafka://x:1", "otlp-http://:80"] {
            #expect(throws: DestinationError.self) { try Destination.parse(bad) }
        }
    }

    @Test func standardEnvironment() throws {
        #expect(try Destination.fromEnvironment([:]) == nil)
        #expect(try Destination.fromEnvironment(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"]) == .http(base: "http://c:4318", json: false))
        #expect(try Destination.fromEnvironment(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]) == .grpc(host: "c", port: 4317, tls: false))
        #expect(try Destination.fromEnvironment(["OTEL_EXPORTER_OTLP_ENDPOINT": "https://c"]) == .http(base: "https://c:443", json: false))
        #expect(try Destination.fromEnvironment(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"]) == .http(base: "http://c:4318", json: true))
        #expect(throws: DestinationError.self) { try Destination.fromEnvironment(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "kafka"]) }
        let h = try Destination.parseHeaders("api-key=a%20b, x=1")
        #expect(h.map(\.0) == ["api-key", "x"] && h.map(\.1) == ["a b", "1"])
    }
}

@Suite struct MappingTests {
    @Test func idsAreHexInJSON() throws {
        var s = SpanRecord()
        s.traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        s.spanID = "00f067aa0ba902b7"
        s.parentSpanID = "53995c3f42cd8ad8"
        s.name = "x \"traceId\":\"AAAA\""
        var b = RequestBuilder()
        var w = ProtoWriter()
        try OTLPWire.span(s, into: &w)
        b.add(encodedSpan: w.bytes, resource: [], now: 0)
        let sealed = b.seal(.traces)
        let p = try #require(sealed)
        let json = String(decoding: try p.json(), as: UTF8.self)
        #expect(json.contains("\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""))
        #expect(json.contains("\"parentSpanId\":\"53995c3f42cd8ad8\""))
        #expect(json.contains("\"kind\":1"), "enums as integers")
        #expect(json.contains(#"x \"traceId\":\"AAAA\""#), "strings untouched")
    }

    /// A span with every kind of value, events, links and a status.
    static func richSpan() -> SpanRecord {
        var s = SpanRecord()
        s.traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        s.spanID = "00F067AA0BA902B7"
        s.parentSpanID = "53995c3f42cd8ad8"
        s.name = "SELECT users ü"
        s.spanKind = .client
        s.start = 1_763_700_000_001_000_000
        s.end = 1_763_700_000_002_100_000
        s.status = .error
        s.statusMessage = "ERROR: relation \"users\" does not exist"
        s.attrs = [("s", .string("x")), ("empty", .string("")), ("i", .int(-7)), ("zero", .int(0)), ("big", .number("9223372036854775807")),
                   ("d", .number("0.25")), ("e", .number("1e3")), ("t", .bool(true)), ("f", .bool(false)), ("n", .null),
                   ("b", .bytes([0, 1, 255])), ("a", .array([.string("gap"), .int(3), .array([])])),
                   ("o", .object([("k", .string("v")), ("deep", .object([("z", .double(1.5))]))])), (String(repeating: "k", count: 200), .string(String(repeating: "v", count: 300)))]
        s.resource = [("service.name", .string("users"))]
        s.events = [.object([("name", .string("gap")), ("ts", .int(1_763_700_000_001_500_000)), ("attrs", .object([("olly.gap.bytes", .int(120))]))]),
                    .object([]), .string("not an object")]
        s.links = [.object([("trace_id", .string("0af7651916cd43dd8448eb211c80319c")), ("span_id", .string("b7ad6b7169203331")),
                            ("trace_state", .string("vendor=1")), ("attrs", .object([("link.kind", .string("follows"))]))]),
                   .object([("trace_id", .string("0af7651916cd43dd8448eb211c80319c")), ("span_id", .string("b7ad6b7169203332"))])]
        return s
    }

    /// The hand-written span encoder writes exactly the bytes SwiftProtobuf writes for the
    /// same span built as messages, alone and inside a request of several resources.
    @Test func wireEncodingMatchesSwiftProtobuf() throws {
        var plain = SpanRecord()
        plain.traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        plain.spanID = "00f067aa0ba902b7"
        plain.status = .ok
        for s in [Self.richSpan(), plain] {
            var w = ProtoWriter()
            try OTLPWire.span(s, into: &w)
            let expected: [UInt8] = try OTLPMap.span(s).serializedBytes()
            #expect(w.bytes == expected)
        }
        var b = RequestBuilder()
        var req = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        let resources: [JSONFields] = [[("service.name", .string("a"))], [], [("service.name", .string("a"))], [("service.name", .string("b")), ("x", .int(1))]]
        var groups: [[UInt8]: Int] = [:]
        for (i, r) in resources.enumerated() {
            var s = i % 2 == 0 ? Self.richSpan() : plain
            s.name = "span \(i)"
            var w = ProtoWriter()
            try OTLPWire.span(s, into: &w)
            let key = RequestBuilder.key(OTLPMap.resource(r))
            b.add(encodedSpan: w.bytes, resource: key, now: 0)
            let m = try OTLPMap.span(s)
            if let g = groups[key] {
                req.resourceSpans[g].scopeSpans[0].spans.append(m)
            } else {
                groups[key] = req.resourceSpans.count
                req.resourceSpans.append(.with { $0.resource = OTLPMap.resource(r); $0.scopeSpans = [.with { $0.scope = ollyScope; $0.spans = [m] }] })
            }
        }
        let sealed = b.seal(.traces)
        let p = try #require(sealed)
        #expect(p.items == 4)
        #expect(p.protobuf == (try req.serializedBytes()))
    }

    @Test func badIDsAreRefusedByTheWireEncoder() {
        var s = Self.richSpan()
        var w = ProtoWriter()
        s.traceID = "4bf92f3577b34da6a3ce929d0e0e473"
        #expect(throws: MappingError.self) { try OTLPWire.span(s, into: &w) }
        s = Self.richSpan()
        s.parentSpanID = "53995c3f42cd8adx"
        #expect(throws: MappingError.self) { try OTLPWire.span(s, into: &w) }
        s = Self.richSpan()
        s.links = [.object([("trace_id", .string("0af7651916cd43dd8448eb211c80319c"))])]
        #expect(throws: MappingError.self) { try OTLPWire.span(s, into: &w) }
    }

    @Test func badIDsAreRefused() {
        var s = SpanRecord()
        s.traceID = "xyz"
        s.spanID = "00f067aa0ba902b7"
        #expect(throws: MappingError.self) { try OTLPMap.span(s) }
        s.traceID = "4bf92f3577b34da6a3ce929d0e0e473g"
        #expect(throws: MappingError.self) { try OTLPMap.span(s) }
    }

    @Test func histogramCountsMustMatchBounds() {
        var m = MetricRecord()
        m.name = "h"
        m.type = .histogram
        m.bounds = [1, 2]
        m.counts = [1, 2]
        #expect(throws: MappingError.self) { try OTLPMap.metric(m) }
    }

    @Test func severities() {
        #expect(OTLPMap.severityNumber("ERROR") == .error)
        #expect(OTLPMap.severityNumber("warning") == .warn)
        #expect(OTLPMap.severityNumber(nil) == .unspecified)
    }
}

@Suite struct ClassificationTests {
    @Test func httpStatuses() {
        #expect(HTTPSink.classify(status: 200, retryAfter: nil, body: [], json: false, signal: .traces) == .delivered(rejected: 0, message: ""))
        #expect(HTTPSink.classify(status: 503, retryAfter: "3", body: [], json: false, signal: .traces) == .retryable(message: "HTTP 503", after: 3))
        #expect(HTTPSink.classify(status: 429, retryAfter: nil, body: [], json: false, signal: .logs) == .retryable(message: "HTTP 429", after: nil))
        if case .permanent(let m) = HTTPSink.classify(status: 400, retryAfter: nil, body: Array("bad".utf8), json: false, signal: .traces) {
            #expect(m == "HTTP 400: bad")
        } else {
            Issue.record("400 is permanent")
        }
        if case .permanent = HTTPSink.classify(status: 500, retryAfter: nil, body: [], json: false, signal: .traces) {} else {
            Issue.record("500 is permanent")
        }
    }
}

@Suite struct SpoolTests {
    @Test func boundedOldestFirstAndOrdered() throws {
        let dir = tempDir()
        let spool = try Spool(dir: dir, maxBytes: 2500)
        for i in 0..<5 {
            let dropped = try spool.append(Payload(signal: .traces, items: i + 1, protobuf: Array(repeating: UInt8(i), count: 1000)))
            if i >= 2 { #expect(dropped.map(\.items) == [i - 1]) } else { #expect(dropped.isEmpty) }
        }
        #expect(spool.count == 2)
        let reopened = try Spool(dir: dir, maxBytes: 2500)
        #expect(reopened.peek()?.1.items == 4)
        reopened.removeHead()
        #expect(reopened.peek()?.1.protobuf.first == 4)
        #expect(reopened.nextSeq == 6)
    }
}
