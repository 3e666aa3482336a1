import COllyBPF
import COllySupport
import OllyCLI
import OllyNDJSON
#if canImport(Glibc)
import Glibc
#endif

/// Why live capture could not start: a sentence and the exit status.
public struct CaptureFailure: Error, Sendable {
    public var status: Int32
    public var message: String
}

/// The eBPF capture: loads the programs, turns ring-buffer events into `proc`, `conn` and
/// `data` records, reports connections that were open before it started, writes `stats`
/// records, and (with a command) runs that command under capture. One thread.
public final class LiveCapture {
    let options: CaptureOptions
    let writer: RecordWriter
    let diag: Diagnostics
    let statsEvery: Int64
    let command: String
    var h: OpaquePointer?
    @exclusivity(unchecked) var epochOffset: Int64 = 0
    var child: pid_t = 0
    var childStatus: Int32?

    // Per-process state. `lastPid` spares a set lookup for runs of events of one process.
    var seen = Set<Int32>()
    @exclusivity(unchecked) var lastPid: Int32 = -1
    var sslChecked = Set<Int32>()
    // Connections found open at start: announced with their own cids (from `existingBase`);
    // the kernel's cid for the same socket (at its first data) is mapped to it. An entry
    // of `existingByTuple` (announced, never seen by the kernel) is dropped after
    // `idleTimeout` seconds; both tables lose the entries of a process that is gone.
    struct Announced { var cid: Int64; var pid: Int32; var at: Int64 }
    struct Remapped { var cid: Int64; var pid: Int32 }
    var existingByTuple: [String: Announced] = [:]
    @exclusivity(unchecked) var remap: [UInt64: Remapped] = [:] {
        didSet { remapCache.update(repeating: RemapSlot(), count: Self.remapCacheSize) }
    }
    // Lookups in `remap` (kernel cid -> the cid to write), direct-mapped by the low bits
    // of the kernel cid: events of the connections in use skip the hashing (a tenth of
    // the time per event once any connection is remapped). Cleared whenever `remap`
    // changes.
    struct RemapSlot { var kernel: UInt64 = 0; var cid: Int64 = 0; var used = false }
    static let remapCacheSize = 64
    let remapCache: UnsafeMutablePointer<RemapSlot> = {
        let p = UnsafeMutablePointer<RemapSlot>.allocate(capacity: LiveCapture.remapCacheSize)
        p.initialize(repeating: RemapSlot(), count: LiveCapture.remapCacheSize)
        return p
    }()
    static let existingBase: Int64 = 1 << 32

    // Counters. Those touched per event skip the dynamic exclusivity checks (one thread,
    // no overlapping accesses; the checks were a tenth of the consumer's time per event).
    @exclusivity(unchecked) var eventsIn: Int64 = 0
    @exclusivity(unchecked) var bytesIn: Int64 = 0
    var badEvents: Int64 = 0
    @exclusivity(unchecked) var capturedBytes: Int64 = 0
    @exclusivity(unchecked) var gapBytes: Int64 = 0
    var existingConns: Int64 = 0
    var procsSeen: Int64 = 0
    var evictedConns: Int64 = 0
    var goneProcs: Int64 = 0
    @exclusivity(unchecked) var lastTS: Int64 = 0
    @exclusivity(unchecked) var nextStatsAt: Int64 = 0
    var writeFailure: WriteFailure?

    public init(options: CaptureOptions, settings: Settings, command: String = "olly-capture", outputFD: Int32 = 1) {
        self.options = options
        self.command = command
        self.writer = RecordWriter(fd: outputFD, format: settings.format, unbuffered: settings.unbuffered)
        self.diag = Diagnostics(command: command, maxWarnings: settings.maxWarnings)
        self.statsEvery = Int64(settings.statsEvery)
        self.nextStatsAt = statsEvery > 0 ? statsEvery : Int64.max
    }

    deinit {
        stop()
        recs.deallocate()
        sizes.deallocate()
        remapCache.deallocate()
    }

    // MARK: start and stop

