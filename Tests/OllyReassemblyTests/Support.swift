import Foundation
import OllyNDJSON
@testable import OllyReassembly

let fixtureDir: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<2 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Fixtures/reassembly").path
}()

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Builds the records of one client connection, in the order given.
struct Conn {
    var cid: Int64 = 1
    var pid = 100
    var ts: Int64 = 1_000_000_000
    var offs: [Int64] = [0, 0]
    var records: [Record] = []
    var laddr = "127.0.0.1:40000"
    var raddr = "127.0.0.1:8080"
    var role: Role = .client

    init(cid: Int64 = 1, raddr: String = "127.0.0.1:8080", role: Role = .client, open: Bool = true) {
        self.cid = cid
        self.raddr = raddr
        self.role = role
        if open { records.append(.conn(connRecord(.open))) }
    }

    func connRecord(_ ev: ConnEvent) -> ConnRecord {
        var c = ConnRecord()
        c.ev = ev; c.ts = ts; c.cid = cid; c.pid = pid; c.tid = pid; c.role = role
        c.laddr = laddr; c.raddr = raddr
        return c
    }

    /// One data record; `captured` < its length makes the rest a gap.
    mutating func send(_ dir: Direction, _ b: [UInt8], captured: Int? = nil, skip: Int64 = 0, tls: Bool = false) {
        ts += 1000
        offs[dir.index] += skip
        let cap = captured ?? b.count
        records.append(.data(DataRecord(ts: ts, cid: cid, pid: pid, tid: pid, dir: dir, off: offs[dir.index],
                                        len: Int64(b.count), data: Array(b.prefix(cap)), tls: tls)))
        offs[dir.index] += Int64(b.count)
    }

    mutating func out(_ s: String) { send(.out, bytes(s)) }
    mutating func `in`(_ s: String) { send(.in, bytes(s)) }

    mutating func close() {
        ts += 1000
        records.append(.conn(connRecord(.close)))
    }
}

extension Direction {
    var index: Int { self == .out ? 0 : 1 }
}

/// Runs the engine over records; returns the exchanges and the counters.
func reassemble(_ records: [Record], limits: Limits = Limits(), overrides: [Int: Proto] = [:]) -> ([ExchangeRecord], Counters) {
    var r = Reassembler(limits: limits, overrides: overrides)
    var out: [Record] = []
    for rec in records { _ = r.process(rec, &out) }
    r.finish(&out)
    let xs = out.compactMap { rec -> ExchangeRecord? in
        if case .exchange(let x) = rec { return x }
        return nil
    }
    return (xs, r.counters)
}

extension ExchangeRecord {
    var reqText: String { String(decoding: req?.data ?? [], as: UTF8.self) }
    var respText: String { String(decoding: resp?.data ?? [], as: UTF8.self) }
}

/// Splits every data record into one-byte records (same offsets and times).
func drip(_ records: [Record]) -> [Record] {
    records.flatMap { r -> [Record] in
        guard case .data(let d) = r, d.data.count == Int(d.len), d.len > 1 else { return [r] }
        return d.data.indices.map { i in
            .data(DataRecord(ts: d.ts, cid: d.cid, pid: d.pid, tid: d.tid, dir: d.dir, off: d.off + Int64(i), len: 1, data: [d.data[i]], tls: d.tls))
        }
    }
}

/// Frames `b` with a framer function.
func frame(_ b: [UInt8], _ f: (Bytes) -> Frame) -> Frame {
    b.withUnsafeBufferPointer { f($0) }
}
