import Foundation
import Testing
import OllyCLI
import OllyNDJSON
@testable import OllyParse

/// Golden spans: the exchanges olly-reassemble makes of real recorded traffic
/// (Tests/Fixtures/reassembly/NAME.expected.ndjson, recorded by scripts/record-fixtures.py
/// from real clients and servers) parsed into spans and diffed exactly with
/// Tests/Fixtures/parse/NAME.spans.ndjson. Regenerate with OLLY_UPDATE_GOLDEN=1.
@Suite struct GoldenSpanTests {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Tests/Fixtures")
    }()

    /// Runs the real stage (process + RecordWriter) over a fixture; returns the span lines.
    static func spans(_ name: String) throws -> [String] {
        let input = try String(contentsOf: root.appendingPathComponent("reassembly/\(name).expected.ndjson"), encoding: .utf8)
        let outPath = NSTemporaryDirectory() + "olly-golden-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        guard let handle = FileHandle(forWritingAtPath: outPath) else { throw CocoaError(.fileNoSuchFile) }
        let writer = RecordWriter(fd: handle.fileDescriptor, format: .ndjson, unbuffered: false)
        var stage = ParseStage(options: ParseOptions(hostName: "fixture-host"))
        for line in input.split(separator: "\n") {
            let record = try Record.decodeNDJSON(String(line))
            if try stage.process(record, out: writer) == .passThrough { try writer.write(record) }
        }
        try writer.flush()
        try handle.close()
        let out = try String(contentsOfFile: outPath, encoding: .utf8)
        return out.split(separator: "\n").map(String.init).filter { $0.hasPrefix("{\"kind\":\"span\"") }
    }

    @Test(arguments: ["http", "redis", "dns", "postgres", "mysql", "mongo", "http2", "grpc", "http2tls"])
    func matchesGolden(_ name: String) throws {
        let got = try Self.spans(name)
        let golden = Self.root.appendingPathComponent("parse/\(name).spans.ndjson")
        if ProcessInfo.processInfo.environment["OLLY_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (got.joined(separator: "\n") + "\n").write(to: golden, atomically: true, encoding: .utf8)
        }
        let want = try String(contentsOf: golden, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(got.count == want.count)
        for (i, (g, w)) in zip(got, want).enumerated() where g != w {
            Issue.record("\(name) span \(i + 1) differs:\n got  \(g)\n want \(w)")
            break
        }
    }

    func decoded(_ name: String) throws -> [SpanRecord] {
        try Self.spans(name).map { line in
            guard case .span(let s) = try Record.decodeNDJSON(line) else { throw CocoaError(.coderInvalidValue) }
            return s
        }
    }

    /// What psql and psycopg really executed (scripts/record-fixtures.py postgres).
    @Test func postgresSpansSayWhatTheClientsDid() throws {
        let s = try decoded("postgres")
        let texts = s.compactMap { $0.attr("db.query.text")?.stringValue }
        #expect(texts.contains("CREATE TABLE t (id int PRIMARY KEY, name text)"))
        #expect(texts.filter { $0 == "SELECT name FROM t WHERE id = $1" }.count >= 3)
        let div = try #require(s.first { $0.attr("db.query.text") == .string("SELECT ?/?") })
        #expect(div.status == .error && div.attr("db.response.status_code") == .string("22012"))
        let missing = try #require(s.first { $0.attr("db.collection.name") == .string("missing_table") })
        #expect(missing.attr("db.response.status_code") == .string("42P01"))
        #expect(s.allSatisfy { $0.attr("db.namespace") == .string("postgres") })
        #expect(s.allSatisfy { $0.attr("db.system.name") == .string("postgresql") })
        // The SCRAM exchange never becomes a span, and no literal leaks.
        #expect(!texts.contains { $0.contains("'one'") || $0.contains("SCRAM") })
    }

    @Test func redisSpansSayWhatTheClientDid() throws {
        let ops = try decoded("redis").compactMap { $0.attr("db.operation.name")?.stringValue }
        for op in ["SET", "GET", "INCRBY", "RPUSH", "LRANGE", "HSET", "HGETALL"] { #expect(ops.contains(op), "\(op)") }
        let wrong = try decoded("redis").first { $0.attr("db.response.status_code") == .string("WRONGTYPE") }
        #expect(wrong?.status == .error)
    }

    @Test func dnsSpansSayWhatDigAsked() throws {
        let s = try decoded("dns")
        let asked = s.map { "\($0.attr("dns.question.name")?.stringValue ?? "") \($0.attr("olly.dns.question.type")?.stringValue ?? "")" }
        for q in ["example.test A", "example.test AAAA", "txt.example.test TXT", "example.test MX", "nothing.test A"] {
            #expect(asked.contains(q), "\(q)")
        }
        #expect(s.filter { $0.attr("dns.question.name") == .string("nothing.test") }.allSatisfy { $0.attr("olly.dns.response_code") == .string("NXDOMAIN") })
    }

    @Test func httpSpansSayWhatCurlAndNginxDid() throws {
        let s = try decoded("http")
        func status(_ path: String) -> [Int64] { s.filter { $0.attr("url.path") == .string(path) }.compactMap { $0.attr("http.response.status_code")?.intValue } }
        #expect(status("/index.html").contains(200))
        #expect(status("/index.html").contains(304))
        #expect(status("/missing").allSatisfy { $0 == 404 } && !status("/missing").isEmpty)
        let put = try #require(s.first { $0.attr("http.request.method") == .string("PUT") })
        #expect(put.attr("http.response.status_code")?.intValue.map { $0 >= 200 } == true, "the final status, not 100 Continue")
        #expect(s.contains { $0.attr("url.path") == .string("/gz/big.bin") && $0.attr("http.response.status_code") == .int(200) })
        #expect(s.contains { $0.attr("user_agent.original")?.stringValue?.hasPrefix("curl/") == true })
    }
}
