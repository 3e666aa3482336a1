/// Exit statuses shared by every command (DESIGN §5, sysexits.h).
public enum ExitStatus {
    public static let success: Int32 = 0
    /// Anything else.
    public static let failure: Int32 = 1
    /// Usage error: bad option, bad config file.
    public static let usage: Int32 = 64
    /// Bad input under `--strict`, or input that cannot be framed.
    public static let dataError: Int32 = 65
    /// A needed service or facility is unavailable.
    public static let unavailable: Int32 = 69
    /// I/O error.
    public static let ioError: Int32 = 74
}
