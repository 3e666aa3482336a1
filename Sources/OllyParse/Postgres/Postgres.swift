import OllyNDJSON

/// PostgreSQL frontend/backend protocol 3.0
/// (https://www.postgresql.org/docs/current/protocol-message-formats.html).
/// State that spans exchanges — the database, prepared statements and portals — is kept
/// per connection.
struct PostgresState {
    var database: String?
    var user: String?
    var statements: [String: String] = [:]
    var portals: [String: String] = [:]
}

enum PostgresParser {
    /// Bounds on per-connection state (hostile or leaking clients).
    static let maxStatements = 4096

    /// Returns nil for exchanges that are connection setup (startup, SSL/GSS requests,
    /// authentication): they update the state but make no span.
    static func parse(_ c: ExchangeContext, _ st: inout PostgresState) -> SpanDraft? {
        guard let req = c.req else {
            // A response without its request (capture started mid-connection).
            var d = dbDraft(c, system: "postgresql", namespace: st.database, query: nil, summary: "postgresql")
            applyResponse(&d, c.resp, c)
            return d
        }
        let b = req.data
        var r = ByteReader(b)
        // Startup-phase messages have no type byte: int32 length, int32 code.
        if b.count >= 8, b[0] == 0 {
            var h = ByteReader(b)
            let len = h.u32be() ?? 0
            let code = h.u32be() ?? 0
            if code == 196608 { // protocol 3.0 startup
                var params: [String: String] = [:]
                while h.i < min(len, b.count), let k = h.cString(), !k.isEmpty, let v = h.cString() { params[k] = v }
                st.user = params["user"]
                st.database = params["database"] ?? params["user"]
                return nil
            }
            if code == 80877103 || code == 80877104 || code == 80877102 { return nil } // SSL, GSSENC, cancel
        }
        var query: String?
        var unknown = false
        var sawQueryMessage = false
        while let type = r.u8() {
            guard let len = r.u32be(), len >= 4 else { unknown = true; break }
            let body = r.bytes(len - 4) ?? b[r.i...]
            if len - 4 > body.count { r.i = b.count }
            var m = ByteReader(Array(body))
            switch type {
            case UInt8(ascii: "Q"):
                sawQueryMessage = true
                query = m.cString() ?? String(decoding: body, as: UTF8.self)
            case UInt8(ascii: "P"):
                sawQueryMessage = true
                let name = m.cString() ?? ""
                let sql = m.cString() ?? String(decoding: body.dropFirst(name.utf8.count + 1), as: UTF8.self)
                if st.statements.count >= maxStatements { st.statements.removeAll() }
                st.statements[name] = sql
                query = sql
            case UInt8(ascii: "B"):
                sawQueryMessage = true
                let portal = m.cString() ?? ""
                let stmt = m.cString() ?? ""
                if let sql = st.statements[stmt] {
                    if st.portals.count >= maxStatements { st.portals.removeAll() }
                    st.portals[portal] = sql
                    query = query ?? sql
                }
            case UInt8(ascii: "E"):
                sawQueryMessage = true
                let portal = m.cString() ?? ""
                if query == nil { query = st.portals[portal] }
            case UInt8(ascii: "C"):
                // Close: 'S' statement or 'P' portal, then its name.
                let kind = m.u8()
                let name = m.cString() ?? ""
                if kind == UInt8(ascii: "S") { st.statements[name] = nil } else { st.portals[name] = nil }
            case UInt8(ascii: "p"):
                return nil // password / SASL response: authentication, never reported
            case UInt8(ascii: "D"), UInt8(ascii: "S"), UInt8(ascii: "H"), UInt8(ascii: "d"), UInt8(ascii: "c"), UInt8(ascii: "f"):
                break // Describe, Sync, Flush, CopyData/Done/Fail
            case UInt8(ascii: "X"):
                return nil // Terminate
            case UInt8(ascii: "F"):
                sawQueryMessage = true // function call
            default:
                unknown = true
            }
        }
        var d = dbDraft(c, system: "postgresql", namespace: st.database, query: query, summary: "postgresql")
        d.malformed = unknown || !sawQueryMessage
        applyResponse(&d, c.resp, c)
        return d
    }

    /// ErrorResponse → error status with SQLSTATE; CommandComplete → returned rows.
    static func applyResponse(_ d: inout SpanDraft, _ resp: ExchangeMessage?, _ c: ExchangeContext) {
        guard let resp else { return }
        var r = ByteReader(resp.data)
        var rows: Int?
        while let type = r.u8() {
            guard let len = r.u32be(), len >= 4, let body = r.bytes(len - 4) else { break }
            if type == UInt8(ascii: "E") {
                var m = ByteReader(Array(body))
                var code: String?
                var message: String?
                while let f = m.u8(), f != 0, let v = m.cString() {
                    if f == UInt8(ascii: "C") { code = v }
                    if f == UInt8(ascii: "M") { message = v }
                }
                d.error = true
                d.statusMessage = message
                d.set("db.response.status_code", code)
                d.set("error.type", code ?? "error")
            } else if type == UInt8(ascii: "C") {
                // CommandComplete: "SELECT 3", "FETCH 3", "COPY 3" (the last word is the count).
                let tag = body.prefix { $0 != 0 }
                if tag.endIndex < body.endIndex, // NUL-terminated
                   tag.starts(with: "SELECT".utf8) || tag.starts(with: "FETCH".utf8) || tag.starts(with: "COPY".utf8),
                   let space = tag.lastIndex(of: 32), let n = Int(String(decoding: tag[(space + 1)...], as: UTF8.self)) {
                    rows = (rows ?? 0) + n
                }
            }
        }
        d.set("db.response.returned_rows", rows)
    }
}