    /// Loads and attaches the programs and sets the filters.
    public func start() throws(CaptureFailure) {
        var cfg = olly_bpf_config()
        let pids = options.pids
        if pids.count > CaptureOptions.maxPids {
            throw CaptureFailure(status: ExitStatus.usage, message: "at most \(CaptureOptions.maxPids) --pid options")
        }
        // Existing descendants of the targets are targets too (new ones are followed in the kernel).
        let targets = pids.isEmpty ? [] : Self.withDescendants(pids)
        withUnsafeMutableBytes(of: &cfg.pids) { raw in
            let p = raw.bindMemory(to: Int32.self)
            for (i, pid) in targets.prefix(CaptureOptions.maxPids).enumerated() { p[i] = pid }
        }
        cfg.n_pids = Int32(min(targets.count, CaptureOptions.maxPids))
        cfg.filter_pids = (!pids.isEmpty || !options.command.isEmpty) ? 1 : 0
        cfg.follow_children = 1
        withUnsafeMutableBytes(of: &cfg.ports) { raw in
            let p = raw.bindMemory(to: UInt16.self)
            for (i, port) in options.ports.prefix(CaptureOptions.maxPorts).enumerated() { p[i] = port }
        }
        cfg.n_ports = Int32(min(options.ports.count, CaptureOptions.maxPorts))
        if let cg = options.cgroup {
            guard let id = cgroupID(cg) else {
                throw CaptureFailure(status: ExitStatus.usage, message: "--cgroup \(cg): not a cgroup v2 directory")
            }
            cfg.cgroup_id = id
        }
        cfg.capture_budget = UInt32(options.budget)
        cfg.ringbuf_bytes = UInt32(options.ringBytes)
        cfg.want_inet = 1
        cfg.want_inet6 = 1
        cfg.want_unix = options.unix ? 1 : 0
        cfg.verbose = options.verbose ? 1 : 0
        let object = locateBPFObject(options.bpfObject)
        var err = [CChar](repeating: 0, count: 512)
        var handle: OpaquePointer?
        let rc = object.withCString { objPath in
            (options.comm ?? "").withCString { comm in
                cfg.bpf_object_path = objPath
                cfg.comm = comm
                return olly_bpf_open(&cfg, &handle, &err, err.count)
            }
        }
        guard rc == OLLY_BPF_OK, let handle else {
            let msg = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            switch rc {
            case OLLY_BPF_EPERM, OLLY_BPF_ENOBTF, OLLY_BPF_EUNSUPPORTED, OLLY_BPF_ENOOBJ:
                throw CaptureFailure(status: ExitStatus.unavailable, message: msg)
            default:
                throw CaptureFailure(status: ExitStatus.failure, message: msg)
            }
        }
        h = handle
        epochOffset = Int64(bitPattern: olly_bpf_ts_to_epoch(handle, 0))
        // Uprobes live on the library's inode: attaching the system libssl up front covers
        // processes that load it later (the kernel filter still picks the targets).
        for path in options.systemLibssl ? Self.systemLibssl() : [] { _ = olly_bpf_attach_ssl(handle, path) }
        for pid in targets { _ = olly_bpf_attach_ssl_pid(handle, pid); sslChecked.insert(pid) }
        initialTargets = targets
    }

    var initialTargets: [Int32] = []

    /// Detaches everything (slow: about 1–2.5 s of RCU waits). Flush output first.
    public func stop() {
        if let handle = h {
            olly_bpf_close(handle)
            h = nil
        }
    }

    // MARK: the loop

