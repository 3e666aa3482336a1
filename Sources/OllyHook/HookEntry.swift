import COllyHook

/// One entry of the hook channel (hook/olly_hook.h), decoded and checked.
public enum HookEntry: Equatable, Sendable {
    case data(HookData)
    case conn(HookConn)
    case proc(HookProc)
}

public struct HookData: Equatable, Sendable {
    public var ts: Int64, cid: Int64, off: Int64, pid: Int32, tid: Int32, fd: Int32
    public var len: Int64
    public var inbound: Bool
    public var tls: Bool
    public var bytes: [UInt8]
}

public struct HookConn: Equatable, Sendable {
    public enum Event: UInt8, Sendable { case open = 1, close = 2, seen = 3 }
    public var ts: Int64, cid: Int64, pid: Int32, tid: Int32, fd: Int32
    public var event: Event
    /// 0 unknown, 1 client, 2 server.
    public var role: UInt8
    public var family: Int
    public var laddr: [UInt8], lport: Int
    public var raddr: [UInt8], rport: Int
}

public struct HookProc: Equatable, Sendable {
    public var ts: Int64, pid: Int32, tid: Int32, ppid: Int32
    /// The library started in this process (at exec or attach) or it was forked.
    public var forked: Bool
}

extension HookEntry {
    static let headerBytes = Int(OLLY_ENTRY_BYTES)

    /// Decodes an entry; nil when it is malformed, truncated or foreign (the checks do not
    /// trust anything in it).
    public static func decode(_ b: UnsafeRawBufferPointer) -> HookEntry? {
        guard b.count >= headerBytes else { return nil }
        func u8(_ o: Int) -> UInt8 { b[o] }
        func u16(_ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        guard u16(0) == UInt16(OLLY_ENTRY_MAGIC) else { return nil }
        let type = u8(2), flags = u8(3), nslots = Int(u32(4))
        guard nslots >= 1, nslots <= Int(OLLY_MAX_SLOTS_PER_ENTRY), nslots * Int(OLLY_SLOT) <= b.count else { return nil }
        let ts = Int64(bitPattern: u64(8)), cid = Int64(bitPattern: u64(16)), off = Int64(bitPattern: u64(24))
        let pid = Int32(bitPattern: u32(32)), tid = Int32(bitPattern: u32(36))
        let len = u32(40), cap = u32(44), fd = Int32(bitPattern: u32(48))
        let family = Int(u16(52)), ev = u8(54), role = u8(55), lport = Int(u16(56)), rport = Int(u16(58))
        guard ts > 0, pid > 0, tid > 0 else { return nil }
        switch UInt32(type) {
        case OLLY_HOOK_DATA.rawValue:
            guard let h = HookDataHeader.decode(b) else { return nil }
            let bytes = Array(UnsafeRawBufferPointer(rebasing: b[headerBytes..<headerBytes + h.captured]))
            return .data(HookData(ts: h.ts, cid: h.cid, off: h.off, pid: h.pid, tid: h.tid, fd: h.fd, len: h.len,
                                  inbound: h.inbound, tls: h.tls, bytes: bytes))
        case OLLY_HOOK_CONN.rawValue:
            guard cid > 0, nslots == 1, let event = HookConn.Event(rawValue: ev), role <= 2,
                  [0, 1, 2, 10].contains(family), b.count >= headerBytes + 32 else { return nil }
            let la = Array(UnsafeRawBufferPointer(rebasing: b[headerBytes..<headerBytes + 16]))
            let ra = Array(UnsafeRawBufferPointer(rebasing: b[headerBytes + 16..<headerBytes + 32]))
            return .conn(HookConn(ts: ts, cid: cid, pid: pid, tid: tid, fd: fd, event: event, role: role,
                                  family: family, laddr: la, lport: lport, raddr: ra, rport: rport))
        case OLLY_HOOK_PROC.rawValue:
            guard nslots == 1, ev == 1 || ev == 2 else { return nil }
            return .proc(HookProc(ts: ts, pid: pid, tid: tid, ppid: Int32(bitPattern: len), forked: ev == 2))
        default:
            return nil
        }
    }
}

/// The header of a data entry, checked as `HookEntry.decode` checks it; its captured
/// bytes stay in the channel (`payload(of:)`), for the reader's path that writes records
/// straight from the ring.
public struct HookDataHeader: Equatable, Sendable {
    public var ts: Int64, cid: Int64, off: Int64, pid: Int32, tid: Int32, fd: Int32
    public var len: Int64
    public var captured: Int
    public var inbound: Bool
    public var tls: Bool

    /// The header of `b` when it is a well-formed data entry; nil for any other entry
    /// (which `HookEntry.decode` then takes, or rejects).
    public static func decode(_ b: UnsafeRawBufferPointer) -> HookDataHeader? {
        let hb = HookEntry.headerBytes
        guard b.count >= hb else { return nil }
        func u16(_ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(u16(o)) | UInt32(u16(o + 2)) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        guard u16(0) == UInt16(OLLY_ENTRY_MAGIC), UInt32(b[2]) == OLLY_HOOK_DATA.rawValue else { return nil }
        let flags = b[3], nslots = Int(u32(4))
        let ts = Int64(bitPattern: u64(8)), cid = Int64(bitPattern: u64(16)), off = Int64(bitPattern: u64(24))
        let pid = Int32(bitPattern: u32(32)), tid = Int32(bitPattern: u32(36))
        let len = u32(40), cap = u32(44), fd = Int32(bitPattern: u32(48))
        guard nslots >= 1, nslots <= Int(OLLY_MAX_SLOTS_PER_ENTRY), nslots * Int(OLLY_SLOT) <= b.count,
              ts > 0, pid > 0, tid > 0, cid > 0, off >= 0, cap <= len, flags & ~3 == 0,
              hb + Int(cap) <= nslots * Int(OLLY_SLOT),
              (hb + Int(cap) + Int(OLLY_SLOT) - 1) / Int(OLLY_SLOT) == nslots else { return nil }
        return HookDataHeader(ts: ts, cid: cid, off: off, pid: pid, tid: tid, fd: fd, len: Int64(len),
                              captured: Int(cap), inbound: flags & 1 != 0, tls: flags & 2 != 0)
    }

    /// The captured bytes of the entry `b` this header was decoded from.
    public func payload(of b: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: b[HookEntry.headerBytes..<HookEntry.headerBytes + captured])
    }
}
