import Foundation

/// Where the built commands are: $OLLY_BIN_DIR (set by `make test`), else beside the test bundle.
let binDir: String = {
    if let d = ProcessInfo.processInfo.environment["OLLY_BIN_DIR"], !d.isEmpty { return d }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("olly-export").path), url.path != "/" {
        url.deleteLastPathComponent()
    }
    return url.path
}()

let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

let fixturePath = "\(packageRoot)/Tests/Fixtures/export/records.ndjson"

func tempDir() -> String {
    let d = NSTemporaryDirectory() + "olly-export-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

struct TestError: Error, CustomStringConvertible { let description: String }

/// The test OTLP receiver (Tests/Receivers/otlp_receiver.py), decoding with the official
/// opentelemetry-proto classes.
final class Receiver {
    let process = Process()
    let out: String
    var grpcPort = 0
    var httpPort = 0

    init(mode: String = "ok", grpcPort: Int = 0, httpPort: Int = 0, dir: String = tempDir(), countOnly: Bool = false, tls: SelfSigned? = nil) throws {
        out = dir + "/received-\(UUID().uuidString).jsonl"
        let ready = dir + "/ready-\(UUID().uuidString).json"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "\(packageRoot)/Tests/Receivers/otlp_receiver.py", "--out", out, "--ready", ready,
                             "--mode", mode, "--grpc-port", String(grpcPort), "--http-port", String(httpPort)]
            + (countOnly ? ["--count-only"] : []) + (tls.map { ["--tls-cert", $0.cert, "--tls-key", $0.key] } ?? [])
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let d = FileManager.default.contents(atPath: ready),
               let j = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
                self.grpcPort = j["grpc"] as? Int ?? 0
                self.httpPort = j["http"] as? Int ?? 0
                return
            }
            if !process.isRunning { throw TestError(description: "receiver exited: is python3 -m pip install grpcio opentelemetry-proto done?") }
            usleep(50_000)
        }
        throw TestError(description: "receiver did not start")
    }

    /// Stops the receiver (it writes its counts on SIGTERM).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { usleep(20_000) }
    }

    deinit { stop() }

    /// Every line written so far.
    var lines: [[String: Any]] {
        guard let d = FileManager.default.contents(atPath: out) else { return [] }
        return String(decoding: d, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    var requests: [[String: Any]] { lines.filter { $0["request"] != nil } }

    /// The count line written at exit.
    var counts: [String: Any]? { lines.last { $0["counts"] != nil } }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// The counters of olly-export's final stats record.
    var counters: [String: Int] {
        for line in stdout.split(separator: "\n").reversed() where line.contains("\"stage\":\"olly-export\"") {
            if let j = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
               let c = j["counters"] as? [String: Int] { return c }
        }
        return [:]
    }
}

/// A running olly-export whose stdin the test feeds (from one thread at a time).
final class ExportProcess: @unchecked Sendable {
    let process = Process()
    let stdin = Pipe()
    let outPath: String
    let errPath: String

    init(_ args: [String], env: [String: String] = [:]) throws {
        let d = tempDir()
        outPath = d + "/stdout"
        errPath = d + "/stderr"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "\(binDir)/olly-export")
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for k in environment.keys where k.hasPrefix("OTEL_") || k == "OLLY_FORMAT" { environment.removeValue(forKey: k) }
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        process.standardInput = stdin
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
    }

    func write(_ s: String) { stdin.fileHandleForWriting.write(Data(s.utf8)) }
    func closeInput() { try? stdin.fileHandleForWriting.close() }

    func wait(timeout: Double = 120) throws -> RunResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            throw TestError(description: "olly-export did not end within \(timeout)s")
        }
        let out = String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self)
        let err = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
        return RunResult(status: process.terminationStatus, stdout: out, stderr: err)
    }
}

/// Runs olly-export over `input` to completion.
func runExport(_ args: [String], input: String, env: [String: String] = [:], timeout: Double = 120) throws -> RunResult {
    let p = try ExportProcess(args, env: env)
    p.write(input)
    p.closeInput()
    return try p.wait(timeout: timeout)
}

/// `n` realistic server spans in `traces` traces, one service.
func spans(_ n: Int, from: Int = 0) -> String {
    var s = ""
    for i in from..<(from + n) {
        let trace = String(format: "%016llx%016llx", 0xabcdef00 + UInt64(i / 4), UInt64(i / 4))
        let span = String(format: "%016llx", UInt64(i + 1))
        let start = 1_763_700_000_000_000_000 + Int64(i) * 1_000_000
        s += #"{"kind":"span","trace_id":"\#(trace)","span_id":"\#(span)","name":"GET /items/{id}","span_kind":"server","start":\#(start),"end":\#(start + 250_000),"status":"unset","attrs":{"http.request.method":"GET","url.path":"/items/\#(i)","http.response.status_code":200,"server.port":8080},"resource":{"service.name":"shop"}}"#
        s += "\n"
    }
    return s
}

/// Span IDs of every span the receiver got.
func receivedSpanIDs(_ r: Receiver) -> [String] {
    var ids: [String] = []
    for req in r.requests where req["signal"] as? String == "traces" {
        let body = req["request"] as? [String: Any] ?? [:]
        for rs in body["resourceSpans"] as? [[String: Any]] ?? [] {
            for ss in rs["scopeSpans"] as? [[String: Any]] ?? [] {
                for sp in ss["spans"] as? [[String: Any]] ?? [] { ids.append(sp["spanId"] as? String ?? "") }
            }
        }
    }
    return ids
}
