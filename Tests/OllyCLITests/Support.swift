import Foundation

/// Where the built commands are: $OLLY_BIN_DIR (set by `make test`), else beside the test bundle.
let binDir: String = {
    if let d = ProcessInfo.processInfo.environment["OLLY_BIN_DIR"], !d.isEmpty { return d }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("olly-parse").path), url.path != "/" {
        url.deleteLastPathComponent()
    }
    return url.path
}()

/// The package root (for man/ and samples/).
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

struct RunResult {
    var status: Int32
    var stdout: Data
    var stderr: String
    var out: String { String(decoding: stdout, as: UTF8.self) }
    var lines: [String] { out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
    /// Output lines other than stats records.
    var records: [String] { lines.filter { !$0.hasPrefix("{\"kind\":\"stats\"") } }
}

/// Runs one of the commands with `stdin` and returns everything it wrote.
func run(_ command: String, _ args: [String] = [], stdin: Data = Data(), env: [String: String] = [:]) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: command.hasPrefix("/") ? command : "\(binDir)/\(command)")
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment.removeValue(forKey: "OLLY_FORMAT")
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = errPipe
    try p.run()
    let writer = Thread {
        inPipe.fileHandleForWriting.write(stdin)
        try? inPipe.fileHandleForWriting.close()
    }
    writer.start()
    final class Box: @unchecked Sendable { var data = Data() }
    let err = Box()
    let group = DispatchGroup()
    group.enter()
    let errHandle = errPipe.fileHandleForReading
    DispatchQueue.global().async {
        err.data = errHandle.readDataToEndOfFile()
        group.leave()
    }
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: out, stderr: String(decoding: err.data, as: UTF8.self))
}

/// Runs a shell pipeline (bash) with the commands on PATH.
func shell(_ script: String) throws -> RunResult {
    try run("/bin/bash", ["-c", "set -o pipefail; \(script)"], env: ["PATH": "\(binDir):/usr/bin:/bin"])
}

func data(_ s: String) -> Data { Data(s.utf8) }

func tempFile(_ contents: String, suffix: String = "") -> String {
    let path = NSTemporaryDirectory() + "olly-cli-\(UUID().uuidString)\(suffix)"
    FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
    return path
}

let stageCommands = ["olly-reassemble", "olly-parse", "olly-stitch", "olly-export"]
let allCommands = ["olly-capture"] + stageCommands
let samplePath = "\(packageRoot)/samples/http-keepalive.ndjson"
