import Foundation
import Testing
import OllyNDJSON
@testable import OllyParse

/// The golden spans of the HTTP/2 and gRPC fixtures (GoldenSpanTests) against what the real
/// clients did (scripts/record-fixtures.py http2|grpc).
@Suite struct HTTP2GoldenSpanTests {
    func decoded(_ name: String) throws -> [SpanRecord] {
        try GoldenSpanTests.spans(name).compactMap { line in
            guard case .span(let s) = try Record.decodeNDJSON(line) else { return nil }
            return s
        }
    }

    /// nghttp and h2load against nghttpd: paths, methods, statuses, body sizes.
    @Test func http2SpansSayWhatNghttpDid() throws {
        let s = try decoded("http2")
        #expect(s.count == 129)
        #expect(s.allSatisfy { $0.attr("network.protocol.version") == .string("2") && $0.attr("url.scheme") == .string("http") })
        #expect(s.allSatisfy { $0.spanKind == .client && $0.attr("olly.parse.malformed") == nil })
        func spans(_ method: String, _ path: String) -> [SpanRecord] {
            s.filter { $0.attr("http.request.method") == .string(method) && $0.attr("url.path") == .string(path) }
        }
        #expect(spans("GET", "/missing").map { $0.attr("http.response.status_code") } == [.int(404)])
        #expect(spans("GET", "/missing").allSatisfy { $0.status == .error })
        #expect(spans("HEAD", "/index.html").map { $0.attr("http.response.body.size") } == [.int(0)])
        #expect(spans("POST", "/echo").map { $0.attr("http.request.body.size") } == [.int(75000), .int(75000)])
        for i in 0..<100 {
            let body = "this is file \(i)\n".utf8.count * (i % 7 + 1)
            let m = spans("GET", String(format: "/many/f%03d", i))
            #expect(m.count == 1 && m.first?.attr("http.response.body.size") == .int(Int64(body)) && m.first?.name == "GET")
        }
        #expect(s.filter { $0.attr("user_agent.original")?.stringValue?.hasPrefix("h2load") == true }.count == 20)
        // nghttp's own requests; the pushed one is nghttpd's promise and names no agent.
        #expect(s.filter { $0.attr("user_agent.original")?.stringValue?.hasPrefix("nghttp2/") == true }.count == 108)
        let push = try #require(s.first { $0.attr("olly.exchange.flags") == .array([.string("push")]) })
        #expect(push.attr("url.path") == .string("/style.css") && push.attr("user_agent.original") == nil)
        #expect(s.allSatisfy { $0.attr("server.address") == .string("127.0.0.1") })
    }

    /// The calls the Python client made and what it got back (grpc.calls.json): service,
    /// method, status from the trailers, message counts.
    @Test func grpcSpansSayWhatTheClientDid() throws {
        struct Call: Decodable { var method: String; var status: Int; var details: String?; var requests: [String]; var responses: [String] }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<2 { url.deleteLastPathComponent() }
        let data = try Data(contentsOf: url.appendingPathComponent("Fixtures/reassembly/grpc.calls.json"))
        let calls = try JSONDecoder().decode([Call].self, from: data)
        let s = try decoded("grpc").sorted { $0.start < $1.start }
        #expect(s.count == calls.count)
        for (span, call) in zip(s, calls) {
            #expect(span.name == "olly.test.Greeter/\(call.method)")
            #expect(span.attr("rpc.system") == .string("grpc"))
            #expect(span.attr("rpc.service") == .string("olly.test.Greeter"))
            #expect(span.attr("rpc.method") == .string(call.method))
            #expect(span.attr("olly.rpc.request.message_count") == .int(Int64(call.requests.count)), "\(call.method)")
            #expect(span.attr("olly.rpc.response.message_count") == .int(Int64(call.responses.count)), "\(call.method)")
            if call.status == 1 {
                // Cancelled: the client reset the stream; no status was sent.
                #expect(span.attr("rpc.grpc.status_code") == nil && span.status == .error)
                #expect(span.attr("error.type") == .string("RST_STREAM"))
            } else {
                #expect(span.attr("rpc.grpc.status_code") == .int(Int64(call.status)), "\(call.method)")
                #expect(span.status == (call.status == 0 ? .unset : .error), "\(call.method)")
                if call.status != 0 { #expect(span.statusMessage == call.details) }
            }
        }
    }

    /// h2 over TLS captured by the hook: the spans say https, from :scheme.
    @Test func http2OverTLSSpans() throws {
        let s = try decoded("http2tls")
        #expect(s.map { $0.attr("url.path") } == [.string("/index.html"), .string("/missing"), .string("/echo")])
        #expect(s.allSatisfy { $0.attr("url.scheme") == .string("https") && $0.attr("network.protocol.version") == .string("2") })
        #expect(s.map { $0.attr("http.response.status_code") } == [.int(200), .int(404), .int(200)])
        #expect(s.last?.attr("http.request.body.size") == .int(17000))
        #expect(s.allSatisfy { $0.res("service.name") == .string("nghttp") })
    }
}
