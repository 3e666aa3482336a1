import Foundation
@testable import OllyExport
import OllyNDJSON
import Testing

@Suite struct DestinationTests {
    @Test func parsesDestinations() throws {
        #expect(try Destination.parse("otlp-grpc://127.0.0.1:4317") == .grpc(host: "127.0.0.1", port: 4317))
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
        #expect(try Destination.fromEnvironment(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]) == .grpc(host: "c", port: 4317))
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
        b.add(span: try OTLPMap.span(s), resource: OTLPMap.resource([]), size: 1, now: 0)
        let sealed = b.seal(.traces)
        let p = try #require(sealed)
        let json = String(decoding: try p.json(), as: UTF8.self)
        #expect(json.contains("\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""))
        #expect(json.contains("\"parentSpanId\":\"53995c3f42cd8ad8\""))
        #expect(json.contains("\"kind\":1"), "enums as integers")
        #expect(json.contains(#"x \"traceId\":\"AAAA\""#), "strings untouched")
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
