import COllySupport
import OllyNDJSON
#if canImport(Glibc)
import Glibc
#endif

/// What a stage does with one input record.
public enum Disposition {
    /// Copy the record to the output unchanged.
    case passThrough
    /// The stage consumed it (and wrote whatever it produces itself).
    case consumed
}

/// One pipeline stage's logic. The runner owns input, output, errors, stats and signals.
public protocol Stage {
    mutating func process(_ record: Record, out: RecordWriter) throws(WriteFailure) -> Disposition
    /// Called once at the end of input (or on SIGINT/SIGTERM) to flush state.
    mutating func finish(out: RecordWriter) throws(WriteFailure)
    /// The stage's own counters for `stats` records.
    var counters: [(String, Int64)] { get }
}

/// A stage that consumes nothing: every valid record is copied to the output. The
/// plumbing of commands whose own features have not landed yet.
public struct PassThroughStage: Stage {
    public init() {}
    public mutating func process(_ record: Record, out: RecordWriter) throws(WriteFailure) -> Disposition { .passThrough }
    public mutating func finish(out: RecordWriter) throws(WriteFailure) {}
    public var counters: [(String, Int64)] { [] }
}

/// Where a stage reads from.
public struct Input: Sendable {
    /// Name in diagnostics (`<stdin>` or the path).
    public var name: String
    /// Path to open, or nil for standard input.
    public var path: String?

    public static let stdin = Input(name: "<stdin>", path: nil)

    public static func from(files: [String]) -> [Input] {
        if files.isEmpty { return [.stdin] }
        return files.map { $0 == "-" ? .stdin : Input(name: $0, path: $0) }
    }
}

/// Runs a stage over its inputs with the shared command behaviour of DESIGN §5 and
/// returns the exit status.
public struct StageRunner<S: Stage> {
    public let command: String
    public var stage: S
    let settings: Settings
    let diag: Diagnostics
    let writer: RecordWriter
    var recordsIn: Int64 = 0
    var badRecords: Int64 = 0
    var bytesIn: Int64 = 0
    /// The reader of the input being read (its bytes are not yet in `bytesIn`).
    var current: RecordReader?
    var lastTS: Int64 = 0
    /// Span resources repeat from record to record: each distinct one is decoded once.
    let decodeCache = DecodeCache()

    public init(command: String, settings: Settings, stage: S, outputFD: Int32 = 1) {
        self.command = command
        self.settings = settings
        self.stage = stage
        self.diag = Diagnostics(command: command, maxWarnings: settings.maxWarnings)
        self.writer = RecordWriter(fd: outputFD, format: settings.format, unbuffered: settings.unbuffered)
    }

    /// Parses options and runs `stage` over `inputs`: the whole life of a stage command.
    public static func main(command: String, section: String, common: CommonOptions, inputs: [Input], stage: S) -> Int32 {
        main(command: command, section: section, common: common, inputs: inputs) { _ in stage }
    }

    /// As above, with the stage built from the merged settings (its own config keys are in
    /// `settings.config`, already validated).
    public static func main(command: String, section: String, common: CommonOptions, inputs: [Input],
                            makeStage: (Settings) -> S) -> Int32 {
        olly_install_signal_handlers()
        // Message buffers of a few hundred KiB come and go for every large response: keep
        // them in the heap instead of mapping fresh zeroed pages for each (measured: about
        // a tenth of olly-reassemble's time went to page faults on a MySQL-heavy capture).
        // What a stage holds stays bounded by its own limits.
        olly_tune_malloc()
        let settings: Settings
        do throws(ConfigError) {
            settings = try Settings.resolve(common, section: section, environment: environment())
        } catch {
            Diagnostics(command: command, maxWarnings: 0).say(error.description)
            return ExitStatus.usage
        }
        var runner = StageRunner(command: command, settings: settings, stage: makeStage(settings))
        return runner.run(inputs)
    }

    enum Stop: Error {
        case status(Int32)
    }