    /// Runs until SIGINT/SIGTERM, a closed output, or (with a command) the command's exit.
    /// Returns the exit status: the command's, or 0. Writes the final stats record and
    /// flushes before detaching.
    public func run() -> Int32 {
        guard let handle = h else { return ExitStatus.failure }
        var status = ExitStatus.success
        do throws(WriteFailure) {
            try announceInitial()
            if !options.command.isEmpty {
                switch spawn(handle) {
                case .success(let pid): child = pid
                case .failure(let f):
                    diag.say(f.message)
                    try writeStats(final: true)
                    try writer.flush()
                    return f.status
                }
            }
            var nextPeriodic = monotonicNS() + Int64(options.statsInterval) * 1_000_000_000
            var nextSweep = monotonicNS() + 1_000_000_000
            var forwarded = false
            loop: while true {
                let sig = olly_pending_signal()
                if sig != 0 {
                    if child > 0 {
                        // Pass the signal on once; the command's exit ends the capture.
                        if !forwarded { kill(child, sig); forwarded = true }
                    } else {
                        break loop
                    }
                }
                let n = poll(handle, timeoutMS: 50)
                if let f = writeFailure { throw f }
                if n == 0 && !writer.perRecord { try writer.flush() }
                if child > 0 && reapChild() {
                    drain(handle)
                    if let f = writeFailure { throw f }
                    status = childStatus ?? ExitStatus.failure
                    break loop
                }
                let mono = monotonicNS()
                if mono >= nextSweep {
                    sweep(now: realtimeNS())
                    nextSweep = mono + 1_000_000_000
                }
                if options.statsInterval > 0 && mono >= nextPeriodic {
                    try writeStats(final: false)
                    nextPeriodic = monotonicNS() + Int64(options.statsInterval) * 1_000_000_000
                }
            }
            if child == 0 { drain(handle) }
            if let f = writeFailure { throw f }
            try writeStats(final: true)
            try writer.flush()
        } catch {
            switch error {
            case .closed:
                status = ExitStatus.success // the reader went away: end quietly
            case .io(let e):
                diag.say("error writing output: \(errnoDescription(e))")
                status = ExitStatus.ioError
            }
        }
        stop()
        return status
    }

    /// Records handed out per batch (olly_bpf_batch, which also stops at 32 KiB of
    /// records): the ring space of a batch goes back to the kernel at its end; batches
    /// per poll are bounded so that a producer faster than this loop does not keep it
    /// from its signals, stats and sweeps.
    static let batchMax = 256
    static let batchesPerPoll = 64
    let recs = UnsafeMutablePointer<UnsafeRawPointer?>.allocate(capacity: LiveCapture.batchMax)
    let sizes = UnsafeMutablePointer<UInt32>.allocate(capacity: LiveCapture.batchMax)

    /// One poll of the ring buffer: every record ready (bounded), else waits up to
    /// `timeoutMS` for one. Returns the records handled, 1 after an output failure
    /// (`writeFailure` says which), or -EINTR.
    func poll(_ handle: OpaquePointer, timeoutMS: Int32) -> Int32 {
        var total: Int32 = 0
        var waited = false
        for _ in 0..<Self.batchesPerPoll {
            let n = Int(olly_bpf_batch(handle, recs, sizes, Int32(Self.batchMax)))
            if n > 0 {
                // Records are read in place: a direct call per record, no closure.
                for i in 0..<n {
                    if let p = recs[i], self.handle(p, Int(sizes[i])) != 0 {
                        olly_bpf_release(handle)
                        return 1
                    }
                }
                olly_bpf_release(handle)
                total &+= Int32(n)
                continue
            }
            olly_bpf_release(handle) // discarded records skipped
            if total > 0 || waited { break }
            let w = olly_bpf_wait(handle, timeoutMS)
            if w <= 0 { return w }
            waited = true
        }
        return total
    }

    /// Everything already in the ring buffer (bounded, since targets may keep writing).
    func drain(_ handle: OpaquePointer) {
        for _ in 0..<64 {
            if poll(handle, timeoutMS: 0) <= 0 || writeFailure != nil { break }
        }
    }

    // MARK: events

    static let hdrSize = MemoryLayout<olly_hdr>.size
    static let dataSize = MemoryLayout<olly_data_event>.size
    static let connSize = MemoryLayout<olly_conn_event>.size
    static let procSize = MemoryLayout<olly_proc_event>.size

