import OllyNDJSON

/// What /proc says about a process, for `proc` records.
public struct ProcInfo: Sendable, Equatable {
    public var pid: Int32
    public var ppid: Int32?
    public var comm: String?
    public var exe: String?
    public var cmdline: [String]?
    public var cgroup: String?
    public var containerID: String?
    public var service: String?

    /// Reads /proc/PID; fields that cannot be read (the process is gone, or hides its
    /// environment) are nil.
    public static func read(pid: Int32) -> ProcInfo {
        var p = ProcInfo(pid: pid)
        p.ppid = ProcFS.ppid(pid)
        if let c = ProcFS.readString("/proc/\(pid)/comm") {
            p.comm = c.hasSuffix("\n") ? String(c.dropLast()) : c
        }
        p.exe = ProcFS.readLink("/proc/\(pid)/exe")
        if let raw = ProcFS.read("/proc/\(pid)/cmdline") {
            var args = raw.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if args.last == "" { args.removeLast() }
            p.cmdline = args
        }
        if let cg = ProcFS.readString("/proc/\(pid)/cgroup") {
            p.cgroup = cgroupPath(cg)
            p.containerID = containerID(cg)
        }
        if let env = ProcFS.read("/proc/\(pid)/environ") {
            p.service = serviceHint(environ: env)
        }
        return p
    }

    /// The cgroup v2 path ("0::PATH"); when that is the root, the longest v1 path, which
    /// is where hosts with a hybrid hierarchy keep the interesting one.
    static func cgroupPath(_ text: String) -> String? {
        var v2: String?
        var best: String?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty { v2 = path }
            if path.count > (best?.count ?? 0) { best = path }
        }
        if let v2, v2 != "/" { return v2 }
        return best ?? v2
    }

    /// A container ID in a cgroup path: the first run of 64 hex digits (docker-ID.scope,
    /// /docker/ID, cri-containerd-ID.scope, libpod-ID.scope, kubepods …/ID).
    static func containerID(_ text: String) -> String? {
        var run = 0
        var start = text.utf8.startIndex
        var i = text.utf8.startIndex
        for c in text.utf8 {
            let hex = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)
            if hex {
                if run == 0 { start = i }
                run += 1
            } else {
                if run == 64 { return String(text.utf8[start..<i]) }
                run = 0
            }
            i = text.utf8.index(after: i)
        }
        return run == 64 ? String(text.utf8[start..<i]) : nil
    }

    /// OTEL_SERVICE_NAME, else `service.name` of OTEL_RESOURCE_ATTRIBUTES (k=v,k=v,
    /// percent-encoded values), from a NUL-separated environment block.
    public static func serviceHint(environ: [UInt8]) -> String? {
        var attrs: String?
        for entry in environ.split(separator: 0) {
            let s = String(decoding: entry, as: UTF8.self)
            if s.hasPrefix("OTEL_SERVICE_NAME=") {
                let v = String(s.dropFirst("OTEL_SERVICE_NAME=".count))
                if !v.isEmpty { return v }
            } else if s.hasPrefix("OTEL_RESOURCE_ATTRIBUTES=") {
                attrs = String(s.dropFirst("OTEL_RESOURCE_ATTRIBUTES=".count))
            }
        }
        guard let attrs else { return nil }
        for pair in attrs.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingSpaces == "service.name" {
                let v = percentDecode(kv[1].trimmingSpaces)
                return v.isEmpty ? nil : v
            }
        }
        return nil
    }

    static func percentDecode(_ s: String) -> String {
        var out: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        while i < u.count {
            if u[i] == UInt8(ascii: "%"), i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(u[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// As a `proc` record; `comm` from the kernel event wins when given (it is what the
    /// process was called when the event happened).
    public func record(ts: Int64, comm: String? = nil) -> ProcRecord {
        var r = ProcRecord()
        r.ts = ts
        r.pid = Int(pid)
        r.ppid = ppid.map(Int.init)
        r.comm = comm ?? self.comm
        r.exe = exe
        r.cmdline = cmdline
        r.cgroup = cgroup
        r.containerID = containerID
        r.service = service
        return r
    }
}

extension Substring {
    var trimmingSpaces: String {
        var s = self[...]
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
