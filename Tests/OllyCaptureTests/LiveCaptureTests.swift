import Foundation
import OllyCLI
import OllyNDJSON
import Testing
@testable import OllyCapture

// Live eBPF capture of real processes on loopback, filtered to the processes each test
// starts (never the whole machine). They need root and eBPF; as another user they are
// skipped, saying so.

let isRoot = getuid() == 0
let skipNote: Comment = "needs root and eBPF (CI runs as root): live capture tests skipped"

/// The built commands (OLLY_BIN_DIR, else beside the test bundle) and the eBPF object
/// beside them, built with bpf/build.sh when missing.
let binDir: String = {
    if let d = ProcessInfo.processInfo.environment["OLLY_BIN_DIR"], !d.isEmpty { return d }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("olly-capture").path), url.path != "/" {
        url.deleteLastPathComponent()
    }
    return url.path
}()
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
let bpfObject: String = {
    let path = binDir + "/olly.bpf.o"
    if !FileManager.default.fileExists(atPath: path) {
        _ = try? shell(["\(packageRoot)/bpf/build.sh", path])
    }
    return path
}()

@discardableResult
func shell(_ args: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

/// Runs a scenario of Scenarios/live.py; returns the capture's records and the truth.
func scenario(_ name: String) throws -> (Capture, [String: Any], String) {
    let work = NSTemporaryDirectory() + "olly-cap-\(name)-\(getpid())"
    try? FileManager.default.removeItem(atPath: work)
    let status = try shell(["python3", "\(packageRoot)/Tests/OllyCaptureTests/Scenarios/live.py", name,
                            binDir + "/olly-capture", bpfObject, work])
    #expect(status == 0, "live.py \(name) failed")
    let truth = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work + "/truth.json")))) as? [String: Any] ?? [:]
    let text = (try? String(contentsOfFile: work + "/capture.ndjson", encoding: .utf8)) ?? ""
    var cap = Capture()
    for line in text.split(separator: "\n") {
        do { cap.add(try Record.decodeNDJSON(String(line))) } catch { Issue.record("bad record \(line.prefix(120)): \(error)") }
    }
    let stderr = (try? String(contentsOfFile: work + "/stderr.txt", encoding: .utf8)) ?? ""
    #expect(stderr.isEmpty, "olly-capture said: \(stderr)")
    return (cap, truth, work)
}

