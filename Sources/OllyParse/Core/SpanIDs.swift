/// Deterministic span and trace IDs (DESIGN §3): derived from where the exchange was seen,
/// never from a random generator, so the same input gives the same spans.
enum SpanIDs {
    /// FNV-1a, 64-bit.
    static func fnv(_ parts: [Int64], seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325 ^ seed
        for p in parts {
            var v = UInt64(bitPattern: p)
            for _ in 0..<8 {
                h ^= v & 0xFF
                h = h &* 0x100000001b3
                v >>= 8
            }
        }
        // Final avalanche (splitmix64) so near inputs give far IDs.
        h = (h ^ (h >> 30)) &* 0xbf58476d1ce4e5b9
        h = (h ^ (h >> 27)) &* 0x94d049bb133111eb
        h ^= h >> 31
        return h == 0 ? 1 : h
    }

    static func hex(_ v: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { out in
            var x = v
            for i in (0..<16).reversed() {
                let d = UInt8(truncatingIfNeeded: x & 0xF)
                out[i] = d < 10 ? 48 + d : 87 + d
                x >>= 4
            }
            return 16
        }
    }

    static func spanID(_ parts: [Int64]) -> String { hex(fnv(parts, seed: 0x5350414E)) }
    static func traceID(_ parts: [Int64]) -> String { hex(fnv(parts, seed: 0x54524331)) + hex(fnv(parts, seed: 0x54524332)) }
}

/// W3C trace context (https://www.w3.org/TR/trace-context/#traceparent-header).
struct TraceParent: Equatable {
    var traceID: String
    var parentID: String
    var flags: String

    /// `00-<32 hex>-<16 hex>-<2 hex>` (a future version may append `-…`); all-zero IDs
    /// and version ff are invalid.
    init?(_ s: String) {
        let u = Array(s.trimmingSpaces().utf8)
        guard u.count >= 55, u[2] == 45, u[35] == 45, u[52] == 45, u.count == 55 || u[55] == 45,
              !(u[0] == 102 && u[1] == 102) else { return nil }
        for (i, c) in u[0..<55].enumerated() where i != 2 && i != 35 && i != 52 {
            guard isLowerHex(c) else { return nil }
        }
        guard u[3..<35].contains(where: { $0 != 48 }), u[36..<52].contains(where: { $0 != 48 }) else { return nil }
        traceID = String(decoding: u[3..<35], as: UTF8.self)
        parentID = String(decoding: u[36..<52], as: UTF8.self)
        flags = String(decoding: u[53..<55], as: UTF8.self)
    }
}

func isLowerHex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 102) }

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