    /// Handles one ring-buffer record; non-zero stops the poll (output failed).
    func handle(_ p: UnsafeRawPointer, _ size: Int) -> Int32 {
        eventsIn += 1
        bytesIn += Int64(size)
        guard size >= Self.hdrSize else { badEvents += 1; return 0 }
        let hdr = p.load(as: olly_hdr.self)
        let ts = Int64(bitPattern: hdr.ts_ns) &+ epochOffset
        if ts > lastTS { lastTS = ts }
        let pid = Int32(bitPattern: hdr.pid)
        do throws(WriteFailure) {
            switch hdr.type {
            case UInt32(OLLY_EV_DATA.rawValue):
                guard size >= Self.dataSize else { badEvents += 1; return 0 }
                let e = p.load(as: olly_data_event.self)
                let cap = Int(e.cap_len)
                guard Self.dataSize + cap <= size, cap <= Int(e.len) else { badEvents += 1; return 0 }
                if pid != lastPid { try sawProcess(pid, ts: ts) }
                var cid = Int64(bitPattern: e.cid)
                if !remap.isEmpty {
                    let slot = remapCache + Int(truncatingIfNeeded: e.cid & UInt64(Self.remapCacheSize - 1))
                    if slot.pointee.used && slot.pointee.kernel == e.cid {
                        cid = slot.pointee.cid
                    } else {
                        if let c = remap[e.cid] { cid = c.cid }
                        slot.pointee = RemapSlot(kernel: e.cid, cid: cid, used: true)
                    }
                }
                capturedBytes += Int64(cap)
                gapBytes += Int64(e.len) - Int64(cap)
                // Straight from the ring buffer into the output buffer: no record value,
                // no payload copy of its own.
                try writer.writeData(ts: ts, cid: cid, pid: Int64(pid), tid: Int64(hdr.tid),
                                     dir: e.dir == UInt8(OLLY_DIR_IN.rawValue) ? .in : .out,
                                     off: Int64(bitPattern: e.off), len: Int64(e.len),
                                     payload: UnsafeRawBufferPointer(start: p + Self.dataSize, count: cap),
                                     tls: e.tls != 0)
            case UInt32(OLLY_EV_CONN.rawValue):
                guard size >= Self.connSize else { badEvents += 1; return 0 }
                if pid != lastPid { try sawProcess(pid, ts: ts) }
                try conn(p.load(as: olly_conn_event.self), ts: ts)
            case UInt32(OLLY_EV_PROC.rawValue):
                guard size >= Self.procSize else { badEvents += 1; return 0 }
                try proc(p.load(as: olly_proc_event.self), ts: ts)
            default:
                badEvents += 1
            }
            if eventsIn >= nextStatsAt {
                nextStatsAt += statsEvery
                try writeStats(final: false)
            }
        } catch {
            writeFailure = error
            return 1
        }
        return 0
    }

    func conn(_ e: olly_conn_event, ts: Int64) throws(WriteFailure) {
        let pid = Int32(bitPattern: e.hdr.pid)
        var r = ConnRecord()
        r.ts = ts
        r.pid = Int(pid)
        r.tid = Int(e.hdr.tid)
        r.fd = Int(e.fd)
        r.cid = Int64(bitPattern: e.cid)
        r.role = e.role == UInt8(OLLY_ROLE_CLIENT.rawValue) ? .client : e.role == UInt8(OLLY_ROLE_SERVER.rawValue) ? .server : .unknown
        let fam = Int(e.family)
        r.family = fam == 10 ? .inet6 : fam == 1 ? .unix : .inet
        if fam == 2 || fam == 10 {
            let (l, rr) = withUnsafeBytes(of: e.laddr) { la in
                withUnsafeBytes(of: e.raddr) { ra in
                    (Address.string(family: fam, addr: la, port: Int(e.lport)),
                     Address.string(family: fam, addr: ra, port: Int(e.rport)))
                }
            }
            r.laddr = l
            // Unconnected datagram sockets have no peer.
            let zero = withUnsafeBytes(of: e.raddr) { $0.allSatisfy { $0 == 0 } }
            r.raddr = zero && e.rport == 0 ? nil : rr
        }
        switch e.ev {
        case UInt8(OLLY_CONN_OPEN.rawValue):
            r.ev = .open
            if pid != lastPid || !sslChecked.contains(pid) { checkSSL(pid) }
        case UInt8(OLLY_CONN_CLOSE.rawValue):
            r.ev = .close
            if let c = remap.removeValue(forKey: e.cid) { r.cid = c.cid }
            // The kernel may have released the local port by now: addresses come from open.
            r.laddr = nil
            r.raddr = nil
        default:
            // First sight of a socket whose open was not seen: one found at start (same
            // 4-tuple) keeps the cid announced then; any other predates capture too.
            if let l = r.laddr, let rr = r.raddr, let known = existingByTuple.removeValue(forKey: l + " " + rr) {
                remap[e.cid] = Remapped(cid: known.cid, pid: known.pid)
                return
            }
            r.ev = .existing
            existingConns += 1
        }
        try writer.write(.conn(r))
    }

