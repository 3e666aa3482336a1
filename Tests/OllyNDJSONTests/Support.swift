import Foundation
@testable import OllyNDJSON

/// Decodes an NDJSON line, returning the error instead of throwing.
func decodeLine(_ s: String) -> Result<Record, DecodeError> {
    decodeBytes(Array(s.utf8))
}

func decodeBytes(_ b: [UInt8]) -> Result<Record, DecodeError> {
    b.withUnsafeBytes { raw in
        do throws(DecodeError) { return .success(try Record.decodeNDJSON(raw)) } catch { return .failure(error) }
    }
}

/// Decodes with the general (non-fast-path) decoder.
func decodeGeneral(_ s: String) -> Result<Record, DecodeError> {
    Array(s.utf8).withUnsafeBytes { raw in
        var sc = JSONScanner(raw)
        do throws(DecodeError) { return .success(try Record.decode(&sc)) } catch { return .failure(error) }
    }
}

func decodeFrame(_ b: [UInt8]) -> Result<Record, DecodeError> {
    b.withUnsafeBytes { raw in
        do throws(DecodeError) { return .success(try Record.decodeBinary(raw)) } catch { return .failure(error) }
    }
}

func decodeFrameGeneral(_ b: [UInt8]) -> Result<Record, DecodeError> {
    b.withUnsafeBytes { raw in
        var sc = BinaryScanner(raw)
        do throws(DecodeError) { return .success(try Record.decode(&sc)) } catch { return .failure(error) }
    }
}

/// The binary frame body of a record (without magic and length).
func frameBody(_ r: Record) -> [UInt8] {
    let out = OutputBuffer()
    var w = BinaryWriter(out)
    r.encode(to: &w)
    return out.bytes
}

/// The whole encoded stream of records in a format.
func encodeStream(_ rs: [Record], _ f: RecordFormat) -> [UInt8] {
    let out = OutputBuffer()
    var e = RecordEncoder(format: f, out: out)
    for r in rs { e.append(r) }
    return out.bytes
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { return e }; return nil }
    var success: Success? { if case .success(let s) = self { return s }; return nil }
}

/// A reader over bytes written to a temporary file.
func readAll(_ bytes: [UInt8], limits: ReaderLimits = ReaderLimits()) throws -> [RecordReader.Item] {
    let path = NSTemporaryDirectory() + "olly-test-\(UUID().uuidString)"
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    return try readItems(fd: fd, limits: limits)
}

func readItems(fd: Int32, limits: ReaderLimits = ReaderLimits()) throws -> [RecordReader.Item] {
    let reader = RecordReader(fd: fd, limits: limits)
    var items: [RecordReader.Item] = []
    while let item = try reader.next() {
        // Copy the bytes out: they are only valid until the next read.
        if case .record(var raw) = item {
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(raw.bytes.count, 1), alignment: 1)
            copy.copyMemory(from: raw.bytes)
            raw.bytes = UnsafeRawBufferPointer(rebasing: copy[0..<raw.bytes.count])
            items.append(.record(raw))
        } else {
            items.append(item)
        }
    }
    return items
}

extension RecordReader.Item {
    var text: String? {
        if case .record(let r) = self { return String(decoding: r.bytes, as: UTF8.self) }
        return nil
    }
    var issue: InputIssue? {
        if case .issue(let i) = self { return i }
        return nil
    }
}

/// One of every record kind, with optional members, unicode and characters that need escaping.
func sampleRecords() -> [Record] {
    var proc = ProcRecord()
    proc.ts = 1_763_700_000_123_456_789; proc.pid = 4242; proc.ppid = 1; proc.comm = "nginx"
    proc.exe = "/usr/sbin/nginx"; proc.cmdline = ["nginx", "-g", "daemon off;"]; proc.cgroup = "0::/system.slice/nginx.service"
    proc.containerID = "abc123"; proc.service = "front-end ☃"
    var conn = ConnRecord()
    conn.ev = .existing; conn.ts = 5; conn.cid = 7; conn.pid = 4242; conn.tid = 4243; conn.fd = 12
    conn.role = .server; conn.family = .inet6; conn.laddr = "[::1]:8080"; conn.raddr = "[::1]:51234"
    var data = DataRecord(ts: 9, cid: 7, pid: 4242, tid: 4243, dir: .in, off: 1 << 40, len: 1000,
                          data: Array("GET / HTTP/1.1\r\n\u{0}\u{1}\u{ff}".utf8) + [0, 255, 128], tls: true)
    data.extra = [("future_field", .array([.number("1.5e-3"), .null, .bool(true)]))]
    var log = LogRecord()
    log.ts = 10; log.pid = 1; log.tid = 2; log.source = "stderr"; log.body = "line with \"quotes\", \\ and \t tab\n and é 中文 😀"
    log.severity = "ERROR"; log.attrs = [("code", .number("42")), ("nested", .object([("a", .string("b"))]))]
    log.traceID = "0af7651916cd43dd8448eb211c80319c"; log.spanID = "b7ad6b7169203331"
    var req = ExchangeMessage()
    req.ts = 1; req.end = 2; req.len = 3; req.data = [1, 2, 3]; req.headers = [(":method", "GET"), (":path", "/a?b=c")]
    var resp = ExchangeMessage()
    resp.ts = 3; resp.end = 4; resp.len = 10; resp.data = Array("ok".utf8); resp.messages = 2
    var ex = ExchangeRecord()
    ex.proto = .http2; ex.cid = 7; ex.pid = 4242; ex.tid = 4243; ex.role = .server; ex.laddr = "127.0.0.1:80"
    ex.raddr = "127.0.0.1:5000"; ex.req = req; ex.resp = resp; ex.stream = 3; ex.flags = ["gap", "truncated"]
    var span = SpanRecord()
    span.traceID = "0af7651916cd43dd8448eb211c80319c"; span.spanID = "b7ad6b7169203331"; span.parentSpanID = "00f067aa0ba902b7"
    span.name = "GET /users/{id}"; span.spanKind = .server; span.start = 100; span.end = 200; span.status = .error
    span.statusMessage = "boom"; span.attrs = [("http.request.method", .string("GET")), ("http.response.status_code", .number("500"))]
    span.resource = [("service.name", .string("api"))]; span.events = [.object([("name", .string("exception"))])]
    span.links = [.object([("trace_id", .string("ab"))])]
    var origin = SpanOrigin()
    origin.cid = 7; origin.pid = 4242; origin.tid = 4243; origin.role = .server; origin.laddr = "127.0.0.1:80"; origin.raddr = "127.0.0.1:5000"
    span.olly = origin
    var gauge = MetricRecord()
    gauge.name = "olly.lost_events"; gauge.unit = "{event}"; gauge.type = .gauge; gauge.ts = 5; gauge.value = 0.25
    var hist = MetricRecord()
    hist.name = "http.server.request.duration"; hist.unit = "s"; hist.type = .histogram; hist.ts = 6; hist.startTS = 1
    hist.attrs = [("http.route", .string("/a"))]; hist.count = 3; hist.sum = 1.5; hist.bounds = [0.1, 1]; hist.counts = [1, 1, 1]
    let stats = StatsRecord(stage: "olly-parse", ts: 7, final: true, counters: [("records_in", 10), ("bad_records", 0)])
    let other = OtherRecord(kind: "edge", fields: [("client", .string("a")), ("server", .string("b")), ("count", .number("3"))])
    return [.proc(proc), .conn(conn), .data(data), .log(log), .exchange(ex), .span(span), .metric(gauge),
            .metric(hist), .stats(stats), .other(other)]
}
