import Foundation
import Testing

/// A value deep in decoded JSON: keys and array indexes.
func at(_ v: Any?, _ path: Any...) -> Any? {
    var cur = v
    for p in path {
        if let k = p as? String { cur = (cur as? [String: Any])?[k] } else if let i = p as? Int {
            guard let a = cur as? [Any], i < a.count else { return nil }
            cur = a[i]
        }
    }
    return cur
}

/// OTLP attributes (a list of {key, value}) as a dictionary of AnyValue dictionaries.
func attrs(_ v: Any?) -> [String: [String: Any]] {
    var d: [String: [String: Any]] = [:]
    for kv in v as? [[String: Any]] ?? [] { d[kv["key"] as? String ?? ""] = kv["value"] as? [String: Any] ?? [:] }
    return d
}

/// Tests against the real receiver (Python grpcio + opentelemetry-proto): one at a time.
@Suite(.serialized) struct ReceiverTests {
    /// Every field of spans, logs and metrics arrives, over gRPC, HTTP protobuf and HTTP JSON,
    /// with gzip, to three destinations at once; stats are forwarded as metrics and RED
    /// metrics derived.
    @Test func everyFieldRoundTrips() throws {
        let rx = try Receiver()
        defer { rx.stop() }
        let input = String(decoding: FileManager.default.contents(atPath: fixturePath) ?? Data(), as: UTF8.self)
        let r = try runExport(["--to", "otlp-grpc://127.0.0.1:\(rx.grpcPort)", "--to", "otlp-http://127.0.0.1:\(rx.httpPort)",
                               "--to", "otlp-http+json://127.0.0.1:\(rx.httpPort)", "--compression", "gzip",
                               "--headers", "x-tenant=olly%20test"], input: input)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "")
        let c = r.counters
        #expect(c["spans_in"] == 3 && c["logs_in"] == 2 && c["metrics_in"] == 3 && c["stats_in"] == 1)
        #expect(c["sent_spans"] == 9 && c["sent_logs"] == 6)
        #expect(c["lost_items"] == 0 && c["permanent_errors"] == 0 && c["unexportable"] == 0)
        // proc and stats pass through; spans, logs and metrics are consumed.
        #expect(r.stdout.contains("\"kind\":\"proc\"") && !r.stdout.contains("\"kind\":\"span\""))
        rx.stop()
        let reqs = rx.requests
        for (transport, encoding) in [("grpc", "protobuf"), ("http", "protobuf"), ("http", "json")] {
            let mine = reqs.filter { $0["transport"] as? String == transport && $0["encoding"] as? String == encoding }
            let label = "\(transport)/\(encoding)"
            if transport == "http" { #expect(mine.allSatisfy { $0["gzip"] as? Bool == true }, "\(label) gzip") }
            #expect(mine.allSatisfy { at($0, "headers", "x-tenant") as? String == "olly test" }, "\(label) headers")
            try checkTraces(mine.filter { $0["signal"] as? String == "traces" }, label)
            try checkLogs(mine.filter { $0["signal"] as? String == "logs" }, label)
            try checkMetrics(mine.filter { $0["signal"] as? String == "metrics" }, label)
        }
    }

