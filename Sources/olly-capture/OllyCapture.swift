import ArgumentParser
import OllyCLI

@main
struct OllyCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "olly-capture",
        abstract: "See what processes send and receive, as proc, conn and data records.",
        discussion: """
        In this build olly-capture replays a recorded capture (--replay FILE): every record is validated and written to stdout, so the rest of the pipeline can run on saved traffic. Live capture (eBPF, or the LD_PRELOAD hook) is NOT part of this build yet; without --replay the command says so and exits with status 69.

        Exit status: 0 success (also when stdout is closed), 64 usage or config error, 65 bad input under --strict, 69 live capture unavailable, 74 I/O error. See olly-capture(1).
        """,
        version: ollyVersion)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Replay a recorded capture (NDJSON or binary; - for stdin) instead of capturing live.", valueName: "file"))
    var replay: String?

    func run() throws {
        var replay = self.replay
        if let path = common.config {
            // Validate the config first (exit 64 on a mistake); it may name the recording.
            do throws(ConfigError) {
                let c = try Config.load(path: path)
                if replay == nil { replay = c.string("capture", "replay") }
            } catch {
                Diagnostics(command: "olly-capture", maxWarnings: 0).say(error.description)
                throw ExitCode(ExitStatus.usage)
            }
        }
        guard let replay else {
            Diagnostics(command: "olly-capture", maxWarnings: 0).say(
                "live capture is not available in this build; replay a recorded capture with --replay FILE")
            throw ExitCode(ExitStatus.unavailable)
        }
        let status = StageRunner.main(command: "olly-capture", section: "capture", common: common,
                                      inputs: Input.from(files: [replay]), stage: PassThroughStage())
        throw ExitCode(status)
    }
}
