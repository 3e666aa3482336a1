import Foundation
import Testing

/// stdout, file:DIR and tree: no receiver needed.
@Suite struct LocalDestinationTests {
    let input = String(decoding: FileManager.default.contents(atPath: fixturePath) ?? Data(), as: UTF8.self)

    @Test func stdoutWritesOneOTLPJSONRequestPerLine() throws {
        let r = try runExport(["--to", "stdout", "--no-red"], input: input)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let otlp = lines.filter { $0.hasPrefix("{\"resource") }
        #expect(otlp.count == 3, "\(lines)")
        #expect(otlp[0].hasPrefix("{\"resourceSpans\":"))
        #expect(otlp[0].contains("\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""))
        #expect(lines.first?.hasPrefix("{\"kind\":\"proc\"") == true, "other records pass through")
        #expect(r.counters["sent_spans"] == 3)
        // Same input, same output.
        let again = try runExport(["--to", "stdout", "--no-red"], input: input)
        #expect(again.stdout == r.stdout)
    }

    @Test func fileRotatesAndKeepsNumbering() throws {
        let dir = tempDir()
        let r = try runExport(["--to", "file:\(dir)", "--batch-size", "10", "--file-max-bytes", "4096", "--no-red", "--no-stats-metrics"], input: spans(100))
        #expect(r.status == 0, "\(r.stderr)")
        var files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files.count > 1 && files.first == "otlp-000001.jsonl", "\(files)")
        var total = 0
        for f in files {
            let text = String(decoding: FileManager.default.contents(atPath: dir + "/" + f) ?? Data(), as: UTF8.self)
            for line in text.split(separator: "\n") {
                let j = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                total += (at(j, "resourceSpans", 0, "scopeSpans", 0, "spans") as? [Any])?.count ?? 0
            }
        }
        #expect(total == 100)
        _ = try runExport(["--to", "file:\(dir)", "--no-red"], input: spans(1))
        files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files.last == String(format: "otlp-%06d.jsonl", files.count), "\(files)")
    }

    @Test func treeDrawsEachTrace() throws {
        let r = try runExport(["--to", "tree"], input: input)
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex { $0.hasPrefix("trace 4bf92f3577b34da6a3ce929d0e0e4736 1.10ms 3 spans") }, "\(lines)")
        #expect(lines[start + 1].hasPrefix("  GET /users/{id} [users]"))
        #expect(lines[start + 2].hasPrefix("    SELECT users [users]") && lines[start + 2].contains("ERROR"))
        #expect(lines[start + 3].hasPrefix("      postgres query [postgres]"))
        #expect(lines[start + 1].contains("1.10ms"))
    }

    @Test func badIDsAreReportedAndCounted() throws {
        let bad = #"{"kind":"span","trace_id":"nothex","span_id":"00f067aa0ba902b7","name":"x","span_kind":"server","start":1,"end":2,"status":"unset"}"# + "\n"
        let r = try runExport(["--to", "stdout"], input: bad)
        #expect(r.status == 0)
        #expect(r.counters["unexportable"] == 1)
        #expect(r.stderr.contains("trace_id \"nothex\""), "\(r.stderr)")
    }

    @Test func usageErrors() throws {
        let r = try runExport(["--to", "kafka://x:1"], input: "")
        #expect(r.status == 64)
        #expect(r.stderr.contains("unknown destination"))
        let e = try runExport([], input: "", env: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "x"])
        #expect(e.status == 64 && e.stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=x"), "\(e.stderr)")
    }
}