    func proc(_ e: olly_proc_event, ts: Int64) throws(WriteFailure) {
        let pid = Int32(bitPattern: e.hdr.pid)
        switch e.ev {
        case UInt8(OLLY_PROC_EXIT.rawValue):
            forget(pid)
        case UInt8(OLLY_PROC_EXEC.rawValue), UInt8(OLLY_PROC_FORK.rawValue):
            // A new program (exec) or a new process (fork): describe it again.
            let comm = withUnsafeBytes(of: e.comm) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            var info = ProcInfo.read(pid: pid)
            if info.ppid == nil { info.ppid = Int32(bitPattern: e.ppid) }
            if seen.insert(pid).inserted { procsSeen += 1 }
            lastPid = pid
            if e.ev == UInt8(OLLY_PROC_EXEC.rawValue) {
                sslChecked.remove(pid)
                checkSSL(pid)
                try writer.write(.proc(info.record(ts: ts, comm: info.comm ?? comm)))
            } else {
                try writer.write(.proc(info.record(ts: ts, comm: comm)))
            }
        default:
            badEvents += 1
        }
    }

    /// Drops what is kept about a process that exited: it is described again (a new
    /// `proc` record) if its pid shows up again, as a new process would be.
    func forget(_ pid: Int32) {
        seen.remove(pid)
        sslChecked.remove(pid)
        if lastPid == pid { lastPid = -1 }
        if existingByTuple.values.contains(where: { $0.pid == pid }) {
            existingByTuple = existingByTuple.filter { $0.value.pid != pid }
        }
        if remap.values.contains(where: { $0.pid == pid }) {
            remap = remap.filter { $0.value.pid != pid }
        }
    }

    /// Periodic clean-up (about once a second while capturing): processes that are gone
    /// without an exit event reaching us (a lost event, a process whose exit the filters
    /// hid) are forgotten, and connections announced at start that the kernel has not
    /// seen for `idleTimeout` seconds are dropped (`evicted_conns`). If such a connection
    /// is used later it is announced again, under the kernel's cid.
    func sweep(now: Int64) {
        for pid in seen where kill(pid, 0) != 0 && errno == ESRCH {
            forget(pid)
            goneProcs += 1
        }
        for pid in sslChecked where kill(pid, 0) != 0 && errno == ESRCH { sslChecked.remove(pid) }
        let gone = Set(remap.values.map(\.pid)).union(existingByTuple.values.map(\.pid)).filter {
            kill($0, 0) != 0 && errno == ESRCH
        }
        for pid in gone { forget(pid) }
        if options.idleTimeout > 0 {
            let limit = now - Int64(options.idleTimeout) * 1_000_000_000
            let before = existingByTuple.count
            existingByTuple = existingByTuple.filter { $0.value.at >= limit }
            evictedConns += Int64(before - existingByTuple.count)
        }
    }

    /// A `proc` record the first time a process shows up.
    func sawProcess(_ pid: Int32, ts: Int64) throws(WriteFailure) {
        lastPid = pid
        if seen.contains(pid) { return }
        seen.insert(pid)
        procsSeen += 1
        var info = ProcInfo.read(pid: pid)
        // A short-lived process may be gone (reaped) by the time its first event is read.
        // With --comm the kernel let the event through only because the task's name was
        // that one, so the name is known even then.
        if info.comm == nil, let c = options.comm { info.comm = c }
        try writer.write(.proc(info.record(ts: ts)))
    }

    /// Attaches uprobes to the libssl a process maps (after an exec, its libraries are
    /// mapped only once the dynamic linker ran: checked again at its next connection).
    func checkSSL(_ pid: Int32) {
        guard let handle = h else { return }
        if olly_bpf_attach_ssl_pid(handle, pid) >= 0 { sslChecked.insert(pid) }
    }

    // MARK: start-up records

