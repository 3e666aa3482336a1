import OllyNDJSON

/// MySQL/MariaDB client/server protocol (https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html).
/// Packets: 3-byte little-endian payload length, 1-byte sequence id, payload.
struct MySQLState {
    var database: String?
    /// Prepared statements by the id the server gave them (COM_STMT_PREPARE → OK).
    var statements: [Int: String] = [:]
}

enum MySQLParser {
    static let comQuit: UInt8 = 0x01, comInitDB: UInt8 = 0x02, comQuery: UInt8 = 0x03, comPing: UInt8 = 0x0E
    static let comStmtPrepare: UInt8 = 0x16, comStmtExecute: UInt8 = 0x17, comStmtClose: UInt8 = 0x19, comStmtReset: UInt8 = 0x1A
    static let clientConnectWithDB = 0x8, clientProtocol41 = 0x200, clientPluginAuthLenenc = 0x200000, clientSecureConnection = 0x8000

    /// Payloads of the packets in `b` (a packet cut short keeps what there is).
    static func packets(_ b: [UInt8], max: Int = 4096) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i + 4 <= b.count && out.count < max {
            let len = Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16
            let end = min(i + 4 + len, b.count)
            out.append(Array(b[(i + 4)..<end]))
            i += 4 + len
        }
        return out
    }

    /// HandshakeResponse41 from the client: capabilities, max packet, charset, 23 filler
    /// bytes (MariaDB keeps its extended capabilities in the last 4), user, auth response,
    /// and the database when CLIENT_CONNECT_WITH_DB is set.
    static func handshakeDatabase(_ p: [UInt8]) -> String?? {
        var r = ByteReader(p)
        guard let caps = r.u32le(), caps & clientProtocol41 != 0, r.u32le() != nil, r.u8() != nil,
              let filler = r.bytes(23), filler.prefix(19).allSatisfy({ $0 == 0 }), r.cString() != nil else { return nil }
        if caps & clientPluginAuthLenenc != 0 {
            guard let n = r.u8(), n < 0xFB, r.bytes(Int(n)) != nil else { return .some(nil) }
        } else if caps & clientSecureConnection != 0 {
            guard let n = r.u8(), r.bytes(Int(n)) != nil else { return .some(nil) }
        } else {
            _ = r.cString()
        }
        if caps & clientConnectWithDB != 0, let db = r.cString() { return .some(db) }
        return .some(nil)
    }

    static func parse(_ c: ExchangeContext, _ st: inout MySQLState) -> SpanDraft? {
        // Only the first packet of each side is read (the command; OK, ERR or the first
        // packet of a result set): a result set's rows are not copied out.
        let reqPackets = c.req.map { packets($0.data, max: 1) } ?? []
        let respPackets = c.resp.map { packets($0.data, max: 1) } ?? []
        guard let first = reqPackets.first, let cmd = first.first else {
            if c.req == nil, respPackets.first?.first == 0x0A { return nil } // server greeting alone
            var d = dbDraft(c, system: "mysql", namespace: st.database, query: nil, summary: "mysql")
            d.malformed = c.req != nil
            applyResponse(&d, respPackets)
            return d
        }
        // A command has sequence id 0. The client's handshake response (sequence id 1 after
        // the greeting, 2 after TLS) or its SSLRequest: setup, no span.
        if let req = c.req, req.data.count >= 4, req.data[3] != 0 {
            if let db = handshakeDatabase(first), let db { st.database = db }
            return nil
        }
        if first.count >= 32, let db = handshakeDatabase(first) {
            if let db { st.database = db }
            return nil
        }
        var query: String?
        switch cmd {
        case comQuery:
            query = String(decoding: first.dropFirst(), as: UTF8.self)
            // USE db: the namespace of this span and of the next ones, once the server said OK.
            if let db = useDatabase(first.dropFirst()) {
                if respPackets.first?.first == 0 { st.database = db }
                var d = dbDraft(c, system: "mysql", namespace: db, query: query, summary: "mysql")
                applyResponse(&d, respPackets)
                return d
            }
        case comStmtPrepare:
            let sql = String(decoding: first.dropFirst(), as: UTF8.self)
            query = sql
            // COM_STMT_PREPARE_OK: 0x00, statement id (4 bytes LE), …
            if let ok = respPackets.first, ok.count >= 5, ok[0] == 0 {
                var r = ByteReader(ok, at: 1)
                if let id = r.u32le() {
                    if st.statements.count >= 4096 { st.statements.removeAll() }
                    st.statements[id] = sql
                }
            }
        case comStmtExecute:
            var r = ByteReader(first, at: 1)
            query = r.u32le().flatMap { st.statements[$0] }
        case comStmtClose:
            var r = ByteReader(first, at: 1)
            if let id = r.u32le() { st.statements[id] = nil }
            return nil
        case comInitDB:
            let db = String(decoding: first.dropFirst(), as: UTF8.self)
            if respPackets.first?.first == 0 { st.database = db }
            var d = dbDraft(c, system: "mysql", namespace: db, query: nil, summary: "USE")
            d.set("db.operation.name", "USE")
            applyResponse(&d, respPackets)
            return d
        case comQuit:
            return nil
        case comPing, comStmtReset:
            var d = dbDraft(c, system: "mysql", namespace: st.database, query: nil, summary: cmd == comPing ? "PING" : "RESET")
            applyResponse(&d, respPackets)
            return d
        default:
            var d = dbDraft(c, system: "mysql", namespace: st.database, query: nil, summary: "mysql")
            d.set("olly.mysql.command", Int(cmd))
            applyResponse(&d, respPackets)
            return d
        }
        var d = dbDraft(c, system: "mysql", namespace: st.database, query: query, summary: "mysql")
        applyResponse(&d, respPackets)
        return d
    }

    /// The database of a `USE db` statement (backquotes removed); nil for any other text.
    static func useDatabase(_ sql: ArraySlice<UInt8>) -> String? {
        var i = sql.startIndex
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
        while i < sql.endIndex && isSpace(sql[i]) { i += 1 }
        guard sql.endIndex - i > 4, sql[i] | 0x20 == UInt8(ascii: "u"), sql[i + 1] | 0x20 == UInt8(ascii: "s"),
              sql[i + 2] | 0x20 == UInt8(ascii: "e"), isSpace(sql[i + 3]) else { return nil }
        i += 4
        while i < sql.endIndex && isSpace(sql[i]) { i += 1 }
        var end = sql.endIndex
        while end > i && (isSpace(sql[end - 1]) || sql[end - 1] == UInt8(ascii: ";")) { end -= 1 }
        var name = sql[i..<end]
        if name.count >= 2, name.first == UInt8(ascii: "`"), name.last == UInt8(ascii: "`") { name = name.dropFirst().dropLast() }
        guard !name.isEmpty, !name.contains(where: isSpace) else { return nil }
        return String(decoding: name, as: UTF8.self)
    }

    /// ERR_Packet: 0xFF, error code (2 bytes LE), '#', SQLSTATE (5), message.
    static func applyResponse(_ d: inout SpanDraft, _ packets: [[UInt8]]) {
        guard let p = packets.first, p.first == 0xFF, p.count >= 3 else { return }
        let code = Int(p[1]) | Int(p[2]) << 8
        var msg = p.dropFirst(3)
        if msg.first == UInt8(ascii: "#"), msg.count >= 6 { msg = msg.dropFirst(6) }
        d.error = true
        d.statusMessage = String(decoding: msg, as: UTF8.self)
        d.set("db.response.status_code", String(code))
        d.set("error.type", String(code))
    }
}
