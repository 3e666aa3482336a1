import OllyNDJSON

/// HTTP/1.x request and response heads (RFC 9112 §3, §4), parsed from captured bytes.
/// Works on bytes: only the start line and the few fields spans need become strings.
struct HTTPHead {
    var startLine: [String] = []
    /// The fields spans use (lower-cased names), first occurrence of each.
    var fields: [(String, String)] = []
    /// Bytes of the head including the blank line, when it was complete.
    var headLength: Int?

    static let wanted: [[UInt8]] = ["host", "user-agent", "content-length", "traceparent", "tracestate"].map { Array($0.utf8) }

    init?(_ data: [UInt8]) {
        guard !data.isEmpty else { return nil }
        let end = data.headEnd()
        headLength = end.map { $0 + 4 }
        let limit = end ?? data.count
        var lineStart = 0
        var first = true
        data.withUnsafeBufferPointer { b in
            while lineStart < limit {
                var i = lineStart
                while i + 1 < limit && !(b[i] == 13 && b[i + 1] == 10) { i += 1 }
                let complete = i + 1 < limit || end != nil
                let lineEnd = (i + 1 < limit) ? i : limit
                // A head cut short (gap, budget) may end inside a line: drop that partial line,
                // unless it is the start line (the method and path are still worth having).
                if !complete && !first && end == nil { break }
                if first {
                    startLine = Self.words(b, lineStart, lineEnd)
                    first = false
                } else if let colon = (lineStart..<lineEnd).first(where: { b[$0] == 58 }) {
                    for w in Self.wanted where w.count == colon - lineStart && Self.equalsLower(b, lineStart, w) {
                        let name = String(decoding: w, as: UTF8.self)
                        if !fields.contains(where: { $0.0 == name }) {
                            var vs = colon + 1, ve = lineEnd
                            while vs < ve && (b[vs] == 32 || b[vs] == 9) { vs += 1 }
                            while ve > vs && (b[ve - 1] == 32 || b[ve - 1] == 9) { ve -= 1 }
                            fields.append((name, String(decoding: UnsafeBufferPointer(rebasing: b[vs..<ve]), as: UTF8.self)))
                        }
                    }
                }
                lineStart = lineEnd + 2
            }
        }
        if startLine.isEmpty { return nil }
    }

    /// Up to three space-separated words (the third keeps any further spaces: reason phrases).
    static func words(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> [String] {
        var out: [String] = []
        var i = s
        while i <= e && out.count < 2 {
            var j = i
            while j < e && b[j] != 32 { j += 1 }
            out.append(String(decoding: UnsafeBufferPointer(rebasing: b[i..<j]), as: UTF8.self))
            i = j + 1
            if j >= e { return out }
        }
        if i <= e { out.append(String(decoding: UnsafeBufferPointer(rebasing: b[i..<e]), as: UTF8.self)) }
        return out
    }

    static func equalsLower(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ w: [UInt8]) -> Bool {
        for k in 0..<w.count {
            var c = b[at + k]
            if c >= 65 && c <= 90 { c += 32 }
            if c != w[k] { return false }
        }
        return true
    }

    func field(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }
}

/// Query parameters whose values OpenTelemetry's HTTP conventions redact in `url.query`.
let sensitiveQueryKeys: Set<String> = ["awsaccesskeyid", "signature", "sig", "x-goog-signature"]

func redactQuery(_ q: String) -> String {
    q.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
        guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
        let key = lowercasedASCII(pair[..<eq])
        return sensitiveQueryKeys.contains(key) ? "\(pair[..<eq])=REDACTED" : String(pair)
    }.joined(separator: "&")
}