    /// `proc` records for the initial targets and `conn` `existing` records for their
    /// open TCP connections.
    func announceInitial() throws(WriteFailure) {
        let now = realtimeNS()
        var scanPids = initialTargets
        if scanPids.isEmpty && options.command.isEmpty {
            // No pid filter: every process the other filters let through; with a comm or
            // cgroup filter those processes are described now (without one, the machine's
            // processes are described as they show up).
            let me = getpid()
            scanPids = ProcFS.pids().filter { $0 != me && matchesFilters($0) }
            if options.comm != nil || options.cgroup != nil {
                for pid in scanPids where seen.insert(pid).inserted {
                    procsSeen += 1
                    try writer.write(.proc(ProcInfo.read(pid: pid).record(ts: now)))
                }
            }
        } else {
            for pid in scanPids {
                seen.insert(pid)
                procsSeen += 1
                try writer.write(.proc(ProcInfo.read(pid: pid).record(ts: now)))
            }
        }
        let ports = Set(options.ports.map(Int.init))
        var next = Self.existingBase
        for c in ExistingConnections.scan(pids: scanPids) {
            if !ports.isEmpty && !ports.contains(c.lport) && !ports.contains(c.rport) { continue }
            if !seen.contains(c.pid) {
                seen.insert(c.pid)
                procsSeen += 1
                try writer.write(.proc(ProcInfo.read(pid: c.pid).record(ts: now)))
            }
            next += 1
            var r = ConnRecord()
            r.ev = .existing
            r.ts = now
            r.cid = next
            r.pid = Int(c.pid)
            r.fd = Int(c.fd)
            r.role = c.isServer ? .server : .client
            r.family = c.family == 10 ? .inet6 : .inet
            r.laddr = c.laddr
            r.raddr = c.raddr
            existingByTuple[c.laddr + " " + c.raddr] = Announced(cid: next, pid: c.pid, at: now)
            existingConns += 1
            try writer.write(.conn(r))
        }
        try writer.flush()
    }

    func matchesFilters(_ pid: Int32) -> Bool {
        if let comm = options.comm {
            guard let c = ProcFS.readString("/proc/\(pid)/comm"), c.hasSuffix("\n"), c.dropLast() == comm[...] else { return false }
        }
        if let cg = options.cgroup {
            guard let text = ProcFS.readString("/proc/\(pid)/cgroup") else { return false }
            let want = cg.hasPrefix("/") ? cg : "/" + cg
            let mine = text.split(separator: "\n").compactMap { l -> String? in
                l.hasPrefix("0::") ? String(l.dropFirst(3)) : nil
            }
            guard let m = mine.first, want.hasSuffix(m) || m == want else { return false }
        }
        return true
    }

    // MARK: the command

    enum SpawnResult { case success(pid_t), failure(CaptureFailure) }

    /// Forks, puts the child in the filter, then lets it exec CMD: nothing it does is
    /// missed. Exec failures come back through a close-on-exec pipe.
    func spawn(_ handle: OpaquePointer) -> SpawnResult {
        var hold: [Int32] = [0, 0], report: [Int32] = [0, 0]
        guard pipeCloexec(&hold) else {
            return .failure(CaptureFailure(status: ExitStatus.failure, message: "cannot create a pipe: \(errnoDescription(errno))"))
        }
        guard pipeCloexec(&report) else {
            close(hold[0]); close(hold[1])
            return .failure(CaptureFailure(status: ExitStatus.failure, message: "cannot create a pipe: \(errnoDescription(errno))"))
        }
        // Everything the child needs is allocated before fork: after it, only
        // async-signal-safe calls.
        var argv: [UnsafeMutablePointer<CChar>?] = options.command.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        guard let file = argv[0] else {
            return .failure(CaptureFailure(status: ExitStatus.usage, message: "no command to run"))
        }
        let pid = fork()
        if pid == 0 {
            close(hold[1]); close(report[0])
            var b: UInt8 = 0
            while read(hold[0], &b, 1) < 0 && errno == EINTR {}
            // SIGINT/SIGTERM handlers and the ignored SIGPIPE do not belong to the command.
            signal(SIGPIPE, SIG_DFL)
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            execvp(file, &argv)
            var e = errno
            _ = write(report[1], &e, MemoryLayout<Int32>.size)
            _exit(127)
        }
        close(hold[0]); close(report[1])
        if pid < 0 {
            close(hold[1]); close(report[0])
            return .failure(CaptureFailure(status: ExitStatus.failure, message: "cannot fork: \(errnoDescription(errno))"))
        }
        _ = olly_bpf_add_pid(handle, pid)
        var one: UInt8 = 1
        _ = write(hold[1], &one, 1)
        close(hold[1])
        var e: Int32 = 0
        var got = 0
        while true {
            let n = read(report[0], &e, MemoryLayout<Int32>.size)
            if n < 0 && errno == EINTR { continue }
            got = n
            break
        }
        close(report[0])
        if got == MemoryLayout<Int32>.size {
            var st: Int32 = 0
            waitpid(pid, &st, 0)
            return .failure(CaptureFailure(status: e == ENOENT ? 127 : 126,
                                           message: "\(options.command[0]): cannot run: \(errnoDescription(e))"))
        }
        return .success(pid)
    }