    func checkTraces(_ reqs: [[String: Any]], _ label: String) throws {
        #expect(reqs.count == 1, "\(label)")
        let rs = try #require(at(reqs.first, "request", "resourceSpans") as? [[String: Any]])
        #expect(rs.count == 2, "\(label): grouped by resource")
        let res = attrs(at(rs[0], "resource", "attributes"))
        #expect(res["service.name"]?["stringValue"] as? String == "users")
        #expect(res["process.pid"]?["intValue"] as? String == "4300")
        #expect(res["host.name"]?["stringValue"] as? String == "olly-test")
        #expect(at(rs[0], "scopeSpans", 0, "scope", "name") as? String == "olly")
        let spans = try #require(at(rs[0], "scopeSpans", 0, "spans") as? [[String: Any]])
        #expect(spans.count == 2)
        let s = spans[0]
        #expect(s["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(s["spanId"] as? String == "00f067aa0ba902b7")
        #expect(s["parentSpanId"] == nil)
        #expect(s["name"] as? String == "GET /users/{id}")
        #expect(s["kind"] as? String == "SPAN_KIND_SERVER")
        #expect(s["startTimeUnixNano"] as? String == "1763700000001000000")
        #expect(s["endTimeUnixNano"] as? String == "1763700000002100000")
        let a = attrs(s["attributes"])
        #expect(a["http.request.method"]?["stringValue"] as? String == "GET")
        #expect(a["http.response.status_code"]?["intValue"] as? String == "200")
        #expect(a["user_agent.original"]?["stringValue"] as? String == "curl/7.88.1")
        #expect(at(s, "events", 0, "name") as? String == "gap")
        #expect(at(s, "events", 0, "timeUnixNano") as? String == "1763700000001500000")
        #expect(attrs(at(s, "events", 0, "attributes"))["olly.gap.bytes"]?["intValue"] as? String == "120")
        #expect(at(s, "links", 0, "traceId") as? String == "0af7651916cd43dd8448eb211c80319c")
        #expect(at(s, "links", 0, "spanId") as? String == "b7ad6b7169203331")
        #expect(at(s, "links", 0, "traceState") as? String == "vendor=1")
        #expect(attrs(at(s, "links", 0, "attributes"))["link.kind"]?["stringValue"] as? String == "follows")
        let db = spans[1]
        #expect(db["parentSpanId"] as? String == "00f067aa0ba902b7")
        #expect(db["kind"] as? String == "SPAN_KIND_CLIENT")
        #expect(at(db, "status", "code") as? String == "STATUS_CODE_ERROR")
        #expect(at(db, "status", "message") as? String == "ERROR: relation \"users\" does not exist (SQLSTATE 42P01)")
        let da = attrs(db["attributes"])
        #expect(da["db.query.text"]?["stringValue"] as? String == "SELECT * FROM users WHERE id = ?")
        #expect(da["olly.ratio"]?["doubleValue"] as? Double == 0.25)
        #expect(da["olly.ok"]?["boolValue"] as? Bool == true)
        #expect((at(da["olly.flags"], "arrayValue", "values") as? [[String: Any]])?.compactMap { $0["stringValue"] as? String } == ["gap", "truncated"])
        #expect(attrs(at(da["olly.nested"], "kvlistValue", "values"))["b"]?["stringValue"] as? String == "x")
        #expect(da["olly.null"].map { $0.isEmpty } == true)
        let pg = try #require(at(rs[1], "scopeSpans", 0, "spans", 0) as? [String: Any])
        #expect(at(pg, "status", "code") as? String == "STATUS_CODE_OK")
        #expect(pg["kind"] as? String == "SPAN_KIND_SERVER")
        #expect(attrs(at(rs[1], "resource", "attributes"))["service.name"]?["stringValue"] as? String == "postgres")
    }

    func checkLogs(_ reqs: [[String: Any]], _ label: String) throws {
        let rl = reqs.flatMap { at($0, "request", "resourceLogs") as? [[String: Any]] ?? [] }
        let withPid = try #require(rl.first { attrs(at($0, "resource", "attributes"))["process.pid"] != nil }, "\(label)")
        let l = try #require(at(withPid, "scopeLogs", 0, "logRecords", 0) as? [String: Any])
        #expect(l["timeUnixNano"] as? String == "1763700000001600000")
        #expect(l["observedTimeUnixNano"] as? String == "1763700000001600000")
        #expect(l["severityText"] as? String == "WARN")
        #expect(l["severityNumber"] as? String == "SEVERITY_NUMBER_WARN")
        #expect(at(l, "body", "stringValue") as? String == "GET /users/7 200")
        #expect(l["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(l["spanId"] as? String == "00f067aa0ba902b7")
        let a = attrs(l["attributes"])
        #expect(a["http.route"]?["stringValue"] as? String == "/users/{id}")
        #expect(a["code.lineno"]?["intValue"] as? String == "42")
        #expect(a["log.source"]?["stringValue"] as? String == "stderr")
        #expect(a["thread.id"]?["intValue"] as? String == "4301")
        let all = rl.flatMap { at($0, "scopeLogs", 0, "logRecords") as? [[String: Any]] ?? [] }
        #expect(all.count == 2, "\(label)")
    }

