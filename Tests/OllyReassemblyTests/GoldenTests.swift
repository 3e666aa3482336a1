import Foundation
import OllyNDJSON
import Testing
@testable import OllyReassembly

/// Real traffic recorded from real clients and servers (scripts/record-fixtures.py) against
/// the expected exchanges, diffed exactly (scripts/record-fixtures.sh writes them).
@Suite struct GoldenTests {
    static let names = ["http", "redis", "dns", "postgres", "mysql", "mongo", "http2", "grpc", "http2tls"]

    func load(_ name: String) throws -> (input: [String], expected: [String], overrides: [Int: Proto]) {
        let input = try String(contentsOfFile: "\(fixtureDir)/\(name).ndjson", encoding: .utf8)
        let expected = try String(contentsOfFile: "\(fixtureDir)/\(name).expected.ndjson", encoding: .utf8)
        var overrides: [Int: Proto] = [:]
        if let args = try? String(contentsOfFile: "\(fixtureDir)/\(name).args", encoding: .utf8) {
            let words = args.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            for (i, w) in words.enumerated() where w == "--proto" && i + 1 < words.count {
                if let (p, proto) = parseProtoOverride(words[i + 1]) { overrides[p] = proto }
            }
        }
        return (input.split(separator: "\n").map(String.init), expected.split(separator: "\n").map(String.init), overrides)
    }

    /// Runs the engine as the command does: consumed records replaced by what they made,
    /// the others copied unchanged.
    func run(_ lines: [String], overrides: [Int: Proto], transform: ([Record]) -> [Record] = { $0 }) throws -> [String] {
        var records: [(String, Record)] = []
        for l in lines { records.append((l, try Record.decodeNDJSON(l))) }
        var engine = Reassembler(overrides: overrides)
        var out: [String] = []
        var made: [Record] = []
        let recs = transform(records.map(\.1))
        var rawOf: [Int: String] = [:]
        if recs.count == records.count { for (i, r) in records.enumerated() { rawOf[i] = r.0 } }
        for (i, r) in recs.enumerated() {
            if engine.process(r, &made) {
                out += made.map(\.ndjson)
                made.removeAll()
            } else {
                out.append(rawOf[i] ?? r.ndjson)
            }
        }
        engine.finish(&made)
        out += made.map(\.ndjson)
        return out
    }

    @Test(arguments: names)
    func matchesExpected(_ name: String) throws {
        let f = try load(name)
        let got = try run(f.input, overrides: f.overrides)
        #expect(got.count == f.expected.count)
        for (i, (g, e)) in zip(got, f.expected).enumerated() where g != e {
            Issue.record("\(name): line \(i + 1) differs:\n got \(g.prefix(300))\nwant \(e.prefix(300))")
            break
        }
    }

    /// One byte per record gives the same exchanges (times and offsets kept).
    @Test(arguments: ["redis", "dns", "postgres", "mysql", "mongo", "http2", "grpc", "http2tls"])
    func dripFeedGivesTheSameExchanges(_ name: String) throws {
        let f = try load(name)
        let whole = try run(f.input, overrides: f.overrides).filter { $0.hasPrefix("{\"kind\":\"exchange\"") }
        let dripped = try run(f.input, overrides: f.overrides, transform: { recs in
            // Datagrams keep their boundaries.
            name == "dns" ? recs.filter { _ in true } : drip(recs)
        }).filter { $0.hasPrefix("{\"kind\":\"exchange\"") }
        #expect(dripped == whole)
    }

    @Test func fixturesSayWhatTheClientsDid() throws {
        func exchanges(_ name: String) throws -> [ExchangeRecord] {
            let f = try load(name)
            return try run(f.input, overrides: f.overrides).compactMap {
                if case .exchange(let x) = try Record.decodeNDJSON($0) { return x } else { return nil }
            }
        }
        let http = try exchanges("http")
        #expect(http.filter { $0.proto == .http1 }.count == 12)
        #expect(http.allSatisfy { !$0.flags.contains("gap") && !$0.flags.contains("no_response") })
        let big = try #require(http.first { $0.reqText.hasPrefix("GET /gz/big.bin") })
        #expect(big.respText.contains("Transfer-Encoding: chunked"))
        #expect(big.resp?.len ?? 0 > 1 << 20)
        #expect(big.resp?.data.suffix(5) == Array("0\r\n\r\n".utf8))
        let head = try #require(http.first { $0.reqText.hasPrefix("HEAD ") })
        #expect(head.respText.hasSuffix("\r\n\r\n"))
        let put = try #require(http.first { $0.reqText.hasPrefix("PUT ") })
        #expect(put.respText.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201"))
        #expect(http.filter { $0.flags == ["pipelined"] }.count == 2)
        let upgraded = http.filter { $0.flags == ["upgraded"] }
        #expect(upgraded.map(\.reqText) == ["ping one", "ping two"])
        #expect(upgraded.map(\.respText) == ["echo:ping one", "echo:ping two"])

        let redis = try exchanges("redis")
        #expect(redis.allSatisfy { $0.proto == .redis })
        #expect(redis.filter { $0.flags.contains("push") }.count == 3)
        #expect(redis.filter { $0.reqText.contains("GET\r\n$2\r\np") }.map(\.respText)
                == (0..<10).map { "$1\r\n\($0)\r\n" })

        let dns = try exchanges("dns")
        #expect(dns.count == 8)
        #expect(dns.allSatisfy { $0.proto == .dns && $0.flags.isEmpty })
        // Matched by ID (over TCP behind the 2-byte length).
        #expect(dns.allSatisfy { x in
            let tcp = x.cid == 6
            return x.req?.data.dropFirst(tcp ? 2 : 0).prefix(2) == x.resp?.data.dropFirst(tcp ? 2 : 0).prefix(2)
        })
        #expect(dns.filter { $0.cid == 6 }.count == 3)

        let pg = try exchanges("postgres")
        #expect(pg.allSatisfy { $0.proto == .postgres })
        #expect(pg.filter { $0.respText.contains("division by zero") }.count == 1)
        #expect(pg.filter { $0.resp != nil }.allSatisfy { $0.resp?.data.suffix(6).first == UInt8(ascii: "Z") || $0.resp?.len == 1 })
    }
}
