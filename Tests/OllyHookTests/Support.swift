import Foundation
import Testing

/// Where the built commands are: $OLLY_BIN_DIR (set by `make test`), else beside the test bundle.
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

let work: String = {
    let d = NSTemporaryDirectory() + "olly-hook-tests-\(getpid())"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}()

enum Build {
    /// libolly.so beside olly-capture, rebuilt from hook/libolly.c when older (so
    /// olly-capture finds it by itself, as installed).
    static let library: String = {
        let lib = binDir + "/libolly.so"
        let src = packageRoot + "/hook/libolly.c", hdr = packageRoot + "/hook/olly_hook.h"
        if mtime(lib) < max(mtime(src), mtime(hdr)) {
            let tmp = lib + ".tmp\(getpid())"
            _ = try? sh("cc -O2 -g -Wall -fPIC -shared -fvisibility=hidden -o '\(tmp)' '\(src)' -ldl -lpthread && mv '\(tmp)' '\(lib)'")
        }
        return lib
    }()

    static func mtime(_ p: String) -> Double {
        ((try? FileManager.default.attributesOfItem(atPath: p)[.modificationDate]) as? Date)?.timeIntervalSince1970 ?? 0
    }

    /// A test program of hook/tests, compiled once.
    static func program(_ name: String) throws -> String {
        let out = work + "/" + name
        if !FileManager.default.fileExists(atPath: out) {
            let r = try sh("cc -O1 -pthread -o '\(out)' '\(packageRoot)/hook/tests/\(name).c'")
            #expect(r.status == 0, "cannot compile \(name): \(r.err)")
        }
        return out
    }
}

struct Result {
    var status: Int32
    var out: Data
    var err: String
}

/// Runs argv (no shell) with a time limit; returns status and output.
func run(_ argv: [String], env: [String: String] = [:], timeout: Double = 60) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0])
    p.arguments = Array(argv.dropFirst())
    var e = ProcessInfo.processInfo.environment
    e.removeValue(forKey: "OLLY_FORMAT")
    for (k, v) in env { e[k] = v }
    p.environment = e
    let o = Pipe(), er = Pipe()
    p.standardOutput = o
    p.standardError = er
    p.standardInput = FileHandle.nullDevice
    try p.run()
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let g = DispatchGroup()
    g.enter()
    let eh = er.fileHandleForReading
    DispatchQueue.global().async { errBox.data = eh.readDataToEndOfFile(); g.leave() }
    let killer = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    let out = o.fileHandleForReading.readDataToEndOfFile()
    g.wait()
    p.waitUntilExit()
    killer.cancel()
    return Result(status: p.terminationStatus, out: out, err: String(decoding: errBox.data, as: UTF8.self))
}

func sh(_ script: String, timeout: Double = 60) throws -> Result {
    try run(["/bin/bash", "-c", script], timeout: timeout)
}

/// `olly-capture --preload -- argv`.
func capture(_ argv: [String], extra: [String] = [], timeout: Double = 90) throws -> (Result, Capture) {
    _ = Build.library
    let r = try run([binDir + "/olly-capture", "--preload"] + extra + ["--"] + argv, timeout: timeout)
    return (r, Capture(r.out))
}

/// A started background process (a server), stopped by pid.
final class Background {
    let process = Process()
    init(_ argv: [String], env: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        process.environment = e
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    var pid: Int32 { process.processIdentifier }
    func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
    deinit { stop() }
}

/// Waits until a TCP port accepts connections.
func waitForPort(_ port: Int, host: String = "127.0.0.1", seconds: Double = 10) {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let r = try? sh("exec 3<>/dev/tcp/\(host)/\(port)", timeout: 2), r.status == 0 { return }
        usleep(50_000)
    }
}

/// A port the kernel says is free now (bind to port 0).
func freePort() -> Int {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = UInt32(0x7f000001).bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
    return Int(UInt16(bigEndian: a.sin_port))
}

/// The records of a capture, parsed.
struct Capture {
    var records: [[String: Any]] = []
    /// Data records by "cid dir tls".
    var byStream: [String: [[String: Any]]] = [:]
    init(_ data: Data) {
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] { records.append(o) }
        }
        for r in records where r["kind"] as? String == "data" {
            byStream["\(r["cid"] as? Int ?? 0) \(r["dir"] as? String ?? "") \((r["tls"] as? Bool) ?? false)", default: []].append(r)
        }
    }
    func kind(_ k: String) -> [[String: Any]] { records.filter { $0["kind"] as? String == k } }
    var stats: [String: Int] {
        (kind("stats").last?["counters"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
    }
    var conns: [[String: Any]] { kind("conn") }
    func conn(_ cid: Int) -> [String: Any]? { conns.first { ($0["cid"] as? Int) == cid && ($0["ev"] as? String) != "close" } }

    /// Each (cid, dir, tls) stream rebuilt by offset; nil when it has a hole or overlap.
    func stream(cid: Int, dir: String, tls: Bool = false) -> Data? {
        let chunks = (byStream["\(cid) \(dir) \(tls)"] ?? []).sorted { ($0["off"] as? Int ?? 0) < ($1["off"] as? Int ?? 0) }
        var out = Data()
        for c in chunks {
            guard let off = c["off"] as? Int, let len = c["len"] as? Int, off == out.count,
                  let b64 = c["data"] as? String, let d = Data(base64Encoded: b64), d.count == len else { return nil }
            out.append(d)
        }
        return out
    }

    var cids: [Int] { Array(Set(kind("data").compactMap { $0["cid"] as? Int })).sorted() }

    func totalLen(dir: String? = nil) -> Int {
        kind("data").filter { dir == nil || ($0["dir"] as? String) == dir }.reduce(0) { $0 + ($1["len"] as? Int ?? 0) }
    }
}

extension Data {
    var text: String { String(decoding: self, as: UTF8.self) }
}

// The scripts stop the server with `kill $S; wait $S` once the client is done. A hook
// records a call after its syscall returns, so a server killed by SIGTERM's default
// action could die between its last write() (the client already has the bytes) and that
// write's entry: the response was on the wire but never reported (seen under load, the
// body of a response missing on the server side). With a handler, the signal only stops
// serve_forever and the request threads (not daemons) are joined before the exit.
let pythonHTTP = """
import http.server, ssl, sys, socket, signal
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = (("hello from olly " + self.path + "\\n") * 20).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    daemon_threads = False
    block_on_close = True
def stop(*a): raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
s = S((sys.argv[1], int(sys.argv[2])), H)
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
try:
    s.serve_forever()
finally:
    s.server_close()
"""

func writeFile(_ name: String, _ text: String) -> String {
    let p = work + "/" + name
    FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
    return p
}

let python3: String = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"