    func checkMetrics(_ reqs: [[String: Any]], _ label: String) throws {
        var metrics: [String: [String: Any]] = [:]
        var errorPoints: [[String: Any]] = []
        for req in reqs {
            for rm in at(req, "request", "resourceMetrics") as? [[String: Any]] ?? [] {
                for m in at(rm, "scopeMetrics", 0, "metrics") as? [[String: Any]] ?? [] {
                    metrics[m["name"] as? String ?? ""] = m
                    if m["name"] as? String == "traces.span.metrics.errors" {
                        errorPoints += at(m, "sum", "dataPoints") as? [[String: Any]] ?? []
                    }
                }
            }
        }
        let h = try #require(metrics["http.server.request.duration"], "\(label)")
        #expect(h["unit"] as? String == "s")
        #expect(at(h, "histogram", "aggregationTemporality") as? String == "AGGREGATION_TEMPORALITY_CUMULATIVE")
        let p = try #require(at(h, "histogram", "dataPoints", 0) as? [String: Any])
        #expect(p["count"] as? String == "3")
        #expect(p["sum"] as? Double == 0.0042)
        #expect(p["explicitBounds"] as? [Double] == [0.001, 0.005, 0.01])
        #expect(p["bucketCounts"] as? [String] == ["0", "2", "1", "0"])
        #expect(p["startTimeUnixNano"] as? String == "1763700000000000000")
        #expect(p["timeUnixNano"] as? String == "1763700000010000000")
        #expect(attrs(p["attributes"])["http.request.method"]?["stringValue"] as? String == "GET")
        #expect(at(metrics["process.open_fds"], "gauge", "dataPoints", 0, "asDouble") as? Double == 17)
        #expect(at(metrics["process.open_fds"], "unit") as? String == "{fd}")
        #expect(at(metrics["olly.bytes"], "sum", "dataPoints", 0, "asDouble") as? Double == 123456.5)
        #expect(at(metrics["olly.bytes"], "sum", "isMonotonic") as? Bool == true)
        // stats of other stages, as metrics
        let ri = try #require(metrics["olly.records_in"], "\(label)")
        #expect(at(ri, "sum", "dataPoints", 0, "asInt") as? String == "9")
        #expect(attrs(at(ri, "sum", "dataPoints", 0, "attributes"))["olly.stage"]?["stringValue"] as? String == "olly-parse")
        // RED metrics from the spans
        let calls = try #require(metrics["traces.span.metrics.calls"], "\(label)")
        let points = at(calls, "sum", "dataPoints") as? [[String: Any]] ?? []
        #expect(!points.isEmpty)
        #expect(metrics["traces.span.metrics.duration"] != nil && metrics["traces.span.metrics.errors"] != nil)
        let dbErrors = errorPoints.first { attrs($0["attributes"])["span.name"]?["stringValue"] as? String == "SELECT users" }
        #expect(dbErrors?["asInt"] as? String == "1")
    }

    /// A receiver answering 400: counted, the receiver's message on stderr, no retry.
    @Test(arguments: ["grpc", "http"])
    func permanentErrorsAreCountedNotRetried(_ transport: String) throws {
        let rx = try Receiver(mode: "fail400")
        defer { rx.stop() }
        let dest = transport == "grpc" ? "otlp-grpc://127.0.0.1:\(rx.grpcPort)" : "otlp-http://127.0.0.1:\(rx.httpPort)"
        let r = try runExport(["--to", dest, "--batch-size", "100", "--no-red"], input: spans(250))
        #expect(r.status == 0)
        #expect(r.stderr.contains("refused, not retried"), "\(r.stderr)")
        #expect(r.stderr.contains("test receiver refuses everything"), "\(r.stderr)")
        let c = r.counters
        #expect(c["permanent_errors"] == 3 && c["permanent_items"] == 250 && c["retries"] == 0, "\(c)")
        rx.stop()
        #expect(rx.counts?["requests"] as? Int == 3)
    }

    /// Partial success: the rejected count is counted and said.
    @Test func partialSuccessIsCounted() throws {
        let rx = try Receiver(mode: "partial")
        defer { rx.stop() }
        let r = try runExport(["--to", "otlp-grpc://127.0.0.1:\(rx.grpcPort)", "--batch-size", "100", "--no-red"], input: spans(200))
        #expect(r.counters["rejected_spans"] == 2 && r.counters["sent_spans"] == 198, "\(r.counters)")
        #expect(r.stderr.contains("partial success"))
    }

