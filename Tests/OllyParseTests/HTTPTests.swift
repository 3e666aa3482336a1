import Testing
import OllyNDJSON
@testable import OllyParse

@Suite struct HTTPTests {
    /// The first exchange of the real recording, assembled from its data records: the
    /// attributes say what curl really did (GET /index.html, 200, its User-Agent).
    @Test func realCurlExchange() throws {
        let recs = try sampleRecords()
        var out: [UInt8] = [], inb: [UInt8] = []
        var proc: ProcRecord?
        for r in recs {
            if case .proc(let p) = r { proc = p }
            if case .data(let d) = r, d.cid == 1 {
                if d.dir == .out && d.off < 89 { out += d.data }
                if d.dir == .in && d.off < 255 { inb += d.data }
            }
        }
        let p = try #require(proc)
        var stage = ParseStage(options: ParseOptions(hostName: "h1"))
        _ = stage.remember(0)
        var ex = exchange(.http1, req: out, resp: inb, pid: p.pid, laddr: "127.0.0.1:40000", raddr: "127.0.0.1:56795")
        ex.tid = p.pid
        let span = try #require(ParseStage(options: ParseOptions(hostName: "h1")).spanWithProc(p, ex))
        #expect(span.name == "GET")
        #expect(span.spanKind == .client)
        #expect(span.attr("http.request.method") == .string("GET"))
        #expect(span.attr("url.path") == .string("/index.html"))
        #expect(span.attr("http.response.status_code") == .int(200))
        #expect(span.attr("user_agent.original") == .string("curl/7.88.1"))
        #expect(span.attr("server.address") == .string("127.0.0.1"))
        #expect(span.attr("server.port") == .int(56795))
        #expect(span.attr("network.protocol.version") == .string("1.1"))
        #expect(span.attr("http.response.body.size") == .int(70))
        #expect(span.status == .unset)
        #expect(span.res("service.name") == .string("curl"))
        #expect(span.res("host.name") == .string("h1"))
        #expect(span.res("process.pid") == .int(Int64(p.pid)))
    }

