import ArgumentParser
import Foundation
import COllySupport
import OllyCLI

/// The options of olly-export besides the common ones. Each has a key of the same name in
/// the `export:` section of a config file; the command line wins, then the
/// OTEL_EXPORTER_OTLP_* variables, then the config file.
public struct ExportOptions: ParsableArguments {
    @Option(name: .customLong("to"), help: ArgumentHelp("Destination: otlp-grpc://HOST:PORT, otlp-http://HOST:PORT, otlp-http+json://HOST:PORT (otlp-grpcs, otlp-https, otlp-https+json with TLS), file:DIR, stdout or tree. Repeat for several. (default: the $OTEL_EXPORTER_OTLP_[SIGNAL_]ENDPOINT variables, else none: records pass through)", valueName: "dest"))
    public var to: [String] = []

    @Option(help: ArgumentHelp("Request headers for OTLP destinations, key=value,key2=value2. (default: $OTEL_EXPORTER_OTLP_HEADERS)", valueName: "list"))
    public var headers: String?

    @Option(help: ArgumentHelp("Compression of OTLP requests: gzip or none. (default: $OTEL_EXPORTER_OTLP_COMPRESSION, else none)", valueName: "name"))
    public var compression: String?

    @Option(help: ArgumentHelp("Seconds one OTLP request may take. (default: $OTEL_EXPORTER_OTLP_TIMEOUT, else 10)", valueName: "seconds"))
    public var timeout: Int?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("PEM file of the CA certificates that verify TLS receivers (otlp-grpcs, otlp-https), instead of the system's. (default: $OTEL_EXPORTER_OTLP_CERTIFICATE)", valueName: "file"))
    public var caFile: String?

    @Option(name: .customLong("batch-size"), help: ArgumentHelp("Send a request when this many spans, logs or data points wait. (default: 512)", valueName: "n"))
    public var batchSize: Int?

    @Option(name: .customLong("batch-bytes"), help: ArgumentHelp("Send a request when its records reach about this many bytes. (default: 4194304)", valueName: "bytes"))
    public var batchBytes: Int?

    @Option(name: .customLong("batch-delay-ms"), help: ArgumentHelp("Send a request at the latest this long after its first record. (default: 1000)", valueName: "ms"))
    public var batchDelayMS: Int?

    @Option(name: .customLong("retry-max-seconds"), help: ArgumentHelp("Retry a request for this long before it is spooled (or, without --spool, counted lost). (default: 300)", valueName: "seconds"))
    public var retryMaxSeconds: Int?

    @Option(name: .customLong("drain-seconds"), help: ArgumentHelp("At the end of input or on SIGINT/SIGTERM, keep delivering this long; the rest goes to the spool. (default: 10)", valueName: "seconds"))
    public var drainSeconds: Int?

    @Option(help: ArgumentHelp("Keep requests that cannot be delivered in this directory and replay them, in order, when the receiver is back (also in the next run).", valueName: "dir"))
    public var spool: String?

    @Option(name: .customLong("spool-max-bytes"), help: ArgumentHelp("Bound of the spool of each destination; the oldest requests are dropped (and counted) past it. (default: 1073741824)", valueName: "bytes"))
    public var spoolMaxBytes: Int?

    @Option(name: .customLong("file-max-bytes"), help: ArgumentHelp("Start a new file:DIR file when the current one would pass this size. (default: 104857600)", valueName: "bytes"))
    public var fileMaxBytes: Int?

    @Flag(name: .customLong("no-red"), help: "Do not derive rate, error and duration metrics from spans.")
    public var noRed = false

    @Flag(name: .customLong("no-stats-metrics"), help: "Do not forward the counters of stats records as metrics.")
    public var noStatsMetrics = false

    public init() {}

    public func validate() throws {
        for d in to {
            do throws(DestinationError) { _ = try Destination.parse(d) } catch { throw ValidationError("--to \(error.description)") }
        }
        if let c = compression, c != "gzip" && c != "none" { throw ValidationError("--compression must be gzip or none") }
        if let t = timeout, t < 1 || t > 3600 { throw ValidationError("--timeout must be between 1 and 3600") }
        if let n = batchSize, n < 1 || n > 1_000_000 { throw ValidationError("--batch-size must be between 1 and 1000000") }
        if let n = batchBytes, n < 1024 || n > 1 << 30 { throw ValidationError("--batch-bytes must be between 1024 and 1073741824") }
        if let n = batchDelayMS, n < 1 || n > 3_600_000 { throw ValidationError("--batch-delay-ms must be between 1 and 3600000") }
        if let n = retryMaxSeconds, n < 0 || n > 86400 { throw ValidationError("--retry-max-seconds must be between 0 and 86400") }
        if let n = drainSeconds, n < 0 || n > 3600 { throw ValidationError("--drain-seconds must be between 0 and 3600") }
        if let n = spoolMaxBytes, n < 1024 { throw ValidationError("--spool-max-bytes must be at least 1024") }
        if let n = fileMaxBytes, n < 1024 { throw ValidationError("--file-max-bytes must be at least 1024") }
        if let h = headers {
            do throws(DestinationError) { _ = try Destination.parseHeaders(h) } catch { throw ValidationError("--headers: \(error.description)") }
        }
        if let f = caFile, f.isEmpty { throw ValidationError("--ca-file needs a file") }
    }

    /// Merges the command line, the environment and the `export:` config section.
    public func resolve(config c: Config, environment env: [String: String]) throws(ExportConfigError) -> ExportSettings {
        var s = ExportSettings()
        let cli = TargetOptions(headers: headers, timeout: timeout, compression: compression, caFile: caFile)
        let fromConfig = TargetOptions(headers: c.string("export", "headers"), timeout: c.int("export", "timeout").map(Int.init),
                                       compression: c.string("export", "compression"), caFile: c.string("export", "ca-file"))
        do throws(DestinationError) {
            var listed: [Destination] = []
            if !to.isEmpty {
                listed = try to.map { d throws(DestinationError) in try Destination.parse(d) }
            } else if OTLPEnvironment.configured(env) {
                s.targets = try OTLPEnvironment.targets(env, cli: cli, config: fromConfig)
            } else if let list = c.string("export", "to") {
                listed = try list.split(separator: ",").map { d throws(DestinationError) in try Destination.parse(d.trimmingCharacters(in: .whitespaces)) }
            }
            for d in listed {
                var t = Target(destination: d)
                try OTLPEnvironment.apply(cli: cli, env: env, signal: nil, config: fromConfig, to: &t)
                s.targets.append(t)
            }
        } catch {
            throw ExportConfigError(description: error.description)
        }
        for t in s.targets {
            if let f = t.caFile, access(f, R_OK) != 0 {
                throw ExportConfigError(description: "CA file \(f): cannot be read")
            }
        }
        s.batchSize = batchSize ?? c.int("export", "batch-size").map(Int.init) ?? s.batchSize
        s.batchBytes = batchBytes ?? c.int("export", "batch-bytes").map(Int.init) ?? s.batchBytes
        s.batchDelayMS = batchDelayMS ?? c.int("export", "batch-delay-ms").map(Int.init) ?? s.batchDelayMS
        s.policy.maxElapsed = Double(retryMaxSeconds ?? c.int("export", "retry-max-seconds").map(Int.init) ?? 300)
        s.policy.drainSeconds = Double(drainSeconds ?? c.int("export", "drain-seconds").map(Int.init) ?? 10)
        s.spool = spool ?? c.string("export", "spool")
        s.spoolMaxBytes = spoolMaxBytes ?? c.int("export", "spool-max-bytes").map(Int.init) ?? s.spoolMaxBytes
        s.fileMaxBytes = fileMaxBytes ?? c.int("export", "file-max-bytes").map(Int.init) ?? s.fileMaxBytes
        s.red = !(noRed || (c.bool("export", "no-red") ?? false))
        s.statsMetrics = !(noStatsMetrics || (c.bool("export", "no-stats-metrics") ?? false))
        return s
    }
}

/// The whole olly-export command: merges options and runs the export stage.
public func runExport(common: CommonOptions, options: ExportOptions, files: [String]) -> Int32 {
    let env = environment()
    let settings: Settings
    let export: ExportSettings
    do throws(ConfigError) {
        settings = try Settings.resolve(common, section: "export", environment: env)
    } catch {
        Diagnostics(command: "olly-export", maxWarnings: 0).say(error.description)
        return ExitStatus.usage
    }
    do throws(ExportConfigError) {
        export = try options.resolve(config: settings.config, environment: env)
    } catch {
        Diagnostics(command: "olly-export", maxWarnings: 0).say(error.description)
        return ExitStatus.usage
    }
    let stage: ExportStage
    do {
        stage = try ExportStage(settings: export)
    } catch {
        Diagnostics(command: "olly-export", maxWarnings: 0).say("\(error)")
        return ExitStatus.unavailable
    }
    return StageRunner.main(command: "olly-export", section: "export", common: common, inputs: Input.from(files: files), stage: stage)
}

/// A problem with an export setting from the environment or the config file.
public struct ExportConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
