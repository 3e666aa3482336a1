import Testing
@testable import OllyNDJSON

/// `RecordEncoder.appendData` (capture's path from the ring buffer to the output) writes
/// exactly the bytes the general encoder writes for the same record, in both formats.
@Suite struct DirectDataTests {
    func general(_ format: RecordFormat, _ r: DataRecord) -> [UInt8] {
        var e = RecordEncoder(format: format, out: OutputBuffer(capacity: 64))
        e.append(.data(r))
        return e.out.bytes
    }

    func direct(_ format: RecordFormat, _ r: DataRecord) -> [UInt8] {
        var e = RecordEncoder(format: format, out: OutputBuffer(capacity: 64))
        r.data.withUnsafeBytes {
            e.appendData(ts: r.ts, cid: r.cid, pid: Int64(r.pid), tid: Int64(r.tid ?? 0), dir: r.dir,
                         off: r.off, len: r.len, payload: $0, tls: r.tls)
        }
        return e.out.bytes
    }

    @Test(arguments: RecordFormat.allCases)
    func sameBytesAsTheGeneralEncoder(_ format: RecordFormat) throws {
        var numbers: [Int64] = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 1 << 31, 1_763_790_000_123_456_789,
                                Int64.max, -1, -10, -1_000_001, Int64.min + 1, Int64.min,
                                10_000_000_000_000_000, 999_999_999_999_999_999, 12_345_678_901_234_567]
        // every digit count, at its edges (the integers are written 8 digits per division)
        var p: Int64 = 10
        for _ in 1...18 {
            numbers += [p - 1, p, p + 1, -p, p / 3 * 10]
            p = p &* 10
        }
        var seed: UInt64 = 7
        func rnd() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 11 }
        var checked = 0
        for len in [0, 1, 2, 3, 4, 15, 16, 17, 47, 48, 255, 256, 4096, 16384] {
            let payload = (0..<len).map { _ in UInt8(truncatingIfNeeded: rnd()) }
            for k in 0..<numbers.count {
                let n = numbers[k], m = numbers[(k + 5) % numbers.count]
                var r = DataRecord(ts: n, cid: m, pid: Int(Int32.max), tid: Int(rnd() % 4_000_000),
                                   dir: k % 2 == 0 ? .out : .in, off: abs(m == Int64.min ? 0 : m), len: Int64(len) + Int64(k),
                                   data: payload, tls: k % 3 == 0)
                r.pid = Int(rnd() % 5_000_000)
                #expect(direct(format, r) == general(format, r), "len \(len), numbers \(n) \(m), \(format)")
                checked += 1
            }
        }
        #expect(checked == 14 * numbers.count)
        #expect(numbers.count == 21 + 18 * 5)
    }

    /// One encoder writing many records: the connection fields and timestamp digits it
    /// keeps from earlier records (cids sharing a slot, a cid whose pid or tid changed,
    /// timestamps crossing a 10^8 boundary, small and negative ones) never leak into a
    /// record they do not belong to.
    @Test(arguments: RecordFormat.allCases)
    func repeatedFieldsInARowMatchTheGeneralEncoder(_ format: RecordFormat) throws {
        var direct = RecordEncoder(format: format, out: OutputBuffer(capacity: 64))
        var general = RecordEncoder(format: format, out: OutputBuffer(capacity: 64))
        var seed: UInt64 = 11
        func rnd(_ n: UInt64) -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return (seed >> 11) % n }
        let cids: [Int64] = [1, 2, 17, 33, 18, 1 << 32 + 1, Int64.max, -1, 0, 16]
        var ts: Int64 = 1_763_790_000_099_999_990
        var written = 0, at = 0
        for i in 0..<3000 {
            let cid = cids[Int(rnd(UInt64(cids.count)))]
            let pid = Int(rnd(4) == 0 ? rnd(3) + 100 : 100)
            let tid = Int64(pid) + Int64(rnd(8) == 0 ? 1 : 0)
            switch rnd(20) {
            case 0: ts = Int64(rnd(200_000_000)) // around 10^8
            case 1: ts = -Int64(rnd(1000))
            case 2: ts = 1_763_790_000_099_999_990
            default: ts += Int64(rnd(5))
            }
            let len = Int(rnd(40))
            let r = DataRecord(ts: ts, cid: cid, pid: pid, tid: Int(tid), dir: i % 2 == 0 ? .out : .in,
                               off: Int64(i), len: Int64(len + 3), data: (0..<len).map { _ in UInt8(rnd(256)) }, tls: false)
            r.data.withUnsafeBytes {
                direct.appendData(ts: r.ts, cid: r.cid, pid: Int64(r.pid), tid: tid, dir: r.dir,
                                  off: r.off, len: r.len, payload: $0, tls: r.tls)
            }
            general.append(.data(r))
            written += 1
            let d = Array(UnsafeBufferPointer(start: direct.out.base + at, count: direct.out.count - at))
            let g = Array(UnsafeBufferPointer(start: general.out.base + at, count: general.out.count - at))
            at = general.out.count
            if d != g {
                Issue.record("record \(i) (cid \(cid), pid \(pid), tid \(tid), ts \(ts)) differs from byte \(zip(d, g).prefix { $0 == $1 }.count)")
                return
            }
        }
        #expect(written == 3000)
    }

    /// Several records in a row, binary magic once, decoded back to the same records.
    @Test(arguments: RecordFormat.allCases)
    func decodesBack(_ format: RecordFormat) throws {
        var e = RecordEncoder(format: format, out: OutputBuffer(capacity: 16))
        var recs: [DataRecord] = []
        for i in 0..<3 {
            let payload: [UInt8] = Array("ab\"\\".utf8) + [UInt8(48 + i)]
            let ts: Int64 = 1_700_000_000_000_000_000 + Int64(i)
            recs.append(DataRecord(ts: ts, cid: Int64(i + 1), pid: 42, tid: 43, dir: .in, off: Int64(i * 5), len: 5,
                                   data: payload, tls: i == 1))
        }
        for r in recs {
            r.data.withUnsafeBytes {
                e.appendData(ts: r.ts, cid: r.cid, pid: 42, tid: 43, dir: r.dir, off: r.off, len: r.len, payload: $0, tls: r.tls)
            }
        }
        let bytes = e.out.bytes
        var got: [Record] = []
        if format == .ndjson {
            for line in bytes.split(separator: UInt8(ascii: "\n")) {
                got.append(try Array(line).withUnsafeBytes { b throws(DecodeError) in try Record.decodeNDJSON(b) })
            }
        } else {
            #expect(Array(bytes.prefix(8)) == BinaryFormat.magic)
            var i = 8
            while i + 4 <= bytes.count {
                let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
                got.append(try Array(bytes[(i + 4)..<(i + 4 + n)]).withUnsafeBytes { b throws(DecodeError) in try Record.decodeBinary(b) })
                i += 4 + n
            }
        }
        #expect(got == recs.map { Record.data($0) })
    }
}
