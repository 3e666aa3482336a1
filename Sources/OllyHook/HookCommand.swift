import OllyCLI
import OllyNDJSON

/// `olly-capture --preload -- CMD…` / `--attach PID`: the whole life of a hook capture.
public enum HookCommand {
    public static func main(options: HookOptions, common: CommonOptions, command: String = "olly-capture") -> Int32 {
        let diag = Diagnostics(command: command, maxWarnings: 0)
        let settings: Settings
        do throws(ConfigError) {
            settings = try Settings.resolve(common, section: "capture", environment: environmentDictionary())
        } catch {
            diag.say(error.description)
            return ExitStatus.usage
        }
        let capture = HookCapture(options: options, settings: settings, command: command)
        do throws(HookFailure) {
            return try capture.run()
        } catch {
            diag.say(error.message)
            return error.status
        }
    }

    static func environmentDictionary() -> [String: String] {
        var d: [String: String] = [:]
        if let f = getenvString("OLLY_FORMAT") { d["OLLY_FORMAT"] = f }
        return d
    }
}
