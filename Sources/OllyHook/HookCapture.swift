import COllyHook
import COllySupport
import OllyCLI
import OllyNDJSON
#if canImport(Glibc)
import Glibc
#endif

/// Options of the hook capture (`--preload`, `--attach`).
public struct HookOptions: Sendable {
    /// `--preload -- CMD ARGS…`: the command to run under the library.
    public var command: [String] = []
    /// `--attach PID`: the running process to inject the library into.
    public var attach: Int32?
    /// Ring size in bytes.
    public var ringBytes: Int = 16 << 20
    /// Payload bytes captured per call (the rest is a declared gap).
    public var budget: Int = Int(OLLY_DEFAULT_BUDGET)
    /// Also AF_UNIX sockets.
    public var unix = false
    /// libolly.so; nil: found beside the executable or in lib/olly.
    public var library: String?
    public init() {}
    public static let maxBudget = Int(OLLY_MAX_SLOTS_PER_ENTRY * OLLY_SLOT - 64)
}

/// Why the hook capture could not start: a sentence and the exit status.
public struct HookFailure: Error, Sendable {
    public var status: Int32
    public var message: String
    public init(status: Int32, message: String) { self.status = status; self.message = message }
}

/// Where libolly.so is: the given path, else beside the running executable, else in
/// `../lib/olly` relative to it (an installed tree), else /usr/local/lib/olly, /usr/lib/olly.
public func locateHookLibrary(_ given: String?) -> String? {
    if let given { return access(given, R_OK) == 0 ? absolute(given) : nil }
    var candidates: [String] = []
    if let exe = ProcReader.readLink("/proc/self/exe"), let slash = exe.lastIndex(of: "/") {
        let dir = String(exe[..<slash])
        candidates.append(dir + "/libolly.so")
        if let up = dir.lastIndex(of: "/") { candidates.append(String(dir[..<up]) + "/lib/olly/libolly.so") }
    }
    candidates += ["/usr/local/lib/olly/libolly.so", "/usr/lib/olly/libolly.so"]
    return candidates.first { access($0, R_OK) == 0 }
}

func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buf = [CChar](repeating: 0, count: 4097)
    guard let cwd = buf.withUnsafeMutableBufferPointer({ p in p.baseAddress.flatMap { getcwd($0, 4096) } }) else { return path }
    return String(cString: cwd) + "/" + path
}



/// The hook capture: makes the private channel, runs the command under libolly.so (or
/// injects it into a running process), and turns what arrives into records. One thread.
public final class HookCapture {
    let options: HookOptions
    let writer: RecordWriter
    let diag: Diagnostics
    let command: String
    let statsEvery: Int64
    var reader: OpaquePointer?
    var maker = HookRecordMaker()
    var child: pid_t = 0
    var attached: Int32 = 0
    var channelFD: Int32 = -1
    var entries: Int64 = 0
    var badEntries: Int64 = 0
    var nextStatsAt: Int64
    var out: [Record] = []

    public init(options: HookOptions, settings: Settings, command: String = "olly-capture", outputFD: Int32 = 1) {
        self.options = options
        self.command = command
        self.writer = RecordWriter(fd: outputFD, format: settings.format, unbuffered: settings.unbuffered)
        self.diag = Diagnostics(command: command, maxWarnings: settings.maxWarnings)
        self.statsEvery = Int64(settings.statsEvery)
        self.nextStatsAt = settings.statsEvery > 0 ? Int64(settings.statsEvery) : Int64.max
    }

    deinit {
        if let reader { olly_reader_close(reader); olly_reader_free(reader) }
        if channelFD >= 0 { close(channelFD) }
    }

    /// Runs until the command exits (its status is returned), or until SIGINT/SIGTERM or
    /// the attached process's exit (0). The final stats record is written and flushed.
    public func run() throws(HookFailure) -> Int32 {
        olly_install_signal_handlers()
        guard let lib = locateHookLibrary(options.library) else {
            throw HookFailure(status: ExitStatus.unavailable, message: options.library.map { "\($0): cannot read the hook library" }
                ?? "libolly.so not found beside olly-capture nor in lib/olly; build it with make, or give --hook-library FILE")
        }
        if let pid = options.attach {
            try startAttached(pid: pid, library: lib)
        } else {
            try startCommand(library: lib)
        }
        return loop()
    }

