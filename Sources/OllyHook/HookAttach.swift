#if canImport(Glibc)
import Glibc
#endif
import COllyHook
import OllyCLI

/// `--attach PID`: gdb loads libolly.so into the running process (`dlopen`) and calls
/// `olly_attach(channel, …)`, which maps the channel and points the process's GOT entries
/// for the hooked calls at the library; gdb then detaches. At the end `olly_detach()`
/// turns the hooks into pass-throughs (the code stays loaded: unloading code that other
/// threads may be running is not safe).
enum HookAttach {
    /// A new 0700 directory with a path for the 0600 channel file, both owned by the
    /// target's user (so it can open the file, and nobody else can).
    static func channelPath(owner: uid_t, group: gid_t) throws(HookFailure) -> (String, String) {
        var template = Array("/tmp/olly-attach-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { p -> String? in
            guard let base = p.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        guard let dir else {
            throw HookFailure(status: ExitStatus.failure, message: "cannot create a private directory in /tmp: \(String(cString: strerror(errno)))")
        }
        if getuid() == 0 && owner != 0 { _ = chown(dir, owner, group) }
        return (dir + "/channel", dir)
    }

    static func gdb() -> String? {
        for d in ["/usr/bin", "/bin", "/usr/local/bin"] where access(d + "/gdb", X_OK) == 0 { return d + "/gdb" }
        return nil
    }

    /// Runs gdb in batch mode on pid with the given commands; returns its output.
    static func run(pid: Int32, commands: [String]) -> (status: Int32, output: String)? {
        guard let gdb = gdb() else { return nil }
        var args = [gdb, "-nx", "-q", "-batch", "-p", String(pid)]
        for c in commands { args += ["-ex", c] }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        let devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if devnull >= 0 { close(devnull) } }
        let argv = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        // gdb waits for its inferior with SIGCHLD: it must not inherit a blocked one.
        let rc = argv.withUnsafeBufferPointer { p in
            olly_hook_spawn(gdb, p.baseAddress, environ, devnull, fds[1], fds[1], 3, &child)
        }
        close(fds[1])
        defer { close(fds[0]) }
        guard rc == 0 else { return nil }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = monotonicNS() + 60_000_000_000
        while true {
            // gdb gets a minute; a gdb that hangs is killed (it detaches as it dies).
            var pfd = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            let left = deadline > monotonicNS() ? Int32((deadline - monotonicNS()) / 1_000_000) : 0
            if poll(&pfd, 1, left) == 0 { kill(child, SIGKILL); break }
            let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        var ws: Int32 = 0
        while waitpid(child, &ws, 0) < 0 && errno == EINTR {}
        return (HookCapture.exitStatus(ws), String(decoding: out, as: UTF8.self))
    }

    static func inject(pid: Int32, library: String, channel: String, unix: Bool, budget: Int) throws(HookFailure) {
        guard gdb() != nil else {
            throw HookFailure(status: ExitStatus.unavailable, message: "--attach needs gdb (apt-get install gdb)")
        }
        let cmds = [
            "call (void*)dlopen(\"\(library)\", 2)",
            "call (int)olly_attach(\"\(channel)\", \(unix ? 1 : 0), \(budget))",
        ]
        guard let r = run(pid: pid, commands: cmds) else {
            throw HookFailure(status: ExitStatus.failure, message: "--attach \(pid): cannot run gdb")
        }
        // The result of olly_attach is gdb's last "$N = value" line.
        let results = r.output.split(separator: "\n").filter { $0.hasPrefix("$") }
        guard results.count == 2, let last = results.last, let eq = last.firstIndex(of: "="),
              let patched = Int(last[last.index(after: eq)...].trimmingCharacters()) else {
            let detail = r.output.split(separator: "\n").suffix(3).joined(separator: "; ")
            throw HookFailure(status: ExitStatus.unavailable, message: "--attach \(pid): gdb could not load the library (needs ptrace permission: root, or the same user with kernel.yama.ptrace_scope 0): \(detail)")
        }
        if patched == -2 {
            throw HookFailure(status: ExitStatus.unavailable, message: "--attach \(pid): the process is already captured")
        }
        if patched < 0 {
            throw HookFailure(status: ExitStatus.failure, message: "--attach \(pid): the library could not map the capture channel")
        }
    }

    static func detach(pid: Int32) {
        _ = run(pid: pid, commands: ["call (int)olly_detach()"])
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}
