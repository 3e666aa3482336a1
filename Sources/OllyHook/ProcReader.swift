import OllyNDJSON
#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about a process, for `proc` records (fields that cannot be read are
/// left out: the process may be gone, or hide its environment).
public enum ProcReader {
    public static func record(pid: Int32) -> ProcRecord {
        var r = ProcRecord()
        r.pid = Int(pid)
        if let stat = read("/proc/\(pid)/stat", limit: 4096), let close = stat.lastIndex(of: UInt8(ascii: ")")) {
            let f = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
            if f.count > 1 { r.ppid = Int(String(decoding: f[1], as: UTF8.self)) }
        }
        if let c = read("/proc/\(pid)/comm", limit: 64) {
            r.comm = String(decoding: c.last == 10 ? c.dropLast() : c[...], as: UTF8.self)
        }
        r.exe = readLink("/proc/\(pid)/exe")
        if let raw = read("/proc/\(pid)/cmdline", limit: 1 << 16) {
            var args = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if args.last == "" { args.removeLast() }
            r.cmdline = args
        }
        if let cg = read("/proc/\(pid)/cgroup", limit: 1 << 16) {
            for line in String(decoding: cg, as: UTF8.self).split(separator: "\n") where line.hasPrefix("0::") {
                r.cgroup = String(line.dropFirst(3))
            }
        }
        if let env = read("/proc/\(pid)/environ", limit: 1 << 20) {
            r.service = serviceHint(environ: env)
        }
        return r
    }

    /// OTEL_SERVICE_NAME, else `service.name` in OTEL_RESOURCE_ATTRIBUTES.
    static func serviceHint(environ: [UInt8]) -> String? {
        var attrs: String?
        for entry in environ.split(separator: 0) {
            let s = String(decoding: entry, as: UTF8.self)
            if s.hasPrefix("OTEL_SERVICE_NAME="), s.count > 18 { return String(s.dropFirst(18)) }
            if s.hasPrefix("OTEL_RESOURCE_ATTRIBUTES=") { attrs = String(s.dropFirst(25)) }
        }
        for pair in (attrs ?? "").split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == "service.name", !kv[1].isEmpty { return String(kv[1]) }
        }
        return nil
    }

    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<min(n, limit - out.count)])
        }
        return out
    }

    static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = buf.withUnsafeMutableBufferPointer { p in p.baseAddress.map { readlink(path, $0, 4096) } ?? -1 }
        if n <= 0 { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
