/// SQL text handling for `db.query.text`, `db.operation.name` and `db.collection.name`.
enum SQLText {
    /// Replaces literals with `?`: quoted strings ('…' with '' escapes, E'…' with
    /// backslash escapes, $tag$…$tag$), numbers that are not part of a name, and
    /// hexadecimal/bit strings (X'…', B'…'). Comments, names ("quoted" or `backticked`),
    /// keywords and placeholders ($1, ?) are kept. Unterminated literals are replaced to
    /// the end, so nothing of a literal cut short by capture leaks.
    static func normalize(_ sql: String) -> String {
        let s = Array(sql.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        func isIdent(_ c: UInt8) -> Bool {
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c >= 0x80 || c == 36
        }
        func skipQuoted(_ q: UInt8, backslash: Bool) {
            i += 1
            while i < s.count {
                if backslash && s[i] == 92 { i += 2; continue }
                if s[i] == q {
                    if i + 1 < s.count && s[i + 1] == q { i += 2; continue }
                    i += 1
                    return
                }
                i += 1
            }
        }
        while i < s.count {
            let c = s[i]
            let prevIdent = !out.isEmpty && isIdent(out[out.count - 1])
            switch c {
            case 39: // '
                let escaped = out.last.map { $0 == 69 || $0 == 101 } ?? false && (out.count < 2 || !isIdent(out[out.count - 2]))
                if escaped || ((out.last == 88 || out.last == 120 || out.last == 66 || out.last == 98) && (out.count < 2 || !isIdent(out[out.count - 2]))) {
                    out.removeLast() // the E / X / B prefix belongs to the literal
                }
                skipQuoted(39, backslash: escaped)
                out.append(63)
            case 34, 96: // "name", `name`
                let start = i
                skipQuoted(c, backslash: false)
                out.append(contentsOf: s[start..<min(i, s.count)])
            case 45 where i + 1 < s.count && s[i + 1] == 45: // -- comment
                let start = i
                while i < s.count && s[i] != 10 { i += 1 }
                out.append(contentsOf: s[start..<i])
            case 47 where i + 1 < s.count && s[i + 1] == 42: // /* comment */
                let start = i
                i += 2
                while i + 1 < s.count && !(s[i] == 42 && s[i + 1] == 47) { i += 1 }
                i = min(i + 2, s.count)
                out.append(contentsOf: s[start..<i])
            case 36 where !prevIdent: // $1 placeholder or $tag$ quote
                var j = i + 1
                while j < s.count && isIdent(s[j]) && s[j] != 36 { j += 1 }
                if j < s.count && s[j] == 36 {
                    let tag = Array(s[i...j])
                    var k = j + 1
                    var found = false
                    while k + tag.count <= s.count {
                        if Array(s[k..<(k + tag.count)]) == tag { found = true; break }
                        k += 1
                    }
                    i = found ? k + tag.count : s.count
                    out.append(63)
                } else {
                    out.append(contentsOf: s[i..<j])
                    i = j
                }
            case 48...57 where !prevIdent,
                 46 where !prevIdent && i + 1 < s.count && s[i + 1] >= 48 && s[i + 1] <= 57:
                // A number: digits, fraction, exponent, or 0x… hex.
                if c == 48, i + 1 < s.count, s[i + 1] == 120 || s[i + 1] == 88 {
                    i += 2
                    while i < s.count && isIdent(s[i]) { i += 1 }
                } else {
                    while i < s.count && ((s[i] >= 48 && s[i] <= 57) || s[i] == 46) { i += 1 }
                    if i < s.count && (s[i] == 101 || s[i] == 69) {
                        var j = i + 1
                        if j < s.count && (s[j] == 43 || s[j] == 45) { j += 1 }
                        if j < s.count && s[j] >= 48 && s[j] <= 57 {
                            i = j
                            while i < s.count && s[i] >= 48 && s[i] <= 57 { i += 1 }
                        }
                    }
                }
                out.append(63)
            default:
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The first words of the statement (letters, digits, `_ . " \``), and `( , ;` as words
    /// of their own; at most 64. Works on bytes (ASCII case folding only).
    static func words(_ sql: String) -> [Substring] {
        var ws: [Substring] = []
        let u = sql.utf8
        var cur: String.Index? = nil
        var idx = u.startIndex
        while idx < u.endIndex && ws.count < 64 {
            let c = u[idx]
            let word = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c == 46
                || c == 34 || c == 96 || c >= 0x80
            if word {
                if cur == nil { cur = idx }
            } else {
                if let s = cur { ws.append(Substring(sql[s..<idx])); cur = nil }
                if c == 40 || c == 44 || c == 59 { ws.append(Substring(sql[idx..<u.index(after: idx)])) }
            }
            idx = u.index(after: idx)
        }
        if let s = cur, ws.count < 64 { ws.append(Substring(sql[s..<idx])) }
        return ws
    }

    /// The operation (first keyword, upper-cased) and the one table the statement names,
    /// if exactly one: SELECT … FROM t, INSERT INTO t, UPDATE t, DELETE FROM t, and
    /// the DDL forms CREATE/DROP/ALTER/TRUNCATE TABLE t.
    static func operationAndCollection(_ sql: String) -> (String?, String?) {
        let ws = words(stripLeadingComments(sql))
        guard let first = ws.first else { return (nil, nil) }
        let op = upper(first)
        guard op.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else { return (nil, nil) }
        func up(_ i: Int) -> String? { i < ws.count ? upper(ws[i]) : nil }
        func table(at i: Int) -> String? {
            guard i < ws.count, ws[i] != "(" else { return nil }
            // Another table after a comma or a JOIN means more than one.
            for w in ws[(i + 1)...] {
                let uw = upper(w)
                if stops.contains(uw) { break }
                if w == "," || uw == "JOIN" { return nil }
            }
            return unquote(ws[i])
        }
        var coll: String?
        switch op {
        case "SELECT":
            if let f = ws.firstIndex(where: { $0.utf8.count == 4 && upper($0) == "FROM" }) { coll = table(at: f + 1) }
        case "INSERT", "REPLACE": if up(1) == "INTO" { coll = table(at: 2) }
        case "UPDATE": coll = table(at: 1)
        case "DELETE": if up(1) == "FROM" { coll = table(at: 2) }
        case "CREATE", "DROP", "ALTER", "TRUNCATE":
            var i = 1
            if up(i) == "TABLE" { i += 1 } else if op != "TRUNCATE" { break }
            if up(i) == "IF" { i += up(i + 1) == "NOT" ? 3 : 2 }
            coll = table(at: i)
        default: break
        }
        return (op, coll)
    }

    /// Words that end a table reference.
    static let stops: Set<String> = ["WHERE", "GROUP", "ORDER", "LIMIT", "SET", "VALUES", "RETURNING", "ON", ";", "HAVING", "UNION", "("]

    /// ASCII upper-casing.
    static func upper(_ s: Substring) -> String {
        String(decoding: s.utf8.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self)
    }

    static func unquote(_ s: Substring) -> String {
        String(s.filter { $0 != "\"" && $0 != "`" })
    }

    static func stripLeadingComments(_ s: String) -> String {
        var t = Substring(s)
        while true {
            t = t.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
            if t.hasPrefix("--") {
                t = t.drop { $0 != "\n" }
            } else if t.hasPrefix("/*"), let e = t.range(of: "*/") {
                t = t[e.upperBound...]
            } else {
                return String(t)
            }
        }
    }
}