func file(_ path: String) -> [UInt8] { (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? [] }

/// A capture's records, with each (cid, dir, tls) stream rebuilt from its offsets.
struct Capture {
    struct Key: Hashable { var cid: Int64; var dir: Direction; var tls: Bool }
    struct Stream {
        var bytes: [UInt8] = []
        var known: [Bool] = []
        var contiguous = true
        var calls: [(len: Int64, captured: Int)] = []
        var pid = 0
        var firstOff: Int64?
    }
    var conns: [ConnRecord] = []
    var procs: [ProcRecord] = []
    var stats: [StatsRecord] = []
    var streams: [Key: Stream] = [:]
    var data: [DataRecord] = []
    var lastCall: (ts: Int64, key: Key)?

    mutating func add(_ r: Record) {
        switch r {
        case .conn(let c): conns.append(c)
        case .proc(let p): procs.append(p)
        case .stats(let s): stats.append(s)
        case .data(let d):
            data.append(d)
            let k = Key(cid: d.cid, dir: d.dir, tls: d.tls)
            var s = streams[k] ?? Stream()
            s.pid = d.pid
            if s.firstOff == nil { s.firstOff = d.off }
            if d.off != Int64(s.bytes.count) + (s.firstOff ?? 0) { s.contiguous = false }
            s.bytes += d.data + [UInt8](repeating: 0, count: Int(d.len) - d.data.count)
            s.known += [Bool](repeating: true, count: d.data.count) + [Bool](repeating: false, count: Int(d.len) - d.data.count)
            // The chunks of one call share its timestamp.
            if let l = lastCall, l.ts == d.ts, l.key == k, !s.calls.isEmpty {
                s.calls[s.calls.count - 1].len += d.len
                s.calls[s.calls.count - 1].captured += d.data.count
            } else {
                s.calls.append((d.len, d.data.count))
            }
            lastCall = (d.ts, k)
            streams[k] = s
        default: break
        }
    }

    func opens(role: Role) -> [ConnRecord] { conns.filter { $0.ev == .open && $0.role == role } }
    func peer(of c: ConnRecord) -> ConnRecord? {
        conns.first { $0.cid != c.cid && $0.ev != .close && $0.laddr == c.raddr && $0.raddr == c.laddr }
    }
    func stream(_ cid: Int64, _ dir: Direction, tls: Bool = false) -> Stream { streams[Key(cid: cid, dir: dir, tls: tls)] ?? Stream() }
    var final: StatsRecord? { stats.last { $0.final } }
    func counter(_ name: String) -> Int64? { final?.counters.first { $0.0 == name }?.1 }
}

/// Offsets contiguous, every call captured up to the budget with the gap at its end,
/// and the two ends of each connection agreeing wherever both captured the bytes.
func checkStreams(_ cap: Capture, budget: Int = 16384, allowGaps: Bool = true) {
    for (k, s) in cap.streams {
        #expect(s.contiguous, "offsets of cid \(k.cid) \(k.dir) not contiguous")
        #expect(s.firstOff == 0, "cid \(k.cid) \(k.dir) starts at \(s.firstOff ?? -1)")
        for c in s.calls where c.captured != min(Int(c.len), budget) {
            // sendfile and read faults are whole-call gaps; nothing else may fall short.
            #expect(c.captured == 0 && allowGaps, "cid \(k.cid) \(k.dir): call of \(c.len) bytes captured \(c.captured)")
        }
    }
    #expect(cap.counter("lost_events") == 0)
}

/// A stream equals what the process's calls really moved, wherever it was captured.
func matches(_ s: Capture.Stream, _ truth: [UInt8], _ what: String) {
    #expect(s.bytes.count == truth.count, "\(what): \(s.bytes.count) bytes captured, \(truth.count) moved")
    if let i = s.bytes.indices.first(where: { $0 < truth.count && s.known[$0] && s.bytes[$0] != truth[$0] }) {
        Issue.record("\(what): differs at byte \(i)")
    }
}

/// a's bytes equal b's wherever both are known, and both have the same length.
func agree(_ a: Capture.Stream, _ b: Capture.Stream, _ what: String) {
    #expect(a.bytes.count == b.bytes.count, "\(what): \(a.bytes.count) vs \(b.bytes.count) bytes")
    var diff = 0
    for i in 0..<min(a.bytes.count, b.bytes.count) where a.known[i] && b.known[i] && a.bytes[i] != b.bytes[i] { diff += 1 }
    #expect(diff == 0, "\(what): \(diff) bytes differ")
}

@Suite(.serialized, .enabled(if: isRoot, skipNote)) struct LiveCaptureTests {
    func httpChecks(_ name: String, tls: Bool) throws {
        let (cap, truth, work) = try scenario(name)
        #expect(truth["status"] as? Int == 0)
        let server = truth["server"] as? Int ?? -1
        let clients = cap.opens(role: .client).filter { $0.pid != server }
        #expect(clients.count == 1, "keep-alive: one connection for three requests")
        guard let c = clients.first, let s = cap.peer(of: c) else { Issue.record("no connection pair"); return }
        #expect(s.pid == server && s.role == .server)
        #expect(cap.procs.contains { $0.comm == "curl" && $0.exe == "/usr/bin/curl" })
        checkStreams(cap, budget: 262_144)
        let cout = cap.stream(c.cid, .out, tls: tls), cin = cap.stream(c.cid, .in, tls: tls)
        let sin = cap.stream(s.cid, .in, tls: tls), sout = cap.stream(s.cid, .out, tls: tls)
        #expect(String(decoding: cout.bytes, as: UTF8.self).components(separatedBy: "GET /").count == 4)
        agree(cout, sin, "client out vs server in")
        agree(cin, sout, "client in vs server out")
        #expect(cout.known.allSatisfy { $0 } && cin.known.allSatisfy { $0 }, "curl's calls fit the budget")
        let big = file(truth["big"] as? String ?? "")
        #expect(big.count == 1 << 20 && Array(cin.bytes.suffix(big.count)) == big, "the 1 MiB body as captured")
        #expect(file(work + "/r3") == big)
        if tls {
            // The ciphertext of these connections is not emitted, the plaintext is.
            #expect(cap.stream(c.cid, .out).bytes.isEmpty && cap.stream(c.cid, .in).bytes.isEmpty)
            #expect(cap.stream(s.cid, .out).bytes.isEmpty && cap.stream(s.cid, .in).bytes.isEmpty)
        } else {
            #expect(!cap.data.contains { $0.tls })
        }
    }

    @Test func curlKeepAliveAndLargeBody() throws { try httpChecks("http", tls: false) }

    @Test func httpsPlaintextNotCiphertext() throws { try httpChecks("https", tls: true) }

    @Test func ipv6Loopback() throws {
        try httpChecks("ipv6", tls: false)
        let (cap, _, _) = try scenario("ipv6")
        let c = cap.opens(role: .client).first
        #expect(c?.family == .inet6)
        #expect(c?.raddr?.hasPrefix("[::1]:") == true && c?.laddr?.hasPrefix("[::1]:") == true)
    }

    @Test func pythonSendRecvAccept4() throws {
        let (cap, truth, work) = try scenario("python")
        #expect(truth["status"] as? Int == 0)
        guard let c = cap.opens(role: .client).first, let s = cap.peer(of: c) else { Issue.record("no connection pair"); return }
        #expect(s.role == .server && s.ev == .open && s.pid != c.pid)
        checkStreams(cap)
        let cout = cap.stream(c.cid, .out), cin = cap.stream(c.cid, .in)
        let sin = cap.stream(s.cid, .in), sout = cap.stream(s.cid, .out)
        matches(cout, file(work + "/client_out"), "client out")
        matches(sin, file(work + "/server_in"), "server in")
        matches(cin, file(work + "/client_in"), "client in")
        matches(sout, file(work + "/server_out"), "server out")
        #expect(cin.known.allSatisfy { $0 }, "recv(7000) calls fit the budget")
        // The sendmsg of three buffers (100 + 5000 + 3 bytes) after 120,000 bytes: its
        // pieces gathered into one record of 4096 bytes and one of the other 1007.
        let gathered = cap.data.filter { $0.cid == c.cid && $0.dir == .out && $0.off >= 120_000 }
        #expect(gathered.map { [$0.off, $0.len, Int64($0.data.count)] } == [[120_000, 4096, 4096], [124_096, 1007, 1007]])
        #expect(gathered.first.map { Array($0.data.prefix(101)) } == Array(repeating: UInt8(ascii: "x"), count: 100) + [UInt8(ascii: "y")])
        // sendall of 75800 bytes: 16384 captured, the rest a declared gap.
        #expect(sout.calls.first.map { $0.len == 1000 && $0.captured == 1000 } == true)
        #expect(sout.known.filter { !$0 }.count > 0, "the budget made a gap")
        #expect(cap.counter("gap_bytes") ?? 0 > 0)
        #expect(cap.conns.filter { $0.ev == .close }.count == 2)
    }

    @Test func nginxSendfileIsADeclaredGap() throws {
        let (cap, truth, work) = try scenario("nginx")
        #expect(truth["status"] as? Int == 0)
        let server = truth["server"] as? Int ?? -1
        guard let c = cap.opens(role: .client).first(where: { $0.pid != server }), let s = cap.peer(of: c) else {
            Issue.record("no connection pair"); return
        }
        #expect(s.role == .server && s.pid != server, "served by the worker, a child of the master")
        checkStreams(cap, budget: 262_144)
        let big = file(truth["big"] as? String ?? "")
        let sout = cap.stream(s.cid, .out), cin = cap.stream(c.cid, .in)
        let head = String(decoding: sout.bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.contains("\r\n\r\n"), "headers captured")
        let headLen = (head.range(of: "\r\n\r\n").map { head.utf8.distance(from: head.startIndex, to: $0.upperBound) }) ?? 0
        #expect(sout.known.prefix(headLen).allSatisfy { $0 })
        #expect(sout.known.dropFirst(headLen).allSatisfy { !$0 } && sout.bytes.count - headLen == big.count,
                "the body is one declared gap of its exact length")
        agree(cin, sout, "client in vs server out")
        #expect(Array(cin.bytes.suffix(big.count)) == big && file(work + "/r3") == big)
    }

    @Test func connectionOpenedBeforeCapture() throws {
        let (cap, truth, work) = try scenario("existing")
        #expect(truth["status"] as? Int == 0)
        let srv = truth["server"] as? Int ?? -1, cli = truth["client"] as? Int ?? -1
        let existing = cap.conns.filter { $0.ev == .existing }
        guard let c = existing.first(where: { $0.pid == cli }), let s = existing.first(where: { $0.pid == srv }) else {
            Issue.record("existing connections not reported: \(cap.conns)"); return
        }
        #expect(c.role == .client && s.role == .server)
        #expect(c.laddr == s.raddr && c.raddr == s.laddr && c.raddr == "127.0.0.1:\(truth["port"] as? Int ?? 0)")
        checkStreams(cap)
        #expect(cap.stream(c.cid, .out).bytes == Array("after".utf8), "data carries the cid announced at start")
        #expect(cap.stream(s.cid, .in).bytes == Array("after".utf8))
        #expect(cap.stream(s.cid, .out).bytes == Array("echo:after".utf8))
        #expect(cap.stream(c.cid, .in).bytes == file(work + "/client_in"))
        #expect(!cap.conns.contains { $0.ev == .open })
    }

    /// --comm with a command: only the child that renamed itself is captured, not its
    /// parent (same tree, other name), and what it sent and received is exact.
    @Test func commFilterCapturesOnlyThatName() throws {
        let (cap, truth, work) = try scenario("comm")
        #expect(truth["status"] as? Int == 0)
        let child = truth["child"] as? Int ?? -1
        #expect(!cap.data.isEmpty)
        #expect(cap.data.allSatisfy { $0.pid == child }, "data of other processes: \(Set(cap.data.map(\.pid)))")
        #expect(cap.conns.allSatisfy { $0.pid == child })
        #expect(cap.procs.contains { $0.pid == child && $0.comm == truth["name"] as? String })
        guard let c = cap.opens(role: .client).first else { Issue.record("no client connection"); return }
        #expect(cap.opens(role: .server).isEmpty, "the parent's accepted socket is not captured")
        checkStreams(cap)
        matches(cap.stream(c.cid, .out), file(work + "/child_out"), "child out")
        matches(cap.stream(c.cid, .in), file(work + "/child_in"), "child in")
    }

    /// --cgroup alone: a client inside the cgroup is captured, the server it talks to
    /// (outside) is not.
    @Test func cgroupFilterCapturesOnlyThatCgroup() throws {
        let (cap, truth, work) = try scenario("cgroup")
        #expect(truth["status"] as? Int == 0)
        let client = truth["client"] as? Int ?? -1
        #expect(cap.data.allSatisfy { $0.pid == client }, "data of other processes: \(Set(cap.data.map(\.pid)))")
        #expect(cap.conns.allSatisfy { $0.pid == client })
        #expect(cap.procs.contains { $0.pid == client && $0.cgroup?.hasSuffix(truth["cgroup"] as? String ?? "?") == true })
        guard let c = cap.opens(role: .client).first else { Issue.record("no client connection"); return }
        checkStreams(cap)
        matches(cap.stream(c.cid, .out), file(work + "/client_out"), "client out")
        matches(cap.stream(c.cid, .in), file(work + "/client_in"), "client in")
    }

    /// --port: both ends of the connection on that port, nothing of the other port's.
    @Test func portFilterCapturesOnlyThatPort() throws {
        let (cap, truth, work) = try scenario("port")
        #expect(truth["status"] as? Int == 0)
        let p1 = truth["port1"] as? Int ?? -1, p2 = truth["port2"] as? Int ?? -1
        let opens = cap.conns.filter { $0.ev == .open }
        #expect(opens.count == 2, "client and server end of port \(p1): \(opens)")
        #expect(opens.allSatisfy { $0.laddr?.hasSuffix(":\(p1)") == true || $0.raddr?.hasSuffix(":\(p1)") == true })
        #expect(!cap.conns.contains { $0.laddr?.hasSuffix(":\(p2)") == true || $0.raddr?.hasSuffix(":\(p2)") == true })
        guard let c = cap.opens(role: .client).first, let s = cap.peer(of: c) else { Issue.record("no connection pair"); return }
        #expect(Set(cap.data.map(\.cid)) == [c.cid, s.cid])
        checkStreams(cap)
        #expect(cap.stream(c.cid, .out).bytes == Array("request for port one".utf8))
        matches(cap.stream(c.cid, .in), file(work + "/in_one"), "client in on port one")
        agree(cap.stream(c.cid, .out), cap.stream(s.cid, .in), "client out vs server in")
        agree(cap.stream(c.cid, .in), cap.stream(s.cid, .out), "client in vs server out")
        #expect(!cap.data.contains { String(decoding: $0.data, as: UTF8.self).contains("two") })
    }

    /// --unix: AF_UNIX stream sockets as family "unix", bytes exact; without it, none.
    @Test func unixSocketsOnlyWithUnix() throws {
        let (cap, truth, work) = try scenario("unix")
        #expect(truth["status"] as? Int == 0)
        let c = cap.opens(role: .client).first, s = cap.opens(role: .server).first
        #expect(c?.family == .unix && s?.family == .unix)
        if let c, let s {
            #expect(c.pid != s.pid)
            checkStreams(cap)
            matches(cap.stream(c.cid, .out), file(work + "/client_out"), "client out")
            matches(cap.stream(c.cid, .in), file(work + "/client_in"), "client in")
            matches(cap.stream(s.cid, .in), file(work + "/server_in"), "server in")
            matches(cap.stream(s.cid, .out), file(work + "/server_out"), "server out")
            #expect(cap.conns.filter { $0.ev == .close }.count == 2)
        }
        let (off, truthOff, _) = try scenario("nounix")
        #expect(truthOff["status"] as? Int == 0)
        #expect(off.conns.isEmpty && off.data.isEmpty, "no AF_UNIX capture without --unix")
        #expect(off.procs.count >= 1, "the command is still described")
    }

    /// A connection found at start and left unused past --idle-timeout is forgotten
    /// (evicted_conns); used afterwards it is announced again under the kernel's cid, so
    /// every data record still has its conn record; once both processes have exited
    /// nothing is tracked any more.
    @Test func idleStateAgesOutAndExitedProcessesAreForgotten() throws {
        let (cap, truth, _) = try scenario("idle")
        #expect(truth["status"] as? Int == 0)
        #expect(cap.counter("evicted_conns") == 2, "both ends aged out")
        let announced = Set(cap.conns.map(\.cid))
        #expect(!cap.data.isEmpty && cap.data.allSatisfy { announced.contains($0.cid) }, "data without a conn record")
        let cli = truth["client"] as? Int ?? -1
        let again = cap.conns.filter { $0.ev == .existing && $0.pid == cli && $0.cid < 1 << 32 }
        #expect(again.count == 1, "the client's end announced again by the kernel: \(cap.conns)")
        if let c = again.first { #expect(cap.stream(c.cid, .out).bytes == Array("after".utf8)) }
        checkStreams(cap)
        #expect(cap.counter("conns_tracked") == 0 && cap.counter("procs_tracked") == 0)
    }

    /// Start and stop 100 times in a process of its own (olly-capture-cycles, so nothing
    /// else moves its counts): after 5 warm-up cycles its fds are exactly as many at the
    /// end, and its anonymous memory grows by less than 512 KiB over the other 95.
    @Test func startStopCyclesLeakNothing() throws {
        let cycles = Int(ProcessInfo.processInfo.environment["OLLY_CAPTURE_CYCLES"] ?? "") ?? 100
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/olly-capture-cycles")
        p.arguments = [String(cycles), "5", bpfObject]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let r = (try? JSONSerialization.jsonObject(with: data)) as? [String: Int] ?? [:]
        #expect(r["cycles"] == cycles, "olly-capture-cycles said: \(String(decoding: data, as: UTF8.self))")
        #expect(r["fds_end"] != nil && r["fds_end"] == r["fds_warm"], "fds: \(r)")
        let grown = (r["anon_kb_end"] ?? Int.max) - (r["anon_kb_warm"] ?? 0)
        #expect(grown < 512, "anonymous memory grew by \(grown) KiB over \(cycles - 5) cycles: \(r)")
    }
}
