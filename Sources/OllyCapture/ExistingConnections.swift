import OllyNDJSON
/// TCP connections open before capture started, found from /proc/PID/net/tcp{,6} (the
/// process's network namespace) and the socket inodes in /proc/PID/fd.
public struct ExistingConnection: Sendable, Equatable {
    public var pid: Int32
    public var fd: Int32
    public var family: Int   // AF_INET or AF_INET6
    public var laddr: String
    public var raddr: String
    public var lport: Int
    public var rport: Int
    /// Server when the local port is also a listening port of that table.
    public var isServer: Bool
}

public enum ExistingConnections {
    struct Entry {
        var family: Int
        var laddr: [UInt8]
        var lport: Int
        var raddr: [UInt8]
        var rport: Int
    }

    /// Connections (not listeners, not TIME_WAIT) of the given processes.
    public static func scan(pids: [Int32]) -> [ExistingConnection] {
        var tables: [String: ([UInt64: Entry], Set<Int>)] = [:] // by netns link
        var out: [ExistingConnection] = []
        for pid in pids {
            let ns = ProcFS.readLink("/proc/\(pid)/ns/net") ?? "?"
            if tables[ns] == nil {
                var byInode: [UInt64: Entry] = [:]
                var listening = Set<Int>()
                for (file, fam) in [("tcp", 2), ("tcp6", 10)] {
                    guard let text = ProcFS.read("/proc/\(pid)/net/\(file)", limit: 64 << 20) else { continue }
                    parse(text, family: fam, into: &byInode, listening: &listening)
                }
                tables[ns] = (byInode, listening)
            }
            guard let (byInode, listening) = tables[ns], !byInode.isEmpty else { continue }
            for name in ProcFS.list("/proc/\(pid)/fd") {
                guard let fd = Int32(name), let link = ProcFS.readLink("/proc/\(pid)/fd/\(name)"),
                      link.hasPrefix("socket:["), link.hasSuffix("]"),
                      let ino = UInt64(link.dropFirst(8).dropLast()), let e = byInode[ino] else { continue }
                guard let l = Address.string(family: e.family, addr: e.laddr, port: e.lport),
                      let r = Address.string(family: e.family, addr: e.raddr, port: e.rport) else { continue }
                out.append(ExistingConnection(pid: pid, fd: fd, family: e.family, laddr: l, raddr: r,
                                              lport: e.lport, rport: e.rport, isServer: listening.contains(e.lport)))
            }
        }
        return out
    }

    /// Parses a /proc/net/tcp{,6} table. Addresses are the kernel's 32-bit words printed
    /// in host (little-endian) order: each word's bytes are reversed.
    static func parse(_ text: [UInt8], family: Int, into byInode: inout [UInt64: Entry], listening: inout Set<Int>) {
        for line in text.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let f = line.split(separator: UInt8(ascii: " "))
            guard f.count > 9 else { continue }
            guard let (la, lp) = endpoint(f[1]), let (ra, rp) = endpoint(f[2]),
                  let state = Int(String(decoding: f[3], as: UTF8.self), radix: 16),
                  let ino = UInt64(String(decoding: f[9], as: UTF8.self)) else { continue }
            if state == 0x0A { listening.insert(lp); continue } // LISTEN
            if state == 0x06 || ino == 0 { continue }            // TIME_WAIT has no socket
            byInode[ino] = Entry(family: family, laddr: la, lport: lp, raddr: ra, rport: rp)
        }
    }

    static func endpoint(_ s: ArraySlice<UInt8>) -> ([UInt8], Int)? {
        let parts = s.split(separator: UInt8(ascii: ":"))
        guard parts.count == 2, parts[0].count % 8 == 0, let port = Int(String(decoding: parts[1], as: UTF8.self), radix: 16) else { return nil }
        var addr: [UInt8] = []
        let hex = Array(parts[0])
        for w in stride(from: 0, to: hex.count, by: 8) {
            guard let word = UInt32(String(decoding: hex[w..<w + 8], as: UTF8.self), radix: 16) else { return nil }
            addr += [UInt8(word & 0xff), UInt8(word >> 8 & 0xff), UInt8(word >> 16 & 0xff), UInt8(word >> 24)]
        }
        return (addr, port)
    }
}
