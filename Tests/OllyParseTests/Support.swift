import Foundation
import OllyNDJSON
@testable import OllyParse

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func message(_ data: [UInt8], ts: Int64 = 1_000, end: Int64 = 2_000, len: Int64? = nil) -> ExchangeMessage {
    var m = ExchangeMessage()
    m.ts = ts
    m.end = end
    m.len = len ?? Int64(data.count)
    m.data = data
    return m
}

func exchange(_ proto: Proto, role: Role = .client, req: [UInt8]?, resp: [UInt8]?, cid: Int64 = 1, pid: Int = 100,
              laddr: String = "127.0.0.1:50000", raddr: String = "127.0.0.1:8080", flags: [String] = []) -> ExchangeRecord {
    var e = ExchangeRecord()
    e.proto = proto
    e.cid = cid
    e.pid = pid
    e.tid = pid
    e.role = role
    e.laddr = laddr
    e.raddr = raddr
    e.req = req.map { message($0, ts: 1_000, end: 1_500) }
    e.resp = resp.map { message($0, ts: 1_800, end: 2_000) }
    e.flags = flags
    return e
}

extension SpanRecord {
    func attr(_ k: String) -> JSONValue? { attrs.first { $0.0 == k }?.1 }
    func res(_ k: String) -> JSONValue? { resource.first { $0.0 == k }?.1 }
}

/// Records of the recorded sample (real curl ↔ python http.server traffic).
func sampleRecords() throws -> [Record] {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    let text = try String(contentsOf: url.appendingPathComponent("samples/http-keepalive.ndjson"), encoding: .utf8)
    return try text.split(separator: "\n").map { try Record.decodeNDJSON(String($0)) }
}

/// Postgres frontend/backend message: type, int32 length, body.
func pg(_ type: Character, _ body: [UInt8]) -> [UInt8] {
    let len = body.count + 4
    return [UInt8(ascii: type.unicodeScalars.first!)] + [UInt8(len >> 24), UInt8((len >> 16) & 0xFF), UInt8((len >> 8) & 0xFF), UInt8(len & 0xFF)] + body
}

func cstr(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }
