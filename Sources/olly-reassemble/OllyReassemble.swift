import ArgumentParser
import OllyCLI
import OllyNDJSON
import OllyReassembly

@main
struct OllyReassemble: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-reassemble",
        abstract: "Turn captured byte streams into framed request/response exchanges.",
        discussion: """
        Consumes conn and data records: puts each connection's bytes in stream order, detects its protocol from content (the server port only breaks ties), frames requests and responses and writes them as exchange records. Framed: HTTP/1.x, HTTP/2 and gRPC (prior knowledge or TLS plaintext; HPACK decoded; one exchange per stream, written when the stream completes), Redis (RESP2/RESP3), DNS (UDP and TCP), PostgreSQL, MySQL, MongoDB. Other protocols become proto "unknown" exchanges (a request is what one side sends until the other side speaks). Missing bytes are gaps: flagged, counted, and framing resynchronises at the next message boundary. Every other record kind passes through unchanged.

        Bad input records are reported on stderr as 'olly-reassemble: FILE:LINE: ...', counted and skipped (--strict stops with status 65). A stats record with the engine's counters is written at exit. Exit status: 0 success (also when stdout is closed), 64 usage or config error, 65 bad input under --strict, 74 I/O error, 1 anything else. See olly-reassemble(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions
    @OptionGroup var options: ReassembleOptions
    @OptionGroup var input: InputFiles

    func run() throws {
        let limits: Limits, overrides: [Int: Proto]
        do {
            let settings = try Settings.resolve(common, section: "reassemble", environment: environment())
            (limits, overrides) = try options.resolve(settings.config)
        } catch {
            Diagnostics(command: "olly-reassemble", maxWarnings: 0).say("\(error)")
            throw ExitCode(ExitStatus.usage)
        }
        let stage = ReassembleStage(engine: Reassembler(limits: limits, overrides: overrides))
        let status = StageRunner.main(command: "olly-reassemble", section: "reassemble", common: common,
                                      inputs: Input.from(files: input.files), stage: stage)
        throw ExitCode(status)
    }
}

struct ReassembleOptions: ParsableArguments {
    @Option(name: .customLong("proto"), help: ArgumentHelp("Frame connections with this server port as this protocol (http1, http2, grpc, redis, dns, postgres, mysql, mongodb, unknown), whatever their content; repeatable.", valueName: "port=name"))
    var proto: [String] = []

    @Option(name: .customLong("max-buffer-bytes"), help: ArgumentHelp("Bytes buffered per connection before the message in progress is cut. (default: 16777216)", valueName: "bytes"))
    var maxBufferBytes: Int?

    @Option(name: .customLong("max-pending"), help: ArgumentHelp("Requests waiting for a response per connection; the oldest is flushed past it. (default: 1024)", valueName: "n"))
    var maxPending: Int?

    @Option(name: .customLong("max-conns"), help: ArgumentHelp("Connections tracked; the least recently active are flushed past it. (default: 65536)", valueName: "n"))
    var maxConns: Int?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Flush a connection without records for this many seconds of record time. (default: 300)", valueName: "seconds"))
    var idleTimeout: Int?

    @Option(name: .customLong("reorder-window"), help: ArgumentHelp("Out-of-order records held per direction before missing bytes become a gap. (default: 64)", valueName: "n"))
    var reorderWindow: Int?

    @Option(name: .customLong("max-stream-bytes"), help: ArgumentHelp("HTTP/2: data bytes kept per stream and direction; len still counts them all. (default: 4194304)", valueName: "bytes"))
    var maxStreamBytes: Int?

    func validate() throws {
        for p in proto where parseProtoOverride(p) == nil {
            throw ValidationError("--proto \(p): expected PORT=NAME with a port 1-65535 and a protocol (http1, http2, grpc, postgres, mysql, redis, mongodb, dns, unknown)")
        }
        if let v = maxBufferBytes, v < 4096 || v > 1 << 32 { throw ValidationError("--max-buffer-bytes must be between 4096 and 4294967296") }
        if let v = maxPending, v < 1 || v > 1 << 20 { throw ValidationError("--max-pending must be between 1 and 1048576") }
        if let v = maxConns, v < 1 || v > 1 << 24 { throw ValidationError("--max-conns must be between 1 and 16777216") }
        if let v = idleTimeout, v < 1 || v > 1 << 31 { throw ValidationError("--idle-timeout must be between 1 and 2147483648") }
        if let v = reorderWindow, v < 0 || v > 1 << 16 { throw ValidationError("--reorder-window must be between 0 and 65536") }
        if let v = maxStreamBytes, v < 0 || v > 1 << 32 { throw ValidationError("--max-stream-bytes must be between 0 and 4294967296") }
    }

    /// Command line over the config file's `reassemble:` (then `common:`) keys over defaults.
    func resolve(_ c: Config) throws(UsageError) -> (Limits, [Int: Proto]) {
        var l = Limits()
        l.maxBufferBytes = maxBufferBytes ?? c.int("reassemble", "max-buffer-bytes").map(Int.init) ?? l.maxBufferBytes
        l.maxPending = maxPending ?? c.int("reassemble", "max-pending").map(Int.init) ?? l.maxPending
        l.maxConns = maxConns ?? c.int("reassemble", "max-conns").map(Int.init) ?? l.maxConns
        l.idleTimeout = Int64(idleTimeout ?? c.int("reassemble", "idle-timeout").map(Int.init) ?? 300) * 1_000_000_000
        l.reorderWindow = reorderWindow ?? c.int("reassemble", "reorder-window").map(Int.init) ?? l.reorderWindow
        l.maxStreamBytes = maxStreamBytes ?? c.int("reassemble", "max-stream-bytes").map(Int.init) ?? l.maxStreamBytes
        var o: [Int: Proto] = [:]
        if let s = c.string("reassemble", "proto") {
            for item in s.split(separator: ",") {
                let t = String(item.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
                guard let (p, proto) = parseProtoOverride(t) else {
                    throw UsageError(description: "\(c.path): reassemble.proto: \"\(t)\" is not PORT=NAME (comma-separated)")
                }
                o[p] = proto
            }
        }
        for p in proto { if let (port, name) = parseProtoOverride(p) { o[port] = name } }
        return (l, o)
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
}

/// The engine as a pipeline stage: conn and data records are consumed, exchanges written
/// as they complete; everything else passes through.
struct ReassembleStage: Stage {
    var engine: Reassembler
    var made: [Record] = []

    mutating func process(_ record: Record, out: RecordWriter) throws(WriteFailure) -> Disposition {
        guard engine.process(record, &made) else { return .passThrough }
        for r in made { try out.write(r) }
        made.removeAll(keepingCapacity: true)
        return .consumed
    }

    mutating func finish(out: RecordWriter) throws(WriteFailure) {
        engine.finish(&made)
        for r in made { try out.write(r) }
        made.removeAll()
    }

    var counters: [(String, Int64)] { engine.counters.list }
}
