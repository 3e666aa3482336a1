/// HTTP/1.x message framing, RFC 9112. Works on bytes; every outcome says how much of the
/// buffer it covers (see `Frame`).
public enum HTTP1 {
    /// Longest header block accepted (request or status line and fields).
    public static let maxHead = 65536
    /// Longest chunk-size line or trailer line accepted.
    static let maxLine = 8192

    static let methods: [StaticString] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                                          "PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK",
                                          "UNLOCK", "REPORT", "SEARCH", "PURGE"]

    /// What the request this response answers asks for (it changes the response's length).
    public struct RequestKind: Sendable, Equatable {
        public var head = false
        public var connect = false
        public init(head: Bool = false, connect: Bool = false) { self.head = head; self.connect = connect }
    }

    /// The parts of a header block framing needs.
    struct Head {
        var end = 0            // index after the blank line
        var status = 0         // responses
        var contentLength: Int?
        var chunked = false
        var badLength = false
        var http10 = false
        var connectionClose = false
    }

    enum HeadResult {
        case head(Head)
        case needMore
        case invalid
    }

    /// Whether a known method followed by a space starts `b` at `i`; `.needMore` when the
    /// bytes there are a strict prefix of one.
    static func methodAt(_ b: Bytes, _ i: Int) -> Detection {
        let avail = b.count - i
        var prefixOfOne = false
        for m in methods {
            let n = m.utf8CodeUnitCount
            let p = m.utf8Start
            var k = 0
            while k < n && k < avail && b[i + k] == p[k] { k += 1 }
            if k == n {
                if avail > n { if b[i + n] == Ascii.sp { return .yes(requestDir: .out, datagram: false) } }
                else { prefixOfOne = true }
            } else if k == avail {
                prefixOfOne = true
            }
        }
        return prefixOfOne ? .needMore : .no
    }

    static func statusLineAt(_ b: Bytes, _ i: Int) -> Detection {
        let lit: StaticString = "HTTP/1."
        let avail = b.count - i
        let p = lit.utf8Start
        for k in 0..<min(avail, 7) where b[i + k] != p[k] { return .no }
        if avail < 13 { return .needMore }
        guard Ascii.isDigit(b[i + 7]), b[i + 8] == Ascii.sp, Ascii.isDigit(b[i + 9]), Ascii.isDigit(b[i + 10]),
              Ascii.isDigit(b[i + 11]) else { return .no }
        return .yes(requestDir: .out, datagram: false)
    }

    /// Parses a request or status line and the header fields starting at `from`.
    static func head(_ b: Bytes, from: Int, response: Bool) -> HeadResult {
        var h = Head()
        guard let first = Ascii.lineEnd(b, from: from, limit: maxHead) else {
            return b.count - from > maxHead ? .invalid : .needMore
        }
        if response {
            guard case .yes = statusLineAt(b, from) else { return .invalid }
            h.status = Int(b[from + 9] - 48) * 100 + Int(b[from + 10] - 48) * 10 + Int(b[from + 11] - 48)
            h.http10 = b[from + 7] == 48
            if from + 12 < first && b[from + 12] != Ascii.sp && b[from + 12] != Ascii.cr { return .invalid }
        } else {
            var i = from
            while i < first && Ascii.isTokenChar(b[i]) { i += 1 }
            guard i > from, i - from <= 32, i + 1 < first, b[i] == Ascii.sp, b[i + 1] != Ascii.sp else { return .invalid }
            // ... SP request-target SP HTTP/1.x
            var e = first
            if e > from && b[e - 1] == Ascii.cr { e -= 1 }
            guard e - i >= 10, Ascii.hasPrefix(b, at: e - 9, " HTTP/1."), Ascii.isDigit(b[e - 1]) else { return .invalid }
            h.http10 = b[e - 1] == 48
        }
        var line = first + 1
        while true {
            guard let le = Ascii.lineEnd(b, from: line, limit: maxHead) else {
                return b.count - from > maxHead ? .invalid : .needMore
            }
            if le - from > maxHead { return .invalid }
            var e = le
            if e > line && b[e - 1] == Ascii.cr { e -= 1 }
            if e == line {
                h.end = le + 1
                return .head(h)
            }
            var colon = line
            while colon < e && b[colon] != Ascii.colon { colon += 1 }
            guard colon < e, colon > line, b[line] != Ascii.sp, b[line] != Ascii.tab else { return .invalid }
            if Ascii.equalsLower(b, line, colon, "content-length") {
                // Equal repeated values (a list "5, 5") are one length; differing ones are an error.
                var values: [Int] = []
                var s = colon + 1
                for i in (colon + 1)...e where i == e || b[i] == 44 {
                    guard let v = Ascii.decimal(b, s, i) else { h.badLength = true; break }
                    values.append(v)
                    s = i + 1
                }
                if let v = values.first, values.allSatisfy({ $0 == v }), !h.badLength {
                    if let old = h.contentLength, old != v { h.badLength = true }
                    h.contentLength = v
                } else {
                    h.badLength = true
                }
            } else if Ascii.equalsLower(b, line, colon, "transfer-encoding") {
                if Ascii.hasToken(b, colon + 1, e, "chunked") { h.chunked = true }
            } else if Ascii.equalsLower(b, line, colon, "connection") {
                if Ascii.hasToken(b, colon + 1, e, "close") { h.connectionClose = true }
            }
            line = le + 1
        }
    }

    /// Frames a chunked body (RFC 9112 §7.1) starting at `from`, trailers included.
    static func chunked(_ b: Bytes, from: Int) -> Frame {
        var i = from
        while true {
            guard let le = Ascii.lineEnd(b, from: i, limit: maxLine) else {
                return b.count - i > maxLine ? .invalid : .needMore(atLeast: b.count + 1, exact: false)
            }
            var size = 0
            var digits = 0
            var k = i
            while k < le, let d = hexValue(b[k]) {
                size = size << 4 | d
                digits += 1
                k += 1
                if digits > 15 { return .invalid }
            }
            guard digits > 0 else { return .invalid }
            // Then optional whitespace, chunk extensions (";..."), CR.
            if k < le && b[k] != 59 && b[k] != Ascii.cr && b[k] != Ascii.sp && b[k] != Ascii.tab { return .invalid }
            i = le + 1
            if size == 0 {
                while true {
                    guard let te = Ascii.lineEnd(b, from: i, limit: maxLine) else {
                        return b.count - i > maxLine ? .invalid : .needMore(atLeast: b.count + 1, exact: false)
                    }
                    if te == i || (te == i + 1 && b[i] == Ascii.cr) { return .complete(te + 1) }
                    i = te + 1
                }
            }
            let dataEnd = i + size
            if b.count < dataEnd + 2 { return .needMore(atLeast: dataEnd + 2, exact: true) }
            if b[dataEnd] == Ascii.cr && b[dataEnd + 1] == Ascii.lf {
                i = dataEnd + 2
            } else if b[dataEnd] == Ascii.lf {
                i = dataEnd + 1
            } else {
                return .invalid
            }
        }
    }

    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 65...70: return Int(c - 55)
        case 97...102: return Int(c - 87)
        default: return nil
        }
    }

    /// Whether `b` holds an empty line (LF LF or LF CR LF) that starts at or after `from`
    /// (the LF before it may come earlier): without one, no head in `b` is complete.
    static func hasBlankLine(_ b: Bytes, from: Int) -> Bool {
        var i = max(from, 1)
        while i < b.count {
            if b[i] == Ascii.lf {
                if b[i - 1] == Ascii.lf || (i >= 2 && b[i - 1] == Ascii.cr && b[i - 2] == Ascii.lf) { return true }
            }
            i += 1
        }
        return false
    }

    /// Frames the request at the start of `b`.
    public static func frameRequest(_ b: Bytes) -> Frame {
        var blank = 0
        while blank < b.count && (b[blank] == Ascii.cr || b[blank] == Ascii.lf) { blank += 1 }
        if blank > 0 { return .skip(blank) }
        if b.isEmpty { return .needMore(atLeast: 1, exact: false) }
        if case .no = methodAt(b, 0), !isToken(b) { return .invalid }
        switch head(b, from: 0, response: false) {
        case .needMore: return .needMore(atLeast: b.count + 1, exact: false)
        case .invalid: return .invalid
        case .head(let h):
            if h.chunked { return chunked(b, from: h.end) }
            if h.badLength { return .invalid }
            return body(b, h.end, h.contentLength ?? 0)
        }
    }

    static func isToken(_ b: Bytes) -> Bool {
        var i = 0
        while i < b.count && Ascii.isTokenChar(b[i]) { i += 1 }
        return i > 0 && (i == b.count || b[i] == Ascii.sp)
    }

    static func body(_ b: Bytes, _ start: Int, _ length: Int) -> Frame {
        let (total, overflow) = start.addingReportingOverflow(length)
        if overflow || length < 0 { return .invalid }
        return b.count >= total ? .complete(total) : .needMore(atLeast: total, exact: true)
    }

    /// Frames the response at the start of `b`, answering a request of `kind` (nil when
    /// unknown). Interim 1xx responses (not 101) are framed together with the final one.
    public static func frameResponse(_ b: Bytes, answering kind: RequestKind?) -> Frame {
        var from = 0
        while true {
            switch head(b, from: from, response: true) {
            case .needMore: return .needMore(atLeast: b.count + 1, exact: false)
            case .invalid: return .invalid
            case .head(let h):
                if h.status >= 100 && h.status < 200 && h.status != 101 {
                    from = h.end
                    if from >= b.count { return .needMore(atLeast: b.count + 1, exact: false) }
                    continue
                }
                if h.status == 101 || h.status == 204 || h.status == 304 || kind?.head == true
                    || (kind?.connect == true && h.status / 100 == 2) {
                    return .complete(h.end)
                }
                if h.chunked { return chunked(b, from: h.end) }
                if let cl = h.contentLength, !h.badLength { return body(b, h.end, cl) }
                if h.badLength { return .invalid }
                return .untilClose
            }
        }
    }

    /// The final status of a framed response (after interim 1xx ones), or nil.
    public static func finalStatus(_ data: [UInt8]) -> Int? {
        data.withUnsafeBufferPointer { b in
            var from = 0
            while case .head(let h) = head(b, from: from, response: true) {
                if h.status >= 100 && h.status < 200 && h.status != 101 && h.end < b.count { from = h.end; continue }
                return h.status
            }
            return nil
        }
    }

    /// The kind of a framed request, from its method.
    public static func kind(_ data: [UInt8]) -> RequestKind {
        data.withUnsafeBufferPointer { b in
            RequestKind(head: Ascii.hasPrefix(b, at: 0, "HEAD "), connect: Ascii.hasPrefix(b, at: 0, "CONNECT "))
        }
    }

    /// A line start at or after `from` where a request (or response) line may begin.
    public static func boundary(_ b: Bytes, from: Int, response: Bool) -> Int? {
        var i = from
        while i < b.count {
            if i == from || b[i - 1] == Ascii.lf {
                switch response ? statusLineAt(b, i) : methodAt(b, i) {
                case .yes, .needMore: return i
                default: break
                }
            }
            i += 1
        }
        return nil
    }
}
