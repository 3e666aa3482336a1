import Testing
@testable import OllyNDJSON

/// A plain reference implementation (RFC 4648 §4), independent of the table/SIMD code.
func referenceBase64(_ b: [UInt8]) -> String {
    let a = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var s = ""
    var i = 0
    while i < b.count {
        let n = min(3, b.count - i)
        var v = 0
        for j in 0..<3 { v = v << 8 | (j < n ? Int(b[i + j]) : 0) }
        for j in 0..<4 { s.append(j <= n ? a[(v >> (18 - 6 * j)) & 63] : "=") }
        i += 3
    }
    return s
}

@Suite struct Base64Tests {
    @Test func rfc4648Vectors() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                       ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, enc) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == enc)
            #expect(Base64.decode(enc) == Array(plain.utf8))
        }
    }

    /// Every length across the vector loop's boundaries, random bytes, both directions.
    @Test func matchesReferenceAtEveryLength() {
        var seed: UInt64 = 42
        for len in 0...260 {
            let bytes = (0..<len).map { _ -> UInt8 in seed = seed &* 6364136223846793005 &+ 1; return UInt8(truncatingIfNeeded: seed >> 33) }
            let ref = referenceBase64(bytes)
            #expect(Base64.encode(bytes) == ref, "length \(len)")
            #expect(Base64.decode(ref) == bytes, "length \(len)")
        }
    }

    /// An invalid character anywhere (vector part or tail) is found at its exact offset.
    @Test func invalidCharacterAtEveryPosition() {
        let valid = Array(referenceBase64(Array(0..<120)).utf8) // 160 characters
        for bad: UInt8 in [UInt8(ascii: "$"), UInt8(ascii: "\\"), 0x00, 0x80, 0xFF, UInt8(ascii: "="), UInt8(ascii: "-"), UInt8(ascii: ":")] {
            for pos in 0..<valid.count {
                var s = valid
                s[pos] = bad
                var err: DecodeError? = nil
                let r = s.withUnsafeBytes { Base64.decode($0, error: &err) }
                if bad == UInt8(ascii: "=") && pos >= valid.count - 2 { continue } // valid padding
                #expect(r == nil, "accepted \(bad) at \(pos)")
                #expect(err?.offset == pos, "byte \(bad) at \(pos): reported \(String(describing: err))")
            }
        }
    }

    @Test func badLengthAndPadding() {
        var err: DecodeError? = nil
        #expect(Array("abc".utf8).withUnsafeBytes { Base64.decode($0, error: &err) } == nil)
        #expect(err?.message.contains("multiple of 4") == true)
        #expect(Base64.decode("A===") == nil)
        #expect(Base64.decode("=AAA") == nil)
        #expect(Base64.decode("AA=A") == nil)
    }
}
