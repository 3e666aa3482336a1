import ArgumentParser
import OllyNDJSON

extension RecordFormat: ExpressibleByArgument {}

/// Options every command has (DESIGN §5). Each can also be set in the config file, under
/// `common:` or the command's own section, by the same name; the command line wins.
public struct CommonOptions: ParsableArguments {
    @Flag(help: "Stop at the first bad input record with exit status 65 instead of skipping it.")
    public var strict = false

    @Flag(name: [.customShort("u"), .long], help: "Flush every record as it is written (the default when stdout is a terminal).")
    public var unbuffered = false

    @Option(help: "Output format: ndjson or bin. Input format is detected. (default: $OLLY_FORMAT, else ndjson)")
    public var format: RecordFormat?

    @Option(help: ArgumentHelp("Read options from this YAML file; the whole file is validated at start.", valueName: "file"))
    public var config: String?

    @Option(name: .customLong("max-record-bytes"), help: ArgumentHelp("Longest input record (NDJSON line or binary frame) accepted. (default: 67108864)", valueName: "bytes"))
    public var maxRecordBytes: Int?

    @Option(name: .customLong("max-warnings"), help: ArgumentHelp("Print at most this many bad-record warnings; all are counted in stats. (default: 100)", valueName: "n"))
    public var maxWarnings: Int?

    @Option(name: .customLong("stats-every"), help: ArgumentHelp("Also write a stats record after every N input records; 0 means only at exit. (default: 0)", valueName: "n"))
    public var statsEvery: Int?

    public init() {}

    public func validate() throws {
        if let m = maxRecordBytes, m < 1024 || m > 1 << 31 { throw ValidationError("--max-record-bytes must be between 1024 and 2147483648") }
        if let m = maxWarnings, m < 0 || m > Int(Int32.max) { throw ValidationError("--max-warnings must be between 0 and 2147483647") }
        if let m = statsEvery, m < 0 { throw ValidationError("--stats-every must not be negative") }
    }
}

/// Input files of a stage command.
public struct InputFiles: ParsableArguments {
    @Argument(help: ArgumentHelp("Input files, read in order (default: standard input; - is standard input).", valueName: "file"))
    public var files: [String] = []

    public init() {}
}

/// Options after merging the command line, the environment, the config file and defaults.
public struct Settings: Sendable {
    public var strict = false
    public var unbuffered = false
    public var format: RecordFormat = .ndjson
    public var maxRecordBytes = 64 << 20
    public var maxWarnings = 100
    public var statsEvery = 0
    public var config = Config.empty

    /// Merges (command line > environment > config section > config common > default).
    public static func resolve(_ o: CommonOptions, section: String, environment: [String: String]) throws(ConfigError) -> Settings {
        var s = Settings()
        if let path = o.config { s.config = try Config.load(path: path) }
        let c = s.config
        s.strict = o.strict || (c.bool(section, "strict") ?? false)
        s.unbuffered = o.unbuffered || (c.bool(section, "unbuffered") ?? false)
        if let f = o.format {
            s.format = f
        } else if let env = environment["OLLY_FORMAT"], !env.isEmpty {
            guard let f = RecordFormat(rawValue: env) else {
                throw ConfigError(description: "OLLY_FORMAT=\(env): expected ndjson or bin")
            }
            s.format = f
        } else if let f = c.string(section, "format").flatMap(RecordFormat.init(rawValue:)) {
            s.format = f
        }
        s.maxRecordBytes = o.maxRecordBytes ?? c.int(section, "max-record-bytes").map(Int.init) ?? s.maxRecordBytes
        s.maxWarnings = o.maxWarnings ?? c.int(section, "max-warnings").map(Int.init) ?? s.maxWarnings
        s.statsEvery = o.statsEvery ?? c.int(section, "stats-every").map(Int.init) ?? s.statsEvery
        return s
    }
}