    @Test(arguments: [
        // (role, request, response, method, path, query, status, error)
        (Role.server, "GET /users/7?x=1&sig=abc HTTP/1.1\r\nHost: api:8080\r\n\r\n", "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n", "GET", "/users/7", "x=1&sig=REDACTED", 503, true),
        (Role.server, "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "HTTP/1.1 404 Not Found\r\n\r\n", "POST", "/p", nil, 404, false),
        (Role.client, "DELETE http://h/x?q HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n\r\n", "DELETE", "/x", "q", 404, true),
        (Role.client, "BREW /pot HTTP/1.1\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\n", "_OTHER", "/pot", nil, 200, false),
        (Role.client, "PUT /up HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 507 Full\r\n\r\n", "PUT", "/up", nil, 507, true),
        (Role.client, "GET /ws HTTP/1.1\r\nUpgrade: x\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\nraw", "GET", "/ws", nil, 101, false),
    ])
    func vectors(_ role: Role, _ req: String, _ resp: String, _ method: String, _ path: String, _ query: String?, _ status: Int, _ error: Bool) throws {
        var stage = ParseStage()
        let spanMade = stage.makeSpan(exchange(.http1, role: role, req: bytes(req), resp: bytes(resp)))
        let span = try #require(spanMade)
        #expect(span.attr("http.request.method") == .string(method))
        #expect(span.attr("url.path") == .string(path))
        #expect(span.attr("url.query") == query.map { .string($0) })
        #expect(span.attr("http.response.status_code") == .int(Int64(status)))
        #expect((span.status == .error) == error)
        #expect(span.spanKind == (role == .server ? .server : .client))
    }

    @Test func traceparentIsHonoured() throws {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        var stage = ParseStage()
        let req = bytes("GET / HTTP/1.1\r\ntraceparent: \(tp)\r\ntracestate: k=v\r\n\r\n")
        let serverMade = stage.makeSpan(exchange(.http1, role: .server, req: req, resp: bytes("HTTP/1.1 200 OK\r\n\r\n")))
        let server = try #require(serverMade)
        #expect(server.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(server.parentSpanID == "b7ad6b7169203331")
        #expect(server.spanID != "b7ad6b7169203331")
        #expect(server.extra.first { $0.0 == "trace_state" }?.1 == .string("k=v"))
        let clientMade = stage.makeSpan(exchange(.http1, role: .client, req: req, resp: nil))
        let client = try #require(clientMade)
        #expect(client.spanID == "b7ad6b7169203331")
        #expect(client.traceID == server.traceID)
        // Invalid trace context is ignored.
        let bad = bytes("GET / HTTP/1.1\r\ntraceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01\r\n\r\n")
        let s3Made = stage.makeSpan(exchange(.http1, role: .server, req: bad, resp: nil))
        let s3 = try #require(s3Made)
        #expect(s3.parentSpanID == nil)
    }

    @Test func idsAreDeterministicAndDistinct() throws {
        var a = ParseStage(), b = ParseStage()
        let e1 = exchange(.http1, req: bytes("GET / HTTP/1.1\r\n\r\n"), resp: nil, cid: 1)
        let e2 = exchange(.http1, req: bytes("GET / HTTP/1.1\r\n\r\n"), resp: nil, cid: 2)
        let m1 = a.makeSpan(e1), m1b = b.makeSpan(e1), m2 = a.makeSpan(e2)
        let s1 = try #require(m1), s1b = try #require(m1b), s2 = try #require(m2)
        #expect(s1 == s1b)
        #expect(s1.spanID != s2.spanID && s1.traceID != s2.traceID)
        #expect(s1.traceID.count == 32 && s1.spanID.count == 16)
    }

    @Test func gapsAndTruncationAreFlagged() throws {
        var stage = ParseStage()
        let spanMade = stage.makeSpan(exchange(.http1, req: bytes("GET /a HTTP/1.1\r\nHo"), resp: nil, flags: ["gap", "truncated", "no_response"]))
        let span = try #require(spanMade)
        #expect(span.attr("olly.capture.gap") == .bool(true))
        #expect(span.attr("olly.capture.truncated") == .bool(true))
        #expect(span.attr("url.path") == .string("/a"))
    }

    /// Every truncated prefix of request and response: a span, never a crash.
    @Test func everyPrefix() throws {
        let req = bytes("POST /x?a=1 HTTP/1.1\r\nHost: h:1\r\nUser-Agent: u\r\nContent-Length: 2\r\n\r\nhi")
        let resp = bytes("HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\n!")
        var stage = ParseStage()
        for n in 0...req.count {
            let made = stage.makeSpan(exchange(.http1, req: Array(req[0..<n]), resp: resp))
            #expect(made != nil)
        }
        for n in 0...resp.count {
            let made = stage.makeSpan(exchange(.http1, req: req, resp: Array(resp[0..<n])))
            #expect(made != nil)
        }
        let garbageMade = stage.makeSpan(exchange(.http1, req: [0, 1, 2, 255], resp: [9]))
        let garbage = try #require(garbageMade)
        #expect(garbage.attr("olly.parse.malformed") == .bool(true))
    }

    @Test func http2AndGRPCFromHeaders() throws {
        var stage = ParseStage()
        var ex = exchange(.http2, role: .server, req: [], resp: [])
        ex.req?.headers = [(":method", "GET"), (":scheme", "https"), (":path", "/a?b=c"), (":authority", "svc:443"), ("user-agent", "nghttp2")]
        ex.resp?.headers = [(":status", "500")]
        let sMade = stage.makeSpan(ex)
        let s = try #require(sMade)
        #expect(s.name == "GET")
        #expect(s.attr("url.path") == .string("/a"))
        #expect(s.attr("url.scheme") == .string("https"))
        #expect(s.attr("network.protocol.version") == .string("2"))
        #expect(s.attr("server.address") == .string("svc"))
        #expect(s.status == .error)
        var g = exchange(.grpc, role: .client, req: [], resp: [])
        g.req?.headers = [(":method", "POST"), (":path", "/helloworld.Greeter/SayHello"), ("content-type", "application/grpc")]
        g.resp?.headers = [(":status", "200"), ("grpc-status", "5"), ("grpc-message", "not found")]
        let gsMade = stage.makeSpan(g)
        let gs = try #require(gsMade)
        #expect(gs.name == "helloworld.Greeter/SayHello")
        #expect(gs.attr("rpc.system") == .string("grpc"))
        #expect(gs.attr("rpc.service") == .string("helloworld.Greeter"))
        #expect(gs.attr("rpc.method") == .string("SayHello"))
        #expect(gs.attr("rpc.grpc.status_code") == .int(5))
        #expect(gs.status == .error && gs.statusMessage == "not found")
    }
}

extension ParseStage {
    func spanWithProc(_ p: ProcRecord, _ ex: ExchangeRecord) -> SpanRecord? {
        var s = self
        s.procs[p.pid] = p
        return s.makeSpan(ex)
    }
}
