import OllyNDJSON
import Testing

/// JSONWriter.writeString skips eight bytes at a time while none needs escaping: every
/// special byte at every position of strings around and past that width must come out
/// escaped exactly as the one-byte-at-a-time definition says.
@Suite struct JSONStringTests {
    /// The definition: RFC 8259 escapes for '"', '\\' and the control characters.
    static func reference(_ s: String) -> [UInt8] {
        var out: [UInt8] = [34]
        for c in s.utf8 {
            switch c {
            case 34: out += Array("\\\"".utf8)
            case 92: out += Array("\\\\".utf8)
            case 10: out += Array("\\n".utf8)
            case 13: out += Array("\\r".utf8)
            case 9: out += Array("\\t".utf8)
            case 8: out += Array("\\b".utf8)
            case 12: out += Array("\\f".utf8)
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 0xF)]]
            default: out.append(c)
            }
        }
        out.append(34)
        return out
    }

    static func written(_ s: String) -> [UInt8] {
        let out = OutputBuffer(capacity: 16)
        JSONWriter.writeString(s, to: out)
        return out.bytes
    }

    @Test(arguments: ["\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", " ", "!", "#", "[", "]", "é", "😀"])
    func everySpecialAtEveryPosition(special: String) {
        for length in 0...24 {
            for at in 0...length {
                let s = String(repeating: "a", count: at) + special + String(repeating: "b", count: length - at)
                #expect(Self.written(s) == Self.reference(s), "\(length) \(at)")
            }
        }
    }

    /// Bytes just around the three special classes in every lane (0x1f/0x20, 0x21/0x22/0x23,
    /// 0x5b/0x5c/0x5d), and high bytes that must not be mistaken for them.
    @Test func lanesAroundTheSpecialBytes() {
        let pool: [Unicode.Scalar] = ["\u{1f}", " ", "!", "\"", "#", "[", "\\", "]", "\u{7f}", "\u{a2}", "\u{dc}"]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            var s = ""
            for _ in 0..<Int(seed % 40) {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                s.unicodeScalars.append(pool[Int(seed >> 59) % pool.count])
            }
            seed = seed &* 6_364_136_223_846_793_005 &+ 1
            #expect(Self.written(s) == Self.reference(s), "\(Array(s.utf8))")
        }
    }
}
