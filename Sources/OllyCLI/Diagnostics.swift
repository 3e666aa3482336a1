#if canImport(Glibc)
import Glibc
#endif

/// Writes diagnostics to stderr as `command: input:line: message`, at most
/// `maxWarnings` of them for bad records (all are counted; a summary comes at exit).
public final class Diagnostics {
    public let command: String
    public let maxWarnings: Int
    public private(set) var warned = 0
    public private(set) var suppressed = 0

    public init(command: String, maxWarnings: Int) {
        self.command = command
        self.maxWarnings = maxWarnings
    }

    /// An unconditional message.
    public func say(_ message: String) {
        var line = "\(command): \(message)\n"
        line.withUTF8 { u in
            var off = 0
            while off < u.count {
                let r = write(2, u.baseAddress! + off, u.count - off)
                if r <= 0 { if r < 0 && errno == EINTR { continue }; return }
                off += r
            }
        }
    }

    /// A bad record, subject to the warning limit.
    public func badRecord(input: String, number: Int, column: Int?, message: String, format: RecordFormatName) {
        if warned >= maxWarnings {
            suppressed += 1
            return
        }
        warned += 1
        say(Self.position(input: input, number: number, column: column, format: format) + message)
    }

    public enum RecordFormatName { case line, frame }

    /// `input:LINE: column C: ` for NDJSON, `input:FRAME: byte B of the frame: ` for binary.
    public static func position(input: String, number: Int, column: Int?, format: RecordFormatName) -> String {
        var s = "\(input):\(number): "
        if let column {
            s += format == .line ? "column \(column): " : "byte \(column - 1) of the frame: "
        }
        return s
    }
}
