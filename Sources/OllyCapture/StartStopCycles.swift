import OllyCLI
#if canImport(Glibc)
import Glibc
#endif

/// Starts and stops the eBPF capture many times in this process and reports its open
/// file descriptors and memory after a warm-up and at the end: a leak check that needs a
/// process of its own (olly-capture-cycles), since other work in a shared process (a
/// test runner's parallel suites) moves its fd count and RSS.
public enum StartStopCycles {
    public struct Report: Sendable {
        public var cycles = 0
        public var warmup = 0
        public var fdsWarm = 0, fdsEnd = 0
        public var rssKBWarm = 0, rssKBEnd = 0
        public var anonKBWarm = 0, anonKBEnd = 0

        /// One JSON line.
        public var json: String {
            "{\"cycles\":\(cycles),\"warmup\":\(warmup),\"fds_warm\":\(fdsWarm),\"fds_end\":\(fdsEnd),"
                + "\"rss_kb_warm\":\(rssKBWarm),\"rss_kb_end\":\(rssKBEnd),"
                + "\"anon_kb_warm\":\(anonKBWarm),\"anon_kb_end\":\(anonKBEnd)}"
        }
    }

    /// olly-capture-cycles CYCLES WARMUP [BPF_OBJECT]: the report on stdout; the exit status.
    public static func main(_ args: [String]) -> Int32 {
        let diag = Diagnostics(command: "olly-capture-cycles", maxWarnings: 0)
        guard args.count >= 3, let cycles = Int(args[1]), let warmup = Int(args[2]), cycles > 0, warmup > 0,
              warmup <= cycles else {
            diag.say("usage: olly-capture-cycles CYCLES WARMUP [BPF_OBJECT]")
            return ExitStatus.usage
        }
        do throws(CaptureFailure) {
            print(try run(cycles: cycles, warmup: warmup, bpfObject: args.count > 3 ? args[3] : nil).json)
            return ExitStatus.success
        } catch {
            diag.say(error.message)
            return error.status
        }
    }

    /// `cycles` start/stop cycles of a capture of this process (tracepoints only, no
    /// TLS uprobes, a 1 MiB ring), measured after `warmup` of them and at the end.
    public static func run(cycles: Int, warmup: Int, bpfObject: String?) throws(CaptureFailure) -> Report {
        var options = CaptureOptions()
        options.pids = [getpid()]
        options.bpfObject = bpfObject
        options.ringBytes = 1 << 20
        options.systemLibssl = false
        let settings: Settings
        do {
            settings = try Settings.resolve(CommonOptions.parse([]), section: "capture", environment: [:])
        } catch {
            throw CaptureFailure(status: ExitStatus.usage, message: "\(error)")
        }
        let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard devnull >= 0 else {
            throw CaptureFailure(status: ExitStatus.ioError, message: "cannot open /dev/null: \(errnoDescription(errno))")
        }
        defer { close(devnull) }
        var r = Report()
        r.cycles = cycles
        r.warmup = min(warmup, cycles)
        for i in 0..<cycles {
            let cap = LiveCapture(options: options, settings: settings, outputFD: devnull)
            try cap.start()
            cap.stop()
            if i + 1 == r.warmup { (r.fdsWarm, r.rssKBWarm, r.anonKBWarm) = (openFDs(), status("VmRSS:"), status("RssAnon:")) }
        }
        (r.fdsEnd, r.rssKBEnd, r.anonKBEnd) = (openFDs(), status("VmRSS:"), status("RssAnon:"))
        return r
    }

    static func openFDs() -> Int { ProcFS.list("/proc/self/fd").count }

    /// A "Name:   N kB" line of /proc/self/status, in KiB (0 when absent).
    static func status(_ name: String) -> Int {
        guard let text = ProcFS.readString("/proc/self/status") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }
}
