// Benchmark driver for `make bench` (not installed, not a test). See bench/run.sh.
//
//   olly-bench gen COUNT PAYLOAD OUT.ndjson OUT.bin   deterministic data records
//   olly-bench gen-exchanges COUNT OUT.ndjson         HTTP/1.1, PostgreSQL, Redis exchanges
//   olly-bench decode    < input                      read + decode every record
//   olly-bench roundtrip [ndjson|bin] < input         read + decode + re-encode
//
//   olly-bench append-data COUNT SIZE [ndjson|bin]     capture's data-record encoder alone
//
// decode/roundtrip print one line: records bytes seconds; append-data: ns per record.
import COllySupport
import Glibc
import OllyNDJSON

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func fail(_ s: String) -> Never {
    let m = "olly-bench: \(s)\n"
    _ = m.withCString { write(2, $0, strlen($0)) }
    exit(64)
}

func writeAll(_ fd: Int32, _ out: OutputBuffer) {
    out.withBytes { b in
        var off = 0
        while off < b.count {
            let r = write(fd, b.baseAddress! + off, b.count - off)
            if r <= 0 { fail("write failed") }
            off += r
        }
    }
    out.removeAll()
}

func gen(_ args: [String]) {
    guard args.count == 4, let count = Int(args[0]), let payload = Int(args[1]) else {
        fail("usage: olly-bench gen COUNT PAYLOAD OUT.ndjson OUT.bin")
    }
    let fdJ = open(args[2], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let fdB = open(args[3], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fdJ >= 0, fdB >= 0 else { fail("cannot create output files") }
    let outJ = OutputBuffer(capacity: 1 << 20), outB = OutputBuffer(capacity: 1 << 20)
    var encJ = RecordEncoder(format: .ndjson, out: outJ), encB = RecordEncoder(format: .bin, out: outB)
    var seed: UInt64 = 0x9E3779B97F4A7C15
    var offsets = [Int64](repeating: 0, count: 64)
    for i in 0..<count {
        var bytes = [UInt8](repeating: 0, count: payload)
        for j in 0..<payload {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            // Mostly printable text like real protocol traffic, some binary.
            bytes[j] = j % 16 == 0 ? UInt8(truncatingIfNeeded: seed >> 56) : 0x20 + UInt8(truncatingIfNeeded: seed >> 33) % 95
        }
        let conn = i % 64
        let r = Record.data(DataRecord(ts: 1_763_700_000_000_000_000 + Int64(i) * 1000, cid: Int64(conn + 1),
                                       pid: 4000 + conn, tid: 4000 + conn, dir: i % 2 == 0 ? .out : .in,
                                       off: offsets[conn], data: bytes))
        offsets[conn] += Int64(payload)
        encJ.append(r)
        encB.append(r)
        if outJ.count > 1 << 20 { writeAll(fdJ, outJ) }
        if outB.count > 1 << 20 { writeAll(fdB, outB) }
    }
    writeAll(fdJ, outJ)
    writeAll(fdB, outB)
    close(fdJ)
    close(fdB)
}

/// Exchanges like olly-reassemble writes: HTTP/1.1, PostgreSQL extended query and Redis,
/// in turn, for the parse benchmark.
func genExchanges(_ args: [String]) {
    guard args.count == 2, let count = Int(args[0]) else { fail("usage: olly-bench gen-exchanges COUNT OUT.ndjson") }
    let fd = open(args[1], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { fail("cannot create \(args[1])") }
    let out = OutputBuffer(capacity: 1 << 20)
    var enc = RecordEncoder(format: .ndjson, out: out)
    func msg(_ s: [UInt8], _ ts: Int64) -> ExchangeMessage {
        var m = ExchangeMessage()
        m.ts = ts; m.end = ts + 5_000; m.len = Int64(s.count); m.data = s
        return m
    }
    func pg(_ t: UInt8, _ body: [UInt8]) -> [UInt8] {
        let n = body.count + 4
        return [t, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + body
    }
    let http = (Array("GET /api/users/42?expand=orders HTTP/1.1\r\nHost: api.local:8080\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n".utf8),
                Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"id\":42,\"orders\":[1,2,3]}".utf8))
    let sql = Array("SELECT id, name, total FROM orders WHERE customer_id = 4711 AND status = 'open' ORDER BY id".utf8) + [0]
    let pgReq = pg(UInt8(ascii: "Q"), sql)
    let pgResp = pg(UInt8(ascii: "T"), [0, 0]) + pg(UInt8(ascii: "C"), Array("SELECT 3".utf8) + [0]) + pg(UInt8(ascii: "Z"), [73])
    let redisReq = Array("*3\r\n$3\r\nSET\r\n$11\r\nsession:42a\r\n$5\r\nvalue\r\n".utf8)
    for i in 0..<count {
        var e = ExchangeRecord()
        let ts = 1_763_700_000_000_000_000 + Int64(i) * 10_000
        e.cid = Int64(i % 256 + 1); e.pid = 4000 + i % 16; e.tid = e.pid
        e.laddr = "127.0.0.1:8080"; e.raddr = "127.0.0.1:\(40000 + i % 256)"
        switch i % 3 {
        case 0: e.proto = .http1; e.role = .server; e.req = msg(http.0, ts); e.resp = msg(http.1, ts + 6_000)
        case 1: e.proto = .postgres; e.role = .client; e.req = msg(pgReq, ts); e.resp = msg(pgResp, ts + 6_000)
        default: e.proto = .redis; e.role = .client; e.req = msg(redisReq, ts); e.resp = msg(Array("+OK\r\n".utf8), ts + 6_000)
        }
        enc.append(.exchange(e))
        if out.count > 1 << 20 { writeAll(fd, out) }
    }
    writeAll(fd, out)
    close(fd)
}

func run(encodeTo format: RecordFormat?) {
    let reader = RecordReader(fd: 0)
    let out = OutputBuffer(capacity: 1 << 21)
    var enc = RecordEncoder(format: format ?? .ndjson, out: out)
    var records = 0
    var payload = 0
    let t0 = now()
    while let item = try? reader.next() {
        guard case .record(let raw) = item else { fail("bad input record") }
        do {
            let r = try Record.decode(raw.bytes, format: raw.format)
            records += 1
            if case .data(let d) = r { payload += d.data.count }
            if format != nil {
                enc.append(r)
                if out.count > 1 << 20 { out.removeAll() }
            }
        } catch {
            fail("record \(raw.number): \(error)")
        }
    }
    let dt = now() - t0
    print(records, reader.bytesRead, payload, dt)
}

/// olly-capture's per-event encoding (RecordEncoder.appendData) without the ring buffer
/// or the output: two connections alternating, as a process's two ends of a loopback
/// connection do, a payload in cache; the buffer emptied every 256 KiB.
func appendData(_ a: [String]) {
    guard a.count >= 2, let count = Int(a[0]), let size = Int(a[1]), count > 0, size >= 0 else {
        fail("usage: olly-bench append-data COUNT SIZE [ndjson|bin]")
    }
    guard let format = a.count > 2 ? RecordFormat(rawValue: a[2]) : .ndjson else {
        fail("append-data: format \(a[2]): not ndjson or bin")
    }
    let out = OutputBuffer(capacity: 1 << 19)
    var enc = RecordEncoder(format: format, out: out)
    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    var ts: Int64 = 1_764_900_000_000_000_000
    var off: [Int64] = [0, 0]
    let t0 = now()
    payload.withUnsafeBytes { p in
        for i in 0..<count {
            let k = i & 1
            ts += 1100
            enc.appendData(ts: ts, cid: Int64(7 + k), pid: 41_234, tid: 41_234, dir: k == 0 ? .out : .in,
                           off: off[k], len: Int64(size), payload: p, tls: false)
            off[k] += Int64(size)
            if out.count > 1 << 18 { out.removeAll() }
        }
    }
    let ns: Double = (now() - t0) * 1e9 / Double(count)
    print(Double(Int(ns * 10)) / 10)
}

let args = Array(CommandLine.arguments.dropFirst())
switch args.first {
case "gen": gen(Array(args.dropFirst()))
case "gen-exchanges": genExchanges(Array(args.dropFirst()))
case "append-data": appendData(Array(args.dropFirst()))
case "decode": run(encodeTo: nil)
case "roundtrip":
    let f = args.count > 1 ? RecordFormat(rawValue: args[1]) : nil
    run(encodeTo: f ?? .ndjson)
default: fail("usage: olly-bench gen|gen-exchanges|decode|roundtrip|append-data")
}