    // MARK: starting

    func startCommand(library: String) throws(HookFailure) {
        guard !options.command.isEmpty else {
            throw HookFailure(status: ExitStatus.usage, message: "--preload needs a command: olly-capture --preload -- CMD [ARG...]")
        }
        var fd: Int32 = -1
        guard let r = olly_reader_create(UInt64(options.ringBytes), nil, &fd, uid_t.max, gid_t.max) else {
            throw HookFailure(status: ExitStatus.failure, message: "cannot create the capture channel: \(String(cString: strerror(errno)))")
        }
        reader = r
        channelFD = fd
        var env: [String] = []
        var preload = library
        var e = environ
        while let p = e.pointee {
            let s = String(cString: p)
            if s.hasPrefix("LD_PRELOAD=") {
                let prev = s.dropFirst("LD_PRELOAD=".count)
                if !prev.isEmpty { preload += " " + prev }
            } else if !s.hasPrefix("OLLY_HOOK_") {
                env.append(s)
            }
            e += 1
        }
        env += ["LD_PRELOAD=\(preload)", "\(OLLY_ENV_FD)=\(fd)", "\(OLLY_ENV_BUDGET)=\(options.budget)"]
        if options.unix { env.append("\(OLLY_ENV_UNIX)=1") }
        let argv = options.command.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) }; for a in envp { free(a) } }
        var pid: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { a in
            envp.withUnsafeBufferPointer { e in
                olly_hook_spawn(options.command[0], a.baseAddress, e.baseAddress, -1, 2, -1, 0, &pid)
            }
        }
        // The command holds the channel now; ours would only keep it from closing.
        close(fd)
        channelFD = -1
        guard rc == 0 else {
            throw HookFailure(status: rc == ENOENT ? 127 : 126, message: "\(options.command[0]): cannot run: \(String(cString: strerror(rc)))")
        }
        child = pid
    }

    func startAttached(pid: Int32, library: String) throws(HookFailure) {
        var st = stat()
        guard stat("/proc/\(pid)", &st) == 0 else {
            throw HookFailure(status: ExitStatus.usage, message: "--attach \(pid): no such process")
        }
        let (path, dir) = try HookAttach.channelPath(owner: st.st_uid, group: st.st_gid)
        guard let r = olly_reader_create(UInt64(options.ringBytes), path, nil, st.st_uid, st.st_gid) else {
            let msg = String(cString: strerror(errno))
            rmdir(dir)
            throw HookFailure(status: ExitStatus.failure, message: "cannot create the capture channel: \(msg)")
        }
        reader = r
        defer { unlink(path); rmdir(dir) }
        try HookAttach.inject(pid: pid, library: library, channel: path, unix: options.unix, budget: options.budget)
        attached = pid
    }

    // MARK: the loop

    func loop() -> Int32 {
        guard let reader else { return ExitStatus.failure }
        var status = ExitStatus.success
        var childDone = false
        var drainDeadline: Int64 = 0
        var forwarded = false
        do throws(WriteFailure) {
            while true {
                let n = try drain(reader)
                if n > 0 && !writer.perRecord { try writer.flush() }
                let sig = olly_pending_signal()
                if sig != 0 && !forwarded {
                    forwarded = true
                    if child > 0 && !childDone { kill(child, sig) } else { break }
                }
                if child > 0 && !childDone {
                    var ws: Int32 = 0
                    let r = waitpid(child, &ws, WNOHANG)
                    if r == child {
                        childDone = true
                        status = Self.exitStatus(ws)
                        drainDeadline = monotonicNS() + 1_500_000_000
                    }
                }
                if attached > 0 && kill(attached, 0) != 0 && errno == ESRCH {
                    attached = 0
                    childDone = true
                    drainDeadline = monotonicNS() + 1_500_000_000
                }
                if childDone {
                    // Drain what the command's processes left; a slot whose writer died is
                    // abandoned after a bounded wait.
                    if n == 0 && (olly_reader_idle(reader) != 0 || monotonicNS() > drainDeadline) { break }
                    if n == 0 { olly_reader_sleep(reader, 5) }
                    continue
                }
                if n > 0 {
                    var t = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                    nanosleep(&t, nil) // batch: writers need no wake-up while we are awake
                } else {
                    olly_reader_sleep(reader, 50)
                }
            }
            if attached > 0 { HookAttach.detach(pid: attached) }
            try writeStats(final: true)
            try writer.flush()
        } catch {
            if attached > 0 { HookAttach.detach(pid: attached) }
            switch error {
            case .closed: return child > 0 ? status : ExitStatus.success
            case .io(let e):
                diag.say("error writing output: \(String(cString: strerror(e)))")
                return ExitStatus.ioError
            }
        }
        return status
    }

    static func exitStatus(_ ws: Int32) -> Int32 {
        let sig = ws & 0x7f
        if sig == 0 { return (ws >> 8) & 0xff }
        return 128 + sig
    }

    /// Everything ready now (bounded, so signals and the child are checked).
    func drain(_ reader: OpaquePointer) throws(WriteFailure) -> Int {
        var n = 0
        var p: UnsafePointer<UInt8>?
        var size: UInt32 = 0
        let now = UInt64(monotonicNS())
        while n < 65536 {
            let r = olly_reader_next(reader, &p, &size, now)
            if r == 0 { break }
            n += 1
            if r < 0 { continue }
            guard let p else { continue }
            entries += 1
            let b = UnsafeRawBufferPointer(start: p, count: Int(size))
            // Data entries (nearly all of them) go from the ring to the output buffer
            // without a record or a payload array in between.
            if let h = HookDataHeader.decode(b) {
                out.removeAll(keepingCapacity: true)
                maker.noteData(pid: h.pid, ts: h.ts, len: h.len, captured: h.captured, into: &out)
                for rec in out { try writer.write(rec) }
                try writer.writeData(ts: h.ts, cid: h.cid, pid: Int64(h.pid), tid: Int64(h.tid),
                                     dir: h.inbound ? .in : .out, off: h.off, len: h.len,
                                     payload: h.payload(of: b), tls: h.tls)
                if entries >= nextStatsAt {
                    nextStatsAt += statsEvery
                    try writeStats(final: false)
                }
                continue
            }
            guard let e = HookEntry.decode(b) else {
                badEntries += 1
                continue
            }
            out.removeAll(keepingCapacity: true)
            maker.records(for: e, into: &out)
            for rec in out { try writer.write(rec) }
            if entries >= nextStatsAt {
                nextStatsAt += statsEvery
                try writeStats(final: false)
            }
        }
        return n
    }

    // MARK: stats

    public var counters: [(String, Int64)] {
        var c: [(String, Int64)] = [("events", entries)]
        guard let reader else { return c }
        func s(_ i: olly_hook_stat) -> Int64 { Int64(bitPattern: olly_reader_stat(reader, Int32(i.rawValue))) }
        c.append(("lost_events", s(OLLY_HS_DROPPED)))
        c.append(("lost_bytes", s(OLLY_HS_DROPPED_BYTES)))
        c.append(("bad_entries", badEntries + Int64(olly_reader_bad(reader))))
        c.append(("abandoned_slots", Int64(olly_reader_abandoned(reader))))
        c.append(("late_commits", s(OLLY_HS_LATE)))
        c.append(("raced_calls", s(OLLY_HS_RACED)))
        c.append(("unordered_calls", s(OLLY_HS_UNORDERED)))
        c.append(("evicted_conns", s(OLLY_HS_EVICTED)))
        c.append(("untracked_fds", s(OLLY_HS_BIGFD)))
        c.append(("captured_bytes", maker.capturedBytes))
        c.append(("gap_bytes", maker.gapBytes))
        c.append(("procs", Int64(maker.procs)))
        return c
    }

    func writeStats(final: Bool) throws(WriteFailure) {
        let ts = max(maker.lastTS, realtimeNS())
        try writer.write(.stats(StatsRecord(stage: command, ts: ts, final: final, counters: counters)))
    }
}
