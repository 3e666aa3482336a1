/// Socket addresses as record strings: `"127.0.0.1:8080"`, `"[::1]:8080"`,
/// `"[::ffff:127.0.0.1]:8080"` (RFC 5952 text for IPv6).
public enum Address {
    public static func ipv4(_ b: some Collection<UInt8>) -> String {
        b.prefix(4).map { String($0) }.joined(separator: ".")
    }

    public static func ipv6(_ bytes: some Collection<UInt8>) -> String {
        let b = Array(bytes.prefix(16))
        guard b.count == 16 else { return "::" }
        var g = [Int](repeating: 0, count: 8)
        for i in 0..<8 { g[i] = Int(b[2 * i]) << 8 | Int(b[2 * i + 1]) }
        // v4-mapped: ::ffff:a.b.c.d
        if g[0..<5].allSatisfy({ $0 == 0 }) && g[5] == 0xffff {
            return "::ffff:" + ipv4(b[12..<16])
        }
        // The longest run of two or more zero groups becomes "::" (the first, on a tie).
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ r: Range<Int>) -> String { r.map { String(g[$0], radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }

    /// `family` is AF_INET (2) or AF_INET6 (10); nil for anything else.
    public static func string(family: Int, addr: some Collection<UInt8>, port: Int) -> String? {
        switch family {
        case 2: return ipv4(addr) + ":" + String(port)
        case 10: return "[" + ipv6(addr) + "]:" + String(port)
        default: return nil
        }
    }
}
