import ArgumentParser
import OllyCLI

@main
struct OllyParse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-parse",
        abstract: "Turn exchanges into OpenTelemetry spans.",
        discussion: """
        PLUMBING ONLY in this build: span building is not implemented yet, so every valid record is validated and copied to stdout unchanged.

        Bad input records are reported on stderr as 'olly-parse: FILE:LINE: ...', counted and skipped (--strict stops with status 65). A stats record is written at exit. Exit status: 0 success (also when stdout is closed), 64 usage or config error, 65 bad input under --strict, 74 I/O error, 1 anything else. See olly-parse(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions
    @OptionGroup var input: InputFiles

    func run() throws {
        let status = StageRunner.main(command: "olly-parse", section: "parse", common: common,
                                      inputs: Input.from(files: input.files), stage: PassThroughStage())
        throw ExitCode(status)
    }
}