enum HTTPParser {
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    /// HTTP/1.x exchange → span draft (semantic conventions for HTTP spans).
    static func http1(_ c: ExchangeContext, tls: Bool) -> SpanDraft {
        let reqHead = c.req.flatMap { HTTPHead($0.data) }
        let respHead = c.resp.flatMap { finalHead($0.data) }
        var method: String?
        var target: String?
        var version: String?
        if let h = reqHead, h.startLine.count == 3, h.startLine[2].hasPrefix("HTTP/") {
            method = h.startLine[0]
            target = h.startLine[1]
            version = String(h.startLine[2].dropFirst(5))
        }
        var status: Int?
        if let h = respHead, h.startLine.count >= 2, h.startLine[0].hasPrefix("HTTP/") {
            status = Int(h.startLine[1])
            if version == nil { version = String(h.startLine[0].dropFirst(5)) }
        }
        return build(c, method: method, target: target, version: version, status: status,
                     reqField: { reqHead?.field($0) }, tls: tls,
                     reqBody: bodySize(c.req, reqHead), respBody: bodySize(c.resp, respHead),
                     malformed: (c.req != nil && method == nil) || (c.resp != nil && status == nil))
    }

    /// HTTP/2 (and gRPC over it) from the decoded header lists of the exchange.
    static func http2(_ c: ExchangeContext, tls: Bool) -> SpanDraft {
        let rh = c.req?.headers ?? []
        let sh = c.resp?.headers ?? []
        func req(_ n: String) -> String? { rh.first { $0.0 == n }?.1 }
        func resp(_ n: String) -> String? { sh.last { $0.0 == n }?.1 }
        let status = resp(":status").flatMap { Int($0) }
        if let ct = req("content-type"), ct.hasPrefix("application/grpc") {
            return grpc(c, path: req(":path"), grpcStatus: resp("grpc-status").flatMap { Int($0) },
                        grpcMessage: resp("grpc-message"), httpStatus: status, reqField: req)
        }
        var d = build(c, method: req(":method"), target: req(":path"), version: "2", status: status,
                      reqField: { n in n == "host" ? req(":authority") ?? req("host") : req(n) }, tls: tls,
                      reqBody: c.req.map { Int($0.len) }, respBody: c.resp.map { Int($0.len) },
                      malformed: c.req != nil && req(":method") == nil)
        if let scheme = req(":scheme") {
            d.attrs.removeAll { $0.0 == "url.scheme" }
            d.set("url.scheme", scheme)
        }
        return d
    }

    /// The final response head: interim 1xx responses (100 Continue, 103 Early Hints) that
    /// precede it in the same message are skipped; 101 Switching Protocols is final.
    static func finalHead(_ data: [UInt8]) -> HTTPHead? {
        var head = HTTPHead(data)
        var offset = 0
        while let h = head, let len = h.headLength, h.startLine.count >= 2, let code = Int(h.startLine[1]),
              code >= 100, code < 200, code != 101, offset + len < data.count {
            offset += len
            guard let next = HTTPHead(Array(data[offset...])) else { break }
            head = next
        }
        if var h = head, offset > 0 { h.headLength = h.headLength.map { $0 + offset }; head = h }
        return head
    }

    static func bodySize(_ m: ExchangeMessage?, _ head: HTTPHead?) -> Int? {
        guard let m, let head else { return nil }
        if let cl = head.field("content-length"), let n = Int(cl) { return n }
        if let hl = head.headLength { return max(0, Int(m.len) - hl) }
        return nil
    }

    static func build(_ c: ExchangeContext, method: String?, target: String?, version: String?, status: Int?,
                      reqField: (String) -> String?, tls: Bool, reqBody: Int?, respBody: Int?, malformed: Bool) -> SpanDraft {
        let known = method.map { methods.contains($0) } ?? false
        var d = SpanDraft(name: method.map { known ? $0 : "HTTP" } ?? "HTTP")
        d.malformed = malformed
        d.set("http.request.method", method.map { known ? $0 : "_OTHER" })
        if let method, !known { d.set("http.request.method_original", method) }
        var path = target
        var query: String?
        if let t = target {
            var rest = Substring(t)
            if !rest.hasPrefix("/"), let afterScheme = Self.afterSchemeSeparator(rest) {
                rest = rest[afterScheme...]
                rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
            }
            if let q = rest.firstIndex(of: "?") {
                path = String(rest[..<q])
                query = String(rest[rest.index(after: q)...])
            } else {
                path = String(rest)
            }
        }
        d.set("url.path", path)
        if let query { d.set("url.query", c.redact ? redactQuery(query) : query) }
        d.set("url.scheme", tls ? "https" : "http")
        d.set("network.protocol.name", "http")
        d.set("network.protocol.version", version)
        d.set("http.response.status_code", status)
        let ex = c.exchange
        let (serverAddr, serverPort) = reqField("host").map(splitHostPort)
            ?? (c.isServer ? ex.laddr : ex.raddr).map(splitHostPort) ?? ("", nil)
        if !serverAddr.isEmpty { d.set("server.address", serverAddr) }
        d.set("server.port", serverPort ?? (c.isServer ? ex.laddr : ex.raddr).flatMap { splitHostPort($0).1 })
        if let peer = ex.raddr.map(splitHostPort) {
            if c.isServer { d.set("client.address", peer.0) }
            d.set("network.peer.address", peer.0)
            d.set("network.peer.port", peer.1)
        }
        d.set("user_agent.original", reqField("user-agent"))
        d.set("http.request.body.size", reqBody)
        d.set("http.response.body.size", respBody)
        if let status, status >= 500 || (!c.isServer && status >= 400) {
            d.error = true
            d.set("error.type", String(status))
        }
        if let tp = reqField("traceparent") {
            d.traceParent = TraceParent(tp)
            d.traceState = reqField("tracestate")
        }
        return d
    }

