/// Small byte-level helpers shared by the protocol parsers (no Foundation).
struct ByteReader {
    let b: [UInt8]
    var i: Int

    init(_ b: [UInt8], at i: Int = 0) {
        self.b = b
        self.i = i
    }

    var remaining: Int { b.count - i }
    var atEnd: Bool { i >= b.count }

    mutating func u8() -> UInt8? {
        guard i < b.count else { return nil }
        defer { i += 1 }
        return b[i]
    }

    mutating func u16be() -> Int? {
        guard remaining >= 2 else { return nil }
        defer { i += 2 }
        return Int(b[i]) << 8 | Int(b[i + 1])
    }

    mutating func u32be() -> Int? {
        guard remaining >= 4 else { return nil }
        defer { i += 4 }
        return Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
    }

    mutating func u32le() -> Int? {
        guard remaining >= 4 else { return nil }
        defer { i += 4 }
        return Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
    }

    /// A NUL-terminated string.
    mutating func cString() -> String? {
        var j = i
        while j < b.count && b[j] != 0 { j += 1 }
        guard j < b.count else { return nil }
        defer { i = j + 1 }
        return String(decoding: b[i..<j], as: UTF8.self)
    }

    mutating func bytes(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, remaining >= n else { return nil }
        defer { i += n }
        return b[i..<(i + n)]
    }
}

extension Array where Element == UInt8 {
    /// Index of the first "\r\n\r\n", or nil.
    func headEnd(from start: Int = 0) -> Int? {
        var i = start
        while i + 3 < count {
            if self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }
}

func lowercasedASCII(_ s: Substring) -> String {
    String(decoding: s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
}

/// "host:port" or "[v6]:port" split into host and port.
func splitHostPort(_ s: String) -> (String, Int?) {
    if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
        let host = String(s[s.index(after: s.startIndex)..<close])
        let rest = s[s.index(after: close)...]
        return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
    }
    if let colon = s.lastIndex(of: ":"), s.firstIndex(of: ":") == colon {
        return (String(s[..<colon]), Int(s[s.index(after: colon)...]))
    }
    return (s, nil)
}
