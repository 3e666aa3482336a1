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

    /// The command's arguments: a RESP array of bulk strings, or an inline command line.
    static func arguments(_ b: [UInt8]) -> [String]? {
        var r = ByteReader(b)
        guard let first = b.first else { return nil }
        if first != UInt8(ascii: "*") {
            // Inline command: words up to CRLF.
            let line = b.prefix { $0 != 13 && $0 != 10 }
            return String(decoding: line, as: UTF8.self).split(separator: " ").map(String.init)
        }
        func line() -> String? {
            let start = r.i
            while r.i + 1 < b.count && !(b[r.i] == 13 && b[r.i + 1] == 10) { r.i += 1 }
            guard r.i + 1 < b.count else { return nil }
            defer { r.i += 2 }
            return String(decoding: b[start..<r.i], as: UTF8.self)
        }
        _ = r.u8()
        guard let n = line().flatMap({ Int($0) }), n >= 0 else { return nil }
        var args: [String] = []
        for _ in 0..<min(n, 1 << 16) {
            guard let t = r.u8(), t == UInt8(ascii: "$"), let len = line().flatMap({ Int($0) }), len >= 0 else { break }
            // A value cut short by capture is kept as far as it goes.
            let take = min(len, r.remaining)
            args.append(String(decoding: r.bytes(take) ?? [], as: UTF8.self))
            if take < len { break }
            r.i += 2
        }
        return args
    }

    static func parse(_ c: ExchangeContext, _ st: inout RedisState) -> SpanDraft {
        let args = c.req.flatMap { arguments($0.data) } ?? []
        let cmd = args.first?.uppercased()
        var d = SpanDraft(name: cmd ?? "redis")
        d.malformed = c.req != nil && cmd == nil
        d.set("db.system.name", "redis")
        d.set("db.namespace", String(st.database))
        d.set("db.operation.name", cmd)
        if let cmd {
            var text = [cmd]
            let rest = args.dropFirst()
            if credentials.contains(cmd) {
                text += rest.map { _ in "?" }
            } else if !c.redact {
                text += rest
            } else if keyless.contains(cmd) {
                text += rest.map { _ in "?" }
            } else {
                text += rest.prefix(1) + rest.dropFirst().map { _ in "?" }
            }
            d.set("db.query.text", text.joined(separator: " "))
        }
        addPeer(&d, c)
        if let r = c.resp?.data, let t = r.first, t == UInt8(ascii: "-") || t == UInt8(ascii: "!") {
            let msg = String(decoding: r.dropFirst().prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
            d.error = true
            d.statusMessage = msg
            let prefix = msg.split(separator: " ").first.map(String.init) ?? "ERR"
            d.set("db.response.status_code", prefix)
            d.set("error.type", prefix)
        } else if cmd == "SELECT", args.count > 1, let n = Int(args[1]), c.resp?.data.first == UInt8(ascii: "+") {
            st.database = n
        }
        return d
    }
}