    /// Where what follows the first `://` of an absolute-form target starts (bytes, not
    /// Foundation's locale-aware search).
    static func afterSchemeSeparator(_ t: Substring) -> Substring.Index? {
        let u = t.utf8
        var i = u.startIndex
        while i < u.endIndex {
            if u[i] == 58 {
                let a = u.index(after: i)
                if a < u.endIndex && u[a] == 47 {
                    let b = u.index(after: a)
                    if b < u.endIndex && u[b] == 47 { return u.index(after: b) }
                }
            }
            i = u.index(after: i)
        }
        return nil
    }

    /// gRPC over HTTP/2 (semantic conventions for RPC spans, gRPC).
    static func grpc(_ c: ExchangeContext, path: String?, grpcStatus: Int?, grpcMessage: String?, httpStatus: Int?,
                     reqField: (String) -> String?) -> SpanDraft {
        // :path is /package.Service/Method
        let parts = (path ?? "").split(separator: "/", omittingEmptySubsequences: true)
        let service = parts.count == 2 ? String(parts[0]) : nil
        let method = parts.count == 2 ? String(parts[1]) : nil
        var d = SpanDraft(name: service.flatMap { s in method.map { "\(s)/\($0)" } } ?? "grpc")
        d.malformed = service == nil
        d.set("rpc.system", "grpc")
        d.set("rpc.service", service)
        d.set("rpc.method", method)
        d.set("rpc.grpc.status_code", grpcStatus)
        // Length-prefixed messages each way, counted by olly-reassemble in the DATA frames
        // (semantic conventions have them only as the rpc.*.requests_per_rpc metrics).
        d.set("olly.rpc.request.message_count", c.req?.messages.map { Int($0) })
        d.set("olly.rpc.response.message_count", c.resp?.messages.map { Int($0) })
        let ex = c.exchange
        if let host = reqField(":authority").map(splitHostPort) ?? (c.isServer ? ex.laddr : ex.raddr).map(splitHostPort) {
            d.set("server.address", host.0)
            d.set("server.port", host.1)
        }
        if let peer = ex.raddr.map(splitHostPort) {
            d.set("network.peer.address", peer.0)
            d.set("network.peer.port", peer.1)
        }
        // Server spans: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS are errors;
        // client spans: any non-OK status.
        if let s = grpcStatus, s != 0 {
            let serverErrors: Set<Int> = [2, 4, 12, 13, 14, 15]
            if !c.isServer || serverErrors.contains(s) {
                d.error = true
                d.statusMessage = grpcMessage
                d.set("error.type", String(s))
            }
        } else if grpcStatus == nil, let h = httpStatus, h != 200 {
            d.error = true
            d.set("error.type", String(h))
        } else if grpcStatus == nil, ex.flags.contains("reset") {
            // Ended by RST_STREAM before any status: cancelled or failed, never OK.
            d.error = true
            d.set("error.type", "RST_STREAM")
        }
        if let tp = reqField("traceparent") {
            d.traceParent = TraceParent(tp)
            d.traceState = reqField("tracestate")
        }
        return d
    }
}
