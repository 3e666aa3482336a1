import ArgumentParser
import OllyCLI

@main
struct OllyReassemble: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-reassemble",
        abstract: "Turn captured byte streams into framed request/response exchanges.",
        discussion: """
        PLUMBING ONLY in this build: protocol framing is not implemented yet, so every valid record (conn, data and all others) is validated and copied to stdout unchanged.

        Bad input records are reported on stderr as 'olly-reassemble: FILE:LINE: ...', counted and skipped (--strict stops with status 65). A stats record is written at exit. Exit status: 0 success (also when stdout is closed), 64 usage or config error, 65 bad input under --strict, 74 I/O error, 1 anything else. See olly-reassemble(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions
    @OptionGroup var input: InputFiles

    func run() throws {
        let status = StageRunner.main(command: "olly-reassemble", section: "reassemble", common: common,
                                      inputs: Input.from(files: input.files), stage: PassThroughStage())
        throw ExitCode(status)
    }
}