    public mutating func run(_ inputs: [Input]) -> Int32 {
        var status = ExitStatus.success
        do throws(WriteFailure) {
            inputLoop: for input in inputs {
                switch try read(input) {
                case .success: continue
                case .stop(let s):
                    status = s
                    break inputLoop
                }
            }
            try stage.finish(out: writer)
            try writeStats(final: true)
            try writer.flush()
        } catch {
            switch error {
            case .closed:
                return ExitStatus.success // the reader went away: end quietly
            case .io(let e):
                diag.say("error writing output: \(errnoDescription(e))")
                return ExitStatus.ioError
            }
        }
        if badRecords > 0 && !(settings.strict && status == ExitStatus.dataError) {
            var msg = "\(badRecords) bad input record\(badRecords == 1 ? "" : "s") skipped"
            if diag.suppressed > 0 { msg += " (\(diag.suppressed) warnings not shown; see --max-warnings)" }
            diag.say(msg)
        }
        return status
    }

    enum InputResult { case success, stop(Int32) }

    mutating func read(_ input: Input) throws(WriteFailure) -> InputResult {
        var fd: Int32 = 0
        if let path = input.path {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                diag.say("\(path): cannot open: \(errnoDescription(errno))")
                return .stop(ExitStatus.ioError)
            }
        }
        defer { if input.path != nil { close(fd) } }
        let reader = RecordReader(fd: fd, limits: ReaderLimits(maxRecordBytes: settings.maxRecordBytes))
        current = reader
        defer {
            bytesIn += reader.bytesRead
            current = nil
        }
        while true {
            let item: RecordReader.Item?
            do throws(ReadFailure) {
                item = try reader.next()
            } catch {
                switch error {
                case .io(let e):
                    diag.say("\(input.name): read error: \(errnoDescription(e))")
                    return .stop(ExitStatus.ioError)
                case .unframeable(let issue):
                    badRecords += 1
                    diag.say(Diagnostics.position(input: input.name, number: issue.number, column: nil, format: .frame)
                             + "byte \(issue.offset) of the input: " + issue.message)
                    return .stop(ExitStatus.dataError)
                }
            }
            guard let item else { break }
            recordsIn += 1
            switch item {
            case .issue(let issue):
                badRecords += 1
                if try reportBad(input: input.name, number: issue.number, column: nil, message: issue.message,
                                 format: reader.format == .bin ? .frame : .line) {
                    return .stop(ExitStatus.dataError)
                }
            case .record(let raw):
                let decoded: Record?
                do throws(DecodeError) {
                    decoded = try Record.decode(raw.bytes, format: raw.format, cache: decodeCache)
                } catch {
                    decoded = nil
                    badRecords += 1
                    if try reportBad(input: input.name, number: raw.number, column: error.offset + 1,
                                     message: error.description, format: raw.format == .bin ? .frame : .line) {
                        return .stop(ExitStatus.dataError)
                    }
                }
                if let record = decoded {
                    if let ts = record.timestamp, ts > lastTS { lastTS = ts }
                    if try stage.process(record, out: writer) == .passThrough {
                        if raw.format == writer.format {
                            try writer.writeRaw(raw.bytes)
                        } else {
                            try writer.write(record)
                        }
                    }
                }
            }
            if settings.statsEvery > 0 && recordsIn % Int64(settings.statsEvery) == 0 {
                try writeStats(final: false)
            }
            if olly_pending_signal() != 0 { return .stop(ExitStatus.success) }
        }
        if reader.interrupted { return .stop(ExitStatus.success) }
        return .success
    }

    /// Reports a bad record; true when `--strict` says to stop (the report is then never
    /// suppressed by --max-warnings).
    func reportBad(input: String, number: Int, column: Int?, message: String, format: Diagnostics.RecordFormatName) throws(WriteFailure) -> Bool {
        if settings.strict {
            diag.say(Diagnostics.position(input: input, number: number, column: column, format: format) + message)
            return true
        }
        diag.badRecord(input: input, number: number, column: column, message: message, format: format)
        return false
    }

    mutating func writeStats(final: Bool) throws(WriteFailure) {
        var counters: [(String, Int64)] = [
            ("records_in", recordsIn),
            ("records_out", writer.records),
            ("bad_records", badRecords),
            ("bytes_in", bytesIn + (current?.bytesRead ?? 0)),
        ]
        counters.append(contentsOf: stage.counters)
        try writer.write(.stats(StatsRecord(stage: command, ts: lastTS, final: final, counters: counters)))
    }
}

/// The process environment as a dictionary.
public func environment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") {
            env[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        p += 1
    }
    return env
}
