/// Small byte helpers shared by the framers. Everything is bounds-checked by construction.
enum Ascii {
    static let cr: UInt8 = 13, lf: UInt8 = 10, sp: UInt8 = 32, tab: UInt8 = 9, colon: UInt8 = 58

    /// Index of the first `\n` at or after `from`, not looking past `limit` bytes.
    static func lineEnd(_ b: Bytes, from: Int, limit: Int = Int.max) -> Int? {
        var i = from
        let end = min(b.count, from &+ limit)
        while i < end {
            if b[i] == lf { return i }
            i += 1
        }
        return nil
    }

    static func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c + 32 : c }

    /// Case-insensitive comparison of `b[from..<to]` (spaces and tabs trimmed) with a lowercase literal.
    static func equalsLower(_ b: Bytes, _ from: Int, _ to: Int, _ lit: StaticString) -> Bool {
        let (s, e) = trim(b, from, to)
        guard e - s == lit.utf8CodeUnitCount else { return false }
        let p = lit.utf8Start
        for k in 0..<(e - s) where lower(b[s + k]) != p[k] { return false }
        return true
    }

    /// Whether `b[from..<to]` holds `lit` as a case-insensitive comma-separated token.
    static func hasToken(_ b: Bytes, _ from: Int, _ to: Int, _ lit: StaticString) -> Bool {
        var s = from
        var i = from
        while i <= to {
            if i == to || b[i] == 44 {
                if equalsLower(b, s, i, lit) { return true }
                s = i + 1
            }
            i += 1
        }
        return false
    }

    static func trim(_ b: Bytes, _ from: Int, _ to: Int) -> (Int, Int) {
        var s = from, e = to
        while s < e && (b[s] == sp || b[s] == tab || b[s] == cr) { s += 1 }
        while e > s && (b[e - 1] == sp || b[e - 1] == tab || b[e - 1] == cr) { e -= 1 }
        return (s, e)
    }

    /// A decimal integer filling `b[from..<to]` (trimmed), at most 18 digits; nil otherwise.
    static func decimal(_ b: Bytes, _ from: Int, _ to: Int, allowSign: Bool = false) -> Int? {
        var (s, e) = trim(b, from, to)
        var neg = false
        if allowSign && s < e && b[s] == 45 { neg = true; s += 1 }
        guard e > s, e - s <= 18 else { return nil }
        var v = 0
        for i in s..<e {
            let d = Int(b[i]) - 48
            guard d >= 0 && d <= 9 else { return nil }
            v = v * 10 + d
        }
        return neg ? -v : v
    }

    static func hasPrefix(_ b: Bytes, at i: Int, _ lit: StaticString) -> Bool {
        let n = lit.utf8CodeUnitCount
        guard i >= 0, b.count - i >= n else { return false }
        let p = lit.utf8Start
        for k in 0..<n where b[i + k] != p[k] { return false }
        return true
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// RFC 9110 §5.6.2 tchar.
    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: return true
        case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: return true
        default: return false
        }
    }
}
