/// RESP2 and RESP3 framing (https://redis.io/docs/latest/develop/reference/protocol-spec/).
/// Values are framed without recursion; nesting deeper than `maxDepth` is invalid.
public enum RESP {
    public static let maxDepth = 64
    /// Longest simple line (type byte to CRLF) and inline command.
    public static let maxLine = 65536
    /// Largest bulk string (Redis' proto-max-bulk-len default is 512 MB).
    public static let maxBulk = 512 << 20
    /// Most elements in one aggregate header.
    public static let maxElements = 1 << 24

    static func isType(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "$"), UInt8(ascii: "*"),
             UInt8(ascii: "_"), UInt8(ascii: ","), UInt8(ascii: "#"), UInt8(ascii: "("), UInt8(ascii: "!"),
             UInt8(ascii: "="), UInt8(ascii: "%"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "|"):
            return true
        default: return false
        }
    }

    /// Frames one RESP value (attributes before it included) at the start of `b`.
    public static func frameValue(_ b: Bytes) -> Frame {
        var i = 0
        var pending = 1
        var stack: [Int] = []
        while true {
            if pending == 0 {
                if let p = stack.popLast() { pending = p; continue }
                return .complete(i)
            }
            guard i < b.count else { return .needMore(atLeast: i + 1, exact: false) }
            let t = b[i]
            guard isType(t) else { return .invalid }
            guard let le = Ascii.lineEnd(b, from: i + 1, limit: maxLine) else {
                return b.count - i > maxLine ? .invalid : .needMore(atLeast: b.count + 1, exact: false)
            }
            guard le > i + 1 || t == UInt8(ascii: "+") || t == UInt8(ascii: "-") || t == UInt8(ascii: "_") else { return .invalid }
            guard b[le - 1] == Ascii.cr, le - 1 >= i + 1 else { return .invalid }
            let s = i + 1, e = le - 1
            switch t {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ","), UInt8(ascii: "("):
                i = le + 1
                pending -= 1
            case UInt8(ascii: ":"):
                guard Ascii.decimal(b, s, e, allowSign: true) != nil || (e - s > 18 && e - s <= 20) else { return .invalid }
                i = le + 1
                pending -= 1
            case UInt8(ascii: "_"):
                guard e == s else { return .invalid }
                i = le + 1
                pending -= 1
            case UInt8(ascii: "#"):
                guard e == s + 1, b[s] == UInt8(ascii: "t") || b[s] == UInt8(ascii: "f") else { return .invalid }
                i = le + 1
                pending -= 1
            case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                guard let n = Ascii.decimal(b, s, e, allowSign: true) else { return .invalid }
                if n == -1 && t == UInt8(ascii: "$") {
                    i = le + 1
                    pending -= 1
                    continue
                }
                guard n >= 0, n <= maxBulk else { return .invalid }
                let end = le + 1 + n + 2
                if b.count < end { return .needMore(atLeast: end, exact: stack.isEmpty && pending == 1) }
                guard b[end - 2] == Ascii.cr, b[end - 1] == Ascii.lf else { return .invalid }
                i = end
                pending -= 1
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                guard let n = Ascii.decimal(b, s, e, allowSign: true) else { return .invalid }
                i = le + 1
                if n == -1 && t == UInt8(ascii: "*") { pending -= 1; continue }
                guard n >= 0, n <= maxElements else { return .invalid }
                let elements = (t == UInt8(ascii: "%") || t == UInt8(ascii: "|")) ? 2 * n : n
                // An attribute is not a value itself: the value it annotates follows it.
                if t != UInt8(ascii: "|") { pending -= 1 }
                if elements > 0 {
                    stack.append(pending)
                    pending = elements
                    if stack.count > maxDepth { return .invalid }
                }
            default:
                return .invalid
            }
        }
    }

    /// Frames a command: a RESP array, or an inline command line.
    public static func frameCommand(_ b: Bytes) -> Frame {
        guard !b.isEmpty else { return .needMore(atLeast: 1, exact: false) }
        if b[0] == Ascii.cr || b[0] == Ascii.lf {
            var k = 0
            while k < b.count && (b[k] == Ascii.cr || b[k] == Ascii.lf) { k += 1 }
            return .skip(k)
        }
        if b[0] == UInt8(ascii: "*") { return frameValue(b) }
        guard let le = Ascii.lineEnd(b, from: 0, limit: maxLine) else {
            return b.count > maxLine ? .invalid : .needMore(atLeast: b.count + 1, exact: false)
        }
        for k in 0..<le where b[k] != Ascii.cr && b[k] != Ascii.tab && (b[k] < 32 || b[k] > 126) { return .invalid }
        return .complete(le + 1)
    }

    /// The bytes of a simple or bulk string value at `i`, and the index after it.
    static func stringAt(_ b: Bytes, _ i: Int) -> (Range<Int>, Int)? {
        guard i < b.count, let le = Ascii.lineEnd(b, from: i + 1, limit: maxLine), le > i + 1 else { return nil }
        switch b[i] {
        case UInt8(ascii: "+"):
            return ((i + 1)..<(le - 1), le + 1)
        case UInt8(ascii: "$"):
            guard let n = Ascii.decimal(b, i + 1, le - 1), le + 1 + n + 2 <= b.count else { return nil }
            return ((le + 1)..<(le + 1 + n), le + 1 + n + 2)
        default:
            return nil
        }
    }

    /// A framed value's type byte, aggregate length, first element (as a lowercased
    /// string) and, when it is an integer, its third element.
    public struct Shape: Equatable, Sendable {
        public var type: UInt8 = 0
        public var count = 0
        public var first: String?
        public var third: Int?
    }

    public static func shape(_ data: [UInt8]) -> Shape {
        data.withUnsafeBufferPointer { b in
            var sh = Shape()
            guard !b.isEmpty, let le = Ascii.lineEnd(b, from: 1, limit: maxLine), le > 1 else { return sh }
            sh.type = b[0]
            guard b[0] == UInt8(ascii: "*") || b[0] == UInt8(ascii: ">") else { return sh }
            sh.count = Ascii.decimal(b, 1, le - 1) ?? 0
            guard sh.count > 0, let (r, next) = stringAt(b, le + 1) else { return sh }
            sh.first = String(decoding: b[r].map(Ascii.lower), as: UTF8.self)
            guard sh.count >= 3, let (_, n3) = stringAt(b, next), n3 < b.count, b[n3] == UInt8(ascii: ":"),
                  let le3 = Ascii.lineEnd(b, from: n3 + 1, limit: 64), le3 > n3 + 1 else { return sh }
            sh.third = Ascii.decimal(b, n3 + 1, le3 - 1, allowSign: true)
            return sh
        }
    }

    /// A command's name (uppercased) and its number of arguments.
    public static func command(_ data: [UInt8]) -> (String, Int)? {
        data.withUnsafeBufferPointer { b -> (String, Int)? in
            guard !b.isEmpty else { return nil }
            if b[0] == UInt8(ascii: "*") {
                guard let le = Ascii.lineEnd(b, from: 1, limit: maxLine), le > 1,
                      let n = Ascii.decimal(b, 1, le - 1), n > 0, let (r, _) = stringAt(b, le + 1) else { return nil }
                return (String(decoding: b[r].map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self), n - 1)
            }
            let words = b.split(whereSeparator: { $0 == Ascii.sp || $0 == Ascii.tab || $0 == Ascii.cr || $0 == Ascii.lf })
            guard let w = words.first else { return nil }
            return (String(decoding: w.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }, as: UTF8.self), words.count - 1)
        }
    }

    /// A line start at or after `from` where a value (or a command) may begin.
    public static func boundary(_ b: Bytes, from: Int, command: Bool) -> Int? {
        var i = from
        while i < b.count {
            if i == from || b[i - 1] == Ascii.lf {
                if command ? b[i] == UInt8(ascii: "*") : isType(b[i]) { return i }
            }
            i += 1
        }
        return nil
    }
}
