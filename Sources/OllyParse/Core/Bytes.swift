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

/// "host:port" or "[v6]:port" split into host and port (on bytes, without a copy).
func splitHostPort(_ s: String) -> (String, Int?) {
    var s = s
    return s.withUTF8 { u -> (String, Int?) in
        func port(_ from: Int) -> Int? {
            guard from < u.count, u.count - from <= 5 else { return nil }
            var v = 0
            for k in from..<u.count {
                let c = u[k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        if u.first == 91, let close = u.firstIndex(of: 93) { // [v6]:port
            let host = String(decoding: UnsafeBufferPointer(rebasing: u[1..<close]), as: UTF8.self)
            return (host, close + 1 < u.count && u[close + 1] == 58 ? port(close + 2) : nil)
        }
        if let colon = u.lastIndex(of: 58), u.firstIndex(of: 58) == colon {
            return (String(decoding: UnsafeBufferPointer(rebasing: u[..<colon]), as: UTF8.self), port(colon + 1))
        }
        return (String(decoding: u, as: UTF8.self), nil)
    }
}
