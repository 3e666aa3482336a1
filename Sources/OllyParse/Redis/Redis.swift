import OllyNDJSON

/// Redis RESP2/RESP3 commands (https://redis.io/docs/latest/develop/reference/protocol-spec/).
struct RedisState {
    /// The selected database index (SELECT), reported as db.namespace.
    var database = 0
}

enum RedisParser {
    /// Commands whose first argument is not a key.
    static let keyless: Set<String> = ["PING", "ECHO", "INFO", "AUTH", "HELLO", "SELECT", "CLIENT", "CONFIG", "COMMAND",
                                       "DBSIZE", "FLUSHDB", "FLUSHALL", "MULTI", "EXEC", "DISCARD", "QUIT", "RESET",
                                       "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "PUBLISH", "SCRIPT",
                                       "EVAL", "EVALSHA", "SCAN", "TIME", "LASTSAVE", "SAVE", "BGSAVE", "MONITOR",
                                       "SLOWLOG", "ACL", "CLUSTER", "READONLY", "READWRITE", "WAIT", "SWAPDB", "FUNCTION", "FCALL"]
    /// Commands whose arguments are credentials: never reported, whatever --no-redact says.
    static let credentials: Set<String> = ["AUTH", "HELLO", "MIGRATE"]

    /// Where each argument of the command lies in `b` (a RESP array of bulk strings, or an
    /// inline command line) (no string is made until one is needed: most
    /// arguments are redacted).
    static func argumentRanges(_ b: [UInt8]) -> [Range<Int>]? {
        guard let first = b.first else { return nil }
        var args: [Range<Int>] = []
        if first != UInt8(ascii: "*") {
            // Inline command: words up to CRLF, separated by spaces.
            var i = 0, start = -1
            while i < b.count && b[i] != 13 && b[i] != 10 {
                if b[i] == 32 {
                    if start >= 0 { args.append(start..<i); start = -1 }
                } else if start < 0 { start = i }
                i += 1
            }
            if start >= 0 { args.append(start..<i) }
            return args
        }
        var i = 1
        /// A decimal number up to CRLF (RESP lengths), or nil.
        func number() -> Int? {
            var v = 0, digits = 0, neg = false
            if i < b.count && b[i] == UInt8(ascii: "-") { neg = true; i += 1 }
            while i < b.count && b[i] >= 48 && b[i] <= 57 && digits < 18 {
                v = v * 10 + Int(b[i] - 48); i += 1; digits += 1
            }
            guard digits > 0, i + 1 < b.count, b[i] == 13, b[i + 1] == 10 else { return nil }
            i += 2
            return neg ? -v : v
        }
        guard let n = number(), n >= 0 else { return nil }
        args.reserveCapacity(min(n, 64))
        for _ in 0..<min(n, 1 << 16) {
            guard i < b.count, b[i] == UInt8(ascii: "$") else { break }
            i += 1
            guard let len = number(), len >= 0 else { break }
            // A value cut short by capture is kept as far as it goes.
            let take = min(len, b.count - i)
            args.append(i..<(i + take))
            if take < len { break }
            i += take + 2
        }
        return args
    }

    static func parse(_ c: ExchangeContext, _ st: inout RedisState) -> SpanDraft {
        let data = c.req?.data ?? []
        let args = argumentRanges(data) ?? []
        func arg(_ k: Int) -> String { String(decoding: data[args[k]], as: UTF8.self) }
        // Command names are ASCII: upper-cased on bytes (non-ASCII bytes kept as they are).
        let cmd = args.isEmpty ? nil : String(decoding: data[args[0]].map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
        var d = SpanDraft(name: cmd ?? "redis")
        d.malformed = c.req != nil && cmd == nil
        d.set("db.system.name", "redis")
        d.set("db.namespace", String(st.database))
        d.set("db.operation.name", cmd)
        if let cmd {
            var text = cmd
            // Arguments shown as they are: none for credentials and (redacting) keyless
            // commands, the key alone otherwise when redacting, all without redaction.
            let shown = credentials.contains(cmd) ? 0 : !c.redact ? args.count - 1 : keyless.contains(cmd) ? 0 : 1
            for k in 1..<max(args.count, 1) {
                text += k <= shown ? " " + arg(k) : " ?"
            }
            d.set("db.query.text", text)
        }
        addPeer(&d, c)
        if let r = c.resp?.data, let t = r.first, t == UInt8(ascii: "-") || t == UInt8(ascii: "!") {
            let msg = String(decoding: r.dropFirst().prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
            d.error = true
            d.statusMessage = msg
            let prefix = msg.split(separator: " ").first.map(String.init) ?? "ERR"
            d.set("db.response.status_code", prefix)
            d.set("error.type", prefix)
        } else if cmd == "SELECT", args.count > 1, let n = Int(arg(1)), c.resp?.data.first == UInt8(ascii: "+") {
            st.database = n
        }
        return d
    }
}
