import ArgumentParser
import OllyCLI
import OllyExport

@main
struct OllyExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-export",
        abstract: "Send spans, logs and metrics as OTLP, to files or to the terminal.",
        discussion: """
        Span, log and metric records go to every --to destination: OTLP over gRPC or HTTP (protobuf or JSON), rotating files or stdout (one OTLP JSON request per line), or a trace tree. Requests are batched, retried with backoff, kept in --spool while a receiver is down, and delivered or spooled at the end of input and on SIGINT/SIGTERM. Stats records are forwarded as metrics and passed on; other records pass through. Without a destination every record passes through.

        Bad input records are reported on stderr as 'olly-export: FILE:LINE: ...', counted and skipped (--strict stops with status 65). A stats record is written at exit. Exit status: 0 success (also when stdout is closed), 64 usage or config error, 65 bad input under --strict, 69 a destination cannot be set up, 74 I/O error, 1 anything else. See olly-export(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions
    @OptionGroup var export: ExportOptions
    @OptionGroup var input: InputFiles

    func run() throws {
        throw ExitCode(runExport(common: common, options: export, files: input.files))
    }
}
