#if canImport(Glibc)
import Glibc
#endif

/// What to capture and how (the live-capture options of olly-capture(1)).
public struct CaptureOptions: Sendable {
    /// Target processes (with their descendants). Empty: no pid filter (unless a command runs).
    public var pids: [Int32] = []
    /// Exact kernel command name (at most 15 bytes).
    public var comm: String?
    /// cgroup v2 directory, as a path under the cgroup2 mount or an absolute path.
    public var cgroup: String?
    /// Local or remote ports (at most 64).
    public var ports: [UInt16] = []
    /// Payload bytes captured per call; the rest of the call is a declared gap.
    public var budget: Int = 16384
    /// Ring buffer size in bytes (rounded up to a power of two).
    public var ringBytes: Int = 32 << 20
    /// Also capture AF_UNIX stream and datagram sockets.
    public var unix = false
    /// The eBPF object; nil: searched beside the executable, then in lib/olly.
    public var bpfObject: String?
    /// libbpf messages on stderr.
    public var verbose = false
    /// Also write a stats record every this many seconds (0: only at exit and by --stats-every).
    public var statsInterval: Int = 10
    /// Seconds after which a connection announced at start (`existing`) that the kernel
    /// has not seen is forgotten; 0: never.
    public var idleTimeout: Int = 300
    /// A command to start and capture: held until its pid is in the filter.
    public var command: [String] = []
    /// Attach the TLS uprobes to the system libssl at start (each uprobe adds about 0.1 s
    /// to the detach at exit).
    public var systemLibssl = true

    public init() {}

    public static let maxBudget = 64 * 4096
    public static let maxPorts = 64
    public static let maxPids = 64
}

/// Where olly.bpf.o is: the given path, else beside the running executable, else in
/// `../lib/olly` relative to it (an installed tree), else /usr/local/lib/olly, /usr/lib/olly.
public func locateBPFObject(_ given: String?) -> String {
    if let given { return given }
    var candidates: [String] = []
    if let exe = ProcFS.readLink("/proc/self/exe"), let slash = exe.lastIndex(of: "/") {
        let dir = String(exe[..<slash])
        candidates.append(dir + "/olly.bpf.o")
        if let up = dir.lastIndex(of: "/") { candidates.append(String(dir[..<up]) + "/lib/olly/olly.bpf.o") }
    }
    candidates += ["/usr/local/lib/olly/olly.bpf.o", "/usr/lib/olly/olly.bpf.o"]
    return candidates.first { access($0, R_OK) == 0 } ?? candidates[0]
}

/// The cgroup v2 id (the inode number of its directory) of `path`: an absolute directory,
/// or a path as /proc/PID/cgroup shows it, under the cgroup2 mount.
public func cgroupID(_ path: String) -> UInt64? {
    var dirs: [String] = []
    if let mounts = ProcFS.readString("/proc/self/mounts") {
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count > 2 && f[2] == "cgroup2" { dirs.append(String(f[1])) }
        }
    }
    var candidates = dirs.map { $0 + (path.hasPrefix("/") ? "" : "/") + path }
    if path.hasPrefix("/") { candidates.insert(path, at: 0) }
    for c in candidates {
        if let st = ProcFS.fileStat(c), st.mode & S_IFMT == S_IFDIR,
           dirs.contains(where: { c.hasPrefix($0) }) {
            return st.ino
        }
    }
    return nil
}

import OllyCLI

extension CaptureOptions {
    /// The command line's options over the `capture:` section of the config file (lists
    /// there are comma-separated strings). Integers not given on the command line are nil.
    public static func merge(_ cli: CaptureOptions, budget: Int?, ringBytes: Int?, statsInterval: Int?,
                             idleTimeout: Int? = nil, config c: Config) throws(CaptureFailure) -> CaptureOptions {
        var o = cli
        if o.pids.isEmpty, let s = c.string("capture", "pid") {
            o.pids = try list(s, key: "pid") { Int32($0).flatMap { $0 > 0 ? $0 : nil } }
        }
        o.comm = o.comm ?? c.string("capture", "comm")
        o.cgroup = o.cgroup ?? c.string("capture", "cgroup")
        if o.ports.isEmpty, let s = c.string("capture", "port") {
            o.ports = try list(s, key: "port") { UInt16($0).flatMap { $0 > 0 ? $0 : nil } }
        }
        o.budget = budget ?? c.int("capture", "budget").map(Int.init) ?? o.budget
        o.ringBytes = ringBytes ?? c.int("capture", "ring-bytes").map(Int.init) ?? o.ringBytes
        o.unix = o.unix || (c.bool("capture", "unix") ?? false)
        o.bpfObject = o.bpfObject ?? c.string("capture", "bpf-object")
        o.statsInterval = statsInterval ?? c.int("capture", "stats-interval").map(Int.init) ?? o.statsInterval
        o.verbose = o.verbose || (c.bool("capture", "verbose") ?? false)
        o.idleTimeout = idleTimeout ?? c.int("capture", "idle-timeout").map(Int.init) ?? o.idleTimeout
        if o.pids.count > maxPids || o.ports.count > maxPorts {
            throw CaptureFailure(status: ExitStatus.usage, message: "capture: at most \(maxPids) pids and \(maxPorts) ports")
        }
        if let cm = o.comm, cm.utf8.count > 15 || cm.isEmpty {
            throw CaptureFailure(status: ExitStatus.usage, message: "capture.comm: must be 1 to 15 bytes (the kernel's comm)")
        }
        return o
    }

    static func list<T>(_ s: String, key: String, _ parse: (String) -> T?) throws(CaptureFailure) -> [T] {
        var out: [T] = []
        for part in s.split(separator: ",") {
            let t = String(part.filter { $0 != " " })
            guard let v = parse(t) else {
                throw CaptureFailure(status: ExitStatus.usage,
                                     message: "capture.\(key): \"\(t)\" is not valid (expected a comma-separated list)")
            }
            out.append(v)
        }
        return out
    }
}