    /// True once the command has exited (its status is then in `childStatus`).
    func reapChild() -> Bool {
        var st: Int32 = 0
        let r = waitpid(child, &st, WNOHANG)
        if r == child {
            // WIFEXITED / WTERMSIG, spelled out (the macros do not import).
            let sig = st & 0x7f
            childStatus = sig == 0 ? (st >> 8) & 0xff : 128 + sig
            return true
        }
        if r < 0 && errno == ECHILD { childStatus = ExitStatus.failure; return true }
        return false
    }

    // MARK: stats

    /// The capture's counters: the common ones, then lost events (in total and per CPU),
    /// read faults, TLS plaintext without a socket, truncated iovec arrays, bytes.
    public var counters: [(String, Int64)] {
        var c: [(String, Int64)] = [
            ("records_in", eventsIn),
            ("records_out", writer.records),
            ("bad_records", badEvents),
            ("bytes_in", bytesIn),
        ]
        if let handle = h { c += kernelCounters(handle) }
        c.append(("captured_bytes", capturedBytes))
        c.append(("gap_bytes", gapBytes))
        c.append(("existing_conns", existingConns))
        c.append(("procs", procsSeen))
        c.append(("evicted_conns", evictedConns))
        c.append(("gone_procs", goneProcs))
        c.append(("conns_tracked", Int64(existingByTuple.count + remap.count)))
        c.append(("procs_tracked", Int64(seen.count)))
        return c
    }

    /// Lost events (in total and per CPU), read faults, TLS plaintext without a socket,
    /// truncated iovec arrays: the programs' per-CPU counters.
    func kernelCounters(_ handle: OpaquePointer) -> [(String, Int64)] {
        var c: [(String, Int64)] = []
        let ncpu = Int(olly_bpf_ncpus())
        var per = [UInt64](repeating: 0, count: max(ncpu, 1))
        let lost = olly_bpf_lost(handle, &per, Int32(per.count))
        c.append(("lost_events", max(lost, 0)))
        for (i, v) in per.prefix(ncpu).enumerated() { c.append(("lost_events_cpu\(i)", Int64(v))) }
        c.append(("read_faults", max(olly_bpf_stat(handle, Int32(OLLY_STAT_READ_FAULT.rawValue)), 0)))
        c.append(("tls_no_socket", max(olly_bpf_stat(handle, Int32(OLLY_STAT_TLS_NOSOCK.rawValue)), 0)))
        c.append(("iov_truncated", max(olly_bpf_stat(handle, Int32(OLLY_STAT_IOV_TRUNC.rawValue)), 0)))
        return c
    }

    func writeStats(final: Bool) throws(WriteFailure) {
        let ts = max(lastTS, realtimeNS())
        try writer.write(.stats(StatsRecord(stage: command, ts: ts, final: final, counters: counters)))
    }

    // MARK: helpers

    static func withDescendants(_ roots: [Int32]) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for pid in ProcFS.pids() {
            if let pp = ProcFS.ppid(pid) { children[pp, default: []].append(pid) }
        }
        var out: [Int32] = []
        var seen = Set<Int32>()
        var stack = roots
        while let p = stack.popLast() {
            if !seen.insert(p).inserted { continue }
            out.append(p)
            stack += children[p] ?? []
        }
        return out
    }

    /// libssl.so.3 in the usual library directories.
    static func systemLibssl() -> [String] {
        var dirs = ["/usr/lib64", "/usr/lib", "/lib64"]
        for d in ProcFS.list("/usr/lib") where d.hasSuffix("-linux-gnu") { dirs.insert("/usr/lib/" + d, at: 0) }
        return dirs.map { $0 + "/libssl.so.3" }.filter { access($0, R_OK) == 0 }
    }
}

func pipeCloexec(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return true
}



