import COllySupport
import OllyCLI

/// olly-capture's live mode: the shared settings, then start, run, stop.
public enum LiveCaptureCommand {
    public static func main(options: CaptureOptions, common: CommonOptions, command: String = "olly-capture") -> Int32 {
        olly_install_signal_handlers()
        let diag = Diagnostics(command: command, maxWarnings: 0)
        let settings: Settings
        do throws(ConfigError) {
            settings = try Settings.resolve(common, section: "capture", environment: environment())
        } catch {
            diag.say(error.description)
            return ExitStatus.usage
        }
        let capture = LiveCapture(options: options, settings: settings, command: command)
        do throws(CaptureFailure) {
            try capture.start()
        } catch {
            diag.say(error.message)
            return error.status
        }
        return capture.run()
    }
}
