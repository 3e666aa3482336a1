import ArgumentParser
import OllyCLI
import OllyParse
#if canImport(Glibc)
import Glibc
#endif

@main
struct OllyParseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-parse",
        abstract: "Turn exchanges into OpenTelemetry spans.",
        discussion: """
        Reads exchange records (from olly-reassemble) and writes one span record per exchange, with OpenTelemetry semantic-convention attributes: HTTP/1.x, HTTP/2 and gRPC (from decoded headers), PostgreSQL and MySQL (prepared statements resolved per connection), Redis, MongoDB and DNS. proc records give the spans' resources and pass on, like every other record. SQL literals and Redis arguments are replaced by ? unless --no-redact; credentials are never reported.

        Bad input records are reported on stderr as 'olly-parse: FILE:LINE: ...', counted and skipped (--strict stops with status 65). A stats record is written at exit. Exit status: 0 success (also when stdout is closed), 64 usage or config error, 65 bad input under --strict, 74 I/O error, 1 anything else. See olly-parse(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions
    @OptionGroup var input: InputFiles

    @Flag(name: .customLong("no-redact"), help: "Report SQL literals and Redis arguments as captured instead of replacing them by ?. Credentials stay redacted.")
    var noRedact = false

    @Option(name: .customLong("host-name"), help: ArgumentHelp("host.name of the spans' resources. (default: this machine's host name)", valueName: "name"))
    var hostName: String?

    func run() throws {
        let status = StageRunner.main(command: "olly-parse", section: "parse", common: common,
                                      inputs: Input.from(files: input.files)) { settings in
            var options = ParseOptions()
            options.redact = !(noRedact || (settings.config.bool("parse", "no-redact") ?? false))
            options.hostName = hostName ?? settings.config.string("parse", "host-name") ?? Self.systemHostName()
            return ParseStage(options: options)
        }
        throw ExitCode(status)
    }

    static func systemHostName() -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return nil }
        return String(cString: buf)
    }
}
