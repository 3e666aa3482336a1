import ArgumentParser
import OllyCLI
import OllyCapture
import OllyHook

@main
struct OllyCaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-capture",
        abstract: "See what processes send and receive, as proc, conn and data records.",
        usage: """
        olly-capture [options] [--pid PID]... [--comm NAME] [--cgroup PATH] [--port PORT]...
        olly-capture [options] -- CMD [ARG...]
        olly-capture [options] --replay FILE
        """,
        discussion: """
        Captures with eBPF (needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN, and a kernel with BTF): every socket call of the chosen processes (and their children) becomes data records with stream offsets, connections become conn records, processes proc records; OpenSSL plaintext is captured with "tls":true. Bytes not captured (beyond --budget, sendfile) are declared gaps (len > captured bytes); lost ring-buffer events are counted in stats records. Without a filter every process is captured. With -- CMD ARGS, CMD is started under capture and olly-capture exits with its status once it has exited and the events are drained. --replay FILE writes a recorded capture instead.

        Exit status: 0 success (also when stdout is closed, or on SIGINT/SIGTERM), CMD's status with -- CMD, 64 usage or config error, 65 bad input under --strict (replay), 69 eBPF capture not permitted or not supported here, 74 I/O error. See olly-capture(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Capture this process and its descendants (repeatable, up to 64).", valueName: "pid"))
    var pid: [Int32] = []

    @Option(help: ArgumentHelp("Capture only threads whose kernel command name (comm, at most 15 bytes) is this.", valueName: "name"))
    var comm: String?

    @Option(help: ArgumentHelp("Capture only processes in this cgroup v2 directory (a path under the cgroup2 mount, or absolute).", valueName: "path"))
    var cgroup: String?

    @Option(help: ArgumentHelp("Capture only connections with this local or remote port (repeatable, up to 64).", valueName: "port"))
    var port: [Int] = []

    @Option(help: ArgumentHelp("Payload bytes captured per call; the rest is a declared gap. 1 to 262144. (default: 16384)", valueName: "bytes"))
    var budget: Int?

    @Option(name: .customLong("ring-bytes"), help: ArgumentHelp("Size of the kernel ring buffer, rounded up to a power of two. 65536 to 1073741824. (default: 33554432; 16777216 with --preload)", valueName: "bytes"))
    var ringBytes: Int?

    @Flag(help: "Also capture AF_UNIX sockets.")
    var unix = false

    @Option(name: .customLong("bpf-object"), help: ArgumentHelp("The eBPF object to load. (default: olly.bpf.o beside olly-capture, else in ../lib/olly)", valueName: "file"))
    var bpfObject: String?

    @Option(name: .customLong("stats-interval"), help: ArgumentHelp("Also write a stats record every N seconds of live capture; 0: only at exit. (default: 10)", valueName: "seconds"))
    var statsInterval: Int?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Forget a connection found open at start that has not been used for this many seconds; 0: never. (default: 300)", valueName: "seconds"))
    var idleTimeout: Int?

    @Flag(help: "Print libbpf's messages (and the verifier log on a load failure) on stderr.")
    var verbose = false

    @Flag(help: "Capture with the LD_PRELOAD hook library instead of eBPF (no root needed): run the command after -- under libolly.so.")
    var preload = false

    @Option(help: ArgumentHelp("Capture a running process with the hook library, injected with gdb; until it exits or SIGINT/SIGTERM.", valueName: "pid"))
    var attach: Int32?

    @Option(name: .customLong("hook-library"), help: ArgumentHelp("The hook library for --preload and --attach. (default: libolly.so beside olly-capture, else in ../lib/olly)", valueName: "file"))
    var hookLibrary: String?

    @Option(help: ArgumentHelp("Replay a recorded capture (NDJSON or binary; - for stdin) instead of capturing live.", valueName: "file"))
    var replay: String?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("A command to start and capture, after --.", valueName: "cmd"))
    var command: [String] = []

    func validate() throws {
        if pid.count > 64 { throw ValidationError("at most 64 --pid options") }
        if let p = pid.first(where: { $0 <= 0 }) { throw ValidationError("--pid \(p): not a process ID") }
        if port.count > 64 { throw ValidationError("at most 64 --port options") }
        if let p = port.first(where: { $0 < 1 || $0 > 65535 }) { throw ValidationError("--port \(p): must be between 1 and 65535") }
        if let c = comm, c.utf8.count > 15 || c.isEmpty { throw ValidationError("--comm must be 1 to 15 bytes (the kernel's comm)") }
        if let b = budget, b < 1 || b > 262_144 { throw ValidationError("--budget must be between 1 and 262144") }
        if let r = ringBytes, r < 65536 || r > 1 << 30 { throw ValidationError("--ring-bytes must be between 65536 and 1073741824") }
        if let s = statsInterval, s < 0 || s > 86400 { throw ValidationError("--stats-interval must be between 0 and 86400") }
        if let s = idleTimeout, s < 0 || s > 86400 { throw ValidationError("--idle-timeout must be between 0 and 86400") }
        if replay != nil && !command.isEmpty { throw ValidationError("--replay and a command to run cannot be combined") }
        if preload && command.isEmpty { throw ValidationError("--preload needs a command: olly-capture --preload -- CMD [ARG...]") }
        if let a = attach, a <= 0 { throw ValidationError("--attach \(a): not a process ID") }
        if attach != nil && (preload || !command.isEmpty || replay != nil) { throw ValidationError("--attach cannot be combined with --preload, --replay or a command") }
    }

    func run() throws {
        let diag = Diagnostics(command: "olly-capture", maxWarnings: 0)
        var config = Config.empty
        if let path = common.config {
            // Validate the config first (exit 64 on a mistake); it may set capture options.
            do throws(ConfigError) {
                config = try Config.load(path: path)
            } catch {
                diag.say(error.description)
                throw ExitCode(ExitStatus.usage)
            }
        }
        if let replay = replay ?? (command.isEmpty ? config.string("capture", "replay") : nil) {
            let status = StageRunner.main(command: "olly-capture", section: "capture", common: common,
                                          inputs: Input.from(files: [replay]), stage: PassThroughStage())
            throw ExitCode(status)
        }
        if preload || attach != nil || (config.bool("capture", "preload") ?? false) && !command.isEmpty {
            throw ExitCode(HookCommand.main(options: hookOptions(config), common: common))
        }
        var cli = CaptureOptions()
        cli.pids = pid
        cli.comm = comm
        cli.cgroup = cgroup
        cli.ports = port.map { UInt16($0) }
        cli.unix = unix
        cli.bpfObject = bpfObject
        cli.verbose = verbose
        cli.command = command
        let options: CaptureOptions
        do throws(CaptureFailure) {
            options = try CaptureOptions.merge(cli, budget: budget, ringBytes: ringBytes,
                                               statsInterval: statsInterval, idleTimeout: idleTimeout, config: config)
        } catch {
            diag.say(error.message)
            throw ExitCode(error.status)
        }
        throw ExitCode(LiveCaptureCommand.main(options: options, common: common))
    }

    /// The options of the hook capture (--preload, --attach), with the config file's.
    func hookOptions(_ config: Config) -> HookOptions {
        var h = HookOptions()
        h.command = command
        h.attach = attach
        h.library = hookLibrary ?? config.string("capture", "hook-library")
        h.unix = unix || (config.bool("capture", "unix") ?? false)
        h.budget = min(budget ?? config.int("capture", "budget").map(Int.init) ?? h.budget, HookOptions.maxBudget)
        h.ringBytes = ringBytes ?? config.int("capture", "ring-bytes").map(Int.init) ?? h.ringBytes
        return h
    }
}