    /// UNAVAILABLE / 503 with RetryInfo / Retry-After: retried after the delay, delivered.
    @Test(arguments: ["grpc", "http"])
    func retryableAnswersAreRetried(_ transport: String) throws {
        let rx = try Receiver(mode: "unavailable:2")
        defer { rx.stop() }
        let dest = transport == "grpc" ? "otlp-grpc://127.0.0.1:\(rx.grpcPort)" : "otlp-http://127.0.0.1:\(rx.httpPort)"
        let t0 = Date()
        let r = try runExport(["--to", dest, "--no-red"], input: spans(10))
        #expect(r.status == 0)
        #expect(r.counters["retries"] == 2 && r.counters["sent_spans"] == 10, "\(r.counters) \(r.stderr)")
        #expect(Date().timeIntervalSince(t0) >= 2, "the 1 s retry delay of the receiver was honoured twice")
        rx.stop()
        #expect(Set(receivedSpanIDs(rx)).count == 10)
    }

    /// The receiver is down for 10 seconds, then back: nothing is lost (no spool: the
    /// exporter holds the input back and probes). When it is back it records the first
    /// request but answers only after the exporter's 1 s timeout, so that request is sent
    /// again and arrives twice: duplicates happen only so (at least once delivery), and
    /// olly-export counts every request it may have duplicated.
    @Test(arguments: ["grpc", "http"])
    func receiverDownTenSecondsLosesNothing(_ transport: String) throws {
        let first = try Receiver()
        let (g, h) = (first.grpcPort, first.httpPort)
        first.stop()
        let dest = transport == "grpc" ? "otlp-grpc://127.0.0.1:\(g)" : "otlp-http://127.0.0.1:\(h)"
        let p = try ExportProcess(["--to", dest, "--batch-size", "100", "--batch-delay-ms", "100", "--no-red", "--drain-seconds", "60",
                                   "--timeout", "1"])
        let t0 = Date()
        p.write(spans(1000))
        Thread.sleep(forTimeInterval: 10)
        p.write(spans(1000, from: 1000))
        let rx = try Receiver(mode: "slow:1:3", grpcPort: g, httpPort: h)
        defer { rx.stop() }
        p.closeInput()
        let r = try p.wait(timeout: 120)
        #expect(Date().timeIntervalSince(t0) >= 10)
        #expect(r.status == 0, "\(r.stderr)")
        let c = r.counters
        #expect(c["lost_items"] == 0 && c["sent_spans"] == 2000, "\(c) \(r.stderr)")
        #expect(c["retries"] ?? 0 >= 1)
        rx.stop()
        let ids = receivedSpanIDs(rx)
        #expect(Set(ids).count == 2000, "every span arrived")
        let duplicates = ids.count - Set(ids).count
        #expect(duplicates >= 100, "the request answered late arrived twice")
        #expect(c["retried_after_timeout_batches"] ?? 0 >= 1, "\(c)")
        #expect(duplicates <= c["retried_after_timeout_items"] ?? 0, "every duplicate is counted: \(duplicates) \(c)")
    }

    /// SIGTERM in the middle of a stream with the receiver down: everything accepted is in
    /// the spool; the next run delivers it, in order, and empties the spool.
    @Test func sigtermSpoolsAndNextRunDelivers() throws {
        let first = try Receiver()
        let (g, h) = (first.grpcPort, first.httpPort)
        first.stop()
        let spool = tempDir()
        let args = ["--to", "otlp-grpc://127.0.0.1:\(g)", "--batch-size", "100", "--no-red", "--spool", spool]
        let p = try ExportProcess(args)
        p.write(spans(750))
        Thread.sleep(forTimeInterval: 3)
        p.process.terminate() // SIGTERM, input still open
        let r = try p.wait(timeout: 30)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.counters["spans_in"] == 750 && r.counters["lost_items"] == 0, "\(r.counters)")
        let dir = spool + "/otlp-grpc___127.0.0.1_\(g)"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir).sorted()) ?? []
        let spooled = files.compactMap { Int($0.dropLast(3).split(separator: "-").last ?? "") }.reduce(0, +)
        #expect(spooled == 750, "\(files) \(r.stderr)")
        #expect(r.stderr.contains("for the next run"))

        let rx = try Receiver(grpcPort: g, httpPort: h)
        defer { rx.stop() }
        let again = try runExport(args, input: "")
        #expect(again.status == 0)
        #expect(again.counters["spool_replayed_batches"] == files.count, "\(again.counters)")
        rx.stop()
        let ids = receivedSpanIDs(rx)
        #expect(ids.count == 750)
        #expect(ids == (1...750).map { String(format: "%016llx", UInt64($0)) }, "replayed in order")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).isEmpty)
    }
}
