import ArgumentParser
import OllyCLI

@main
struct OllyExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-export",
        abstract: "Send spans, logs and metrics as OTLP, to files or to the terminal.",
        discussion: """
        PLUMBING ONLY in this build: OTLP destinations are not implemented yet, so every valid record is validated and written to stdout unchanged.

        Bad input records are reported on stderr as 'olly-export: FILE:LINE: ...', counted and skipped (--strict stops with status 65). A stats record is written at exit. Exit status: 0 success (also when stdout is closed), 64 usage or config error, 65 bad input under --strict, 74 I/O error, 1 anything else. See olly-export(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions
    @OptionGroup var input: InputFiles

    func run() throws {
        let status = StageRunner.main(command: "olly-export", section: "export", common: common,
                                      inputs: Input.from(files: input.files), stage: PassThroughStage())
        throw ExitCode(status)
    }
}
