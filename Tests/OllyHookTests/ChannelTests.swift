import COllyHook
import OllyHook
import OllyNDJSON
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A valid data entry: header + payload, as the library writes it.
func dataEntry(cid: UInt64 = 1, off: UInt64 = 0, payload: [UInt8], len: UInt32? = nil) -> [UInt8] {
    var e = olly_hook_entry()
    e.magic = UInt16(OLLY_ENTRY_MAGIC)
    e.type = UInt8(OLLY_HOOK_DATA.rawValue)
    e.flags = UInt8(OLLY_HF_IN.rawValue)
    e.nslots = UInt32((Int(OLLY_ENTRY_BYTES) + payload.count + Int(OLLY_SLOT) - 1) / Int(OLLY_SLOT))
    e.ts = 1_763_700_000_000_000_000
    e.cid = cid
    e.off = off
    e.pid = 42
    e.tid = 43
    e.len = len ?? UInt32(payload.count)
    e.cap = UInt32(payload.count)
    e.fd = 5
    var bytes = withUnsafeBytes(of: e) { Array($0) } + payload
    bytes += [UInt8](repeating: 0, count: Int(e.nslots) * Int(OLLY_SLOT) - bytes.count)
    return bytes
}

func decode(_ b: [UInt8]) -> HookEntry? { b.withUnsafeBytes { HookEntry.decode($0) } }

@Suite struct ChannelTests {
    @Test func decodesData() throws {
        let e = try #require(decode(dataEntry(cid: 7, off: 100, payload: Array("hello".utf8), len: 9)))
        guard case .data(let d) = e else { Issue.record("not data"); return }
        #expect(d.cid == 7 && d.off == 100 && d.len == 9 && d.bytes == Array("hello".utf8) && d.inbound && !d.tls)
        var maker = HookRecordMaker(describe: { var r = ProcRecord(); r.pid = Int($0); return r })
        var out: [Record] = []
        maker.records(for: e, into: &out)
        #expect(out.count == 2) // proc (first sight), data
        guard case .data(let rec) = out.last else { Issue.record("no data record"); return }
        #expect(rec.len == 9 && rec.data.count == 5 && rec.dir == .in && rec.off == 100)
    }

    /// Every truncated prefix, a wrong magic, captured bytes beyond len, a wrong slot count:
    /// rejected, never a crash.
    @Test func rejectsMalformedAndTruncated() {
        let good = dataEntry(payload: Array(repeating: 0x41, count: 700))
        #expect(decode(good) != nil)
        for n in 0..<good.count where n < Int(OLLY_SLOT) * 2 {
            #expect(decode(Array(good.prefix(n))) == nil, "prefix \(n)")
        }
        var bad = good; bad[0] ^= 0xff
        #expect(decode(bad) == nil)
        var over = good; over[44] = 0xff; over[45] = 0xff // cap > len
        #expect(decode(over) == nil)
        var slots = good; slots[4] = 9
        #expect(decode(slots) == nil)
        var type = good; type[2] = 99
        #expect(decode(type) == nil)
    }

    /// Foreign and malformed entries on the ring are counted and skipped; the entries
    /// after them still arrive; a slot whose writer died is abandoned after a bounded wait.
    @Test func readerSkipsForeignAndAbandoned() throws {
        var fd: Int32 = -1
        let r = try #require(olly_reader_create(1 << 16, nil, &fd, uid_t.max, gid_t.max))
        defer { olly_reader_free(r); close(fd) }
        let garbage = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        #expect(olly_reader_inject(r, garbage, UInt32(garbage.count), 1) == 0)
        let good = dataEntry(payload: Array("ok".utf8))
        #expect(olly_reader_inject(r, good, UInt32(good.count), 1) == 0)
        var p: UnsafePointer<UInt8>?
        var size: UInt32 = 0
        #expect(olly_reader_next(r, &p, &size, 1) == -1)
        #expect(olly_reader_next(r, &p, &size, 1) == 1)
        #expect(olly_reader_bad(r) == 1)
        // a writer that reserved and died, then a good entry behind it
        #expect(olly_reader_reserve_only(r, 1) == 0)
        #expect(olly_reader_inject(r, good, UInt32(good.count), 1) == 0)
        #expect(olly_reader_next(r, &p, &size, 10) == 0) // waiting for the writer
        #expect(olly_reader_next(r, &p, &size, 10 + OLLY_ABANDON_NS / 2) == 0)
        #expect(olly_reader_next(r, &p, &size, 20 + OLLY_ABANDON_NS) == -2)
        #expect(olly_reader_next(r, &p, &size, 20 + OLLY_ABANDON_NS) == 1)
        #expect(olly_reader_abandoned(r) == 1)
        #expect(olly_reader_next(r, &p, &size, 30 + OLLY_ABANDON_NS) == 0)
        #expect(olly_reader_idle(r) == 1)
    }

    @Test func addresses() {
        #expect(Address.string(family: 2, addr: [127, 0, 0, 1] + [UInt8](repeating: 0, count: 12), port: 80) == "127.0.0.1:80")
        #expect(Address.string(family: 10, addr: [UInt8](repeating: 0, count: 15) + [1], port: 443) == "[::1]:443")
        #expect(Address.string(family: 10, addr: [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 10, 0, 0, 1], port: 8) == "[::ffff:10.0.0.1]:8")
        #expect(Address.string(family: 1, addr: [], port: 0) == nil)
    }
}
