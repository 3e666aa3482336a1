import Testing
import OllyNDJSON
@testable import OllyParse

/// A MySQL packet: 3-byte length LE, sequence id, payload.
func my(_ seq: UInt8, _ payload: [UInt8]) -> [UInt8] {
    [UInt8(payload.count & 0xFF), UInt8((payload.count >> 8) & 0xFF), UInt8(payload.count >> 16), seq] + payload
}

func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 24) & 0xFF)] }

/// A BSON document from (name, string-or-double) pairs.
func bson(_ fields: [(String, Any)]) -> [UInt8] {
    var body: [UInt8] = []
    for (k, v) in fields {
        if let s = v as? String {
            body += [0x02] + cstr(k) + le32(s.utf8.count + 1) + cstr(s)
        } else if let d = v as? Double {
            body += [0x01] + cstr(k) + withUnsafeBytes(of: d.bitPattern.littleEndian) { Array($0) }
        } else if let i = v as? Int {
            body += [0x10] + cstr(k) + le32(i)
        }
    }
    return le32(body.count + 5) + body + [0]
}

func opMsg(_ doc: [UInt8], id: Int = 1, to: Int = 0) -> [UInt8] {
    let body = le32(0) + [0] + doc
    return le32(16 + body.count) + le32(id) + le32(to) + le32(2013) + body
}

@Suite struct MySQLTests {
    @Test func handshakeQueryPreparedAndError() throws {
        var stage = ParseStage()
        // HandshakeResponse41 with CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CONNECT_WITH_DB.
        let caps = 0x200 | 0x8000 | 0x8
        let hs = le32(caps) + le32(1 << 24) + [33] + [UInt8](repeating: 0, count: 23) + cstr("olly") + [20] + [UInt8](repeating: 7, count: 20) + cstr("shop")
        let none = stage.makeSpan(exchange(.mysql, req: my(1, hs), resp: my(2, [0, 0, 0, 2, 0, 0, 0])))
        #expect(none == nil)
        let q = stage.makeSpan(exchange(.mysql, req: my(0, [0x03] + bytes("SELECT * FROM orders WHERE id = 7")), resp: my(1, [1]) + my(2, [0xFE])))
        let qs = try #require(q)
        #expect(qs.name == "SELECT orders")
        #expect(qs.attr("db.system.name") == .string("mysql"))
        #expect(qs.attr("db.namespace") == .string("shop"))
        #expect(qs.attr("db.query.text") == .string("SELECT * FROM orders WHERE id = ?"))
        // Prepare (server answers with statement id 5), then execute it.
        let prepOK = [0] + le32(5) + [1, 0, 1, 0, 0, 0, 0, 0]
        _ = stage.makeSpan(exchange(.mysql, req: my(0, [0x16] + bytes("UPDATE items SET n = ? WHERE id = 3")), resp: my(1, prepOK)))
        let ex = stage.makeSpan(exchange(.mysql, req: my(0, [0x17] + le32(5) + [0, 1, 0, 0, 0]), resp: my(1, [0, 1, 0, 2, 0, 0, 0])))
        let exs = try #require(ex)
        #expect(exs.attr("db.query.text") == .string("UPDATE items SET n = ? WHERE id = ?"))
        #expect(exs.attr("db.collection.name") == .string("items"))
        // ERR_Packet.
        let err = [0xFF, 0x7A, 0x04] + bytes("#42S02Table 'shop.nope' doesn't exist")
        let e = stage.makeSpan(exchange(.mysql, req: my(0, [0x03] + bytes("SELECT 1 FROM nope")), resp: my(1, err)))
        let es = try #require(e)
        #expect(es.status == .error)
        #expect(es.attr("db.response.status_code") == .string("1146"))
        #expect(es.statusMessage == "Table 'shop.nope' doesn't exist")
        // Every prefix: a span or nothing, never a crash.
        let req = my(0, [0x03] + bytes("SELECT 1"))
        for n in 0...req.count { _ = stage.makeSpan(exchange(.mysql, req: Array(req.prefix(n)), resp: Array(err.prefix(n)))) }
        for n in 0...hs.count { _ = stage.makeSpan(exchange(.mysql, req: my(1, Array(hs.prefix(n))), resp: nil)) }
    }
}

@Suite struct MongoTests {
    @Test func opMsgCommandAndError() throws {
        var stage = ParseStage()
        let find = opMsg(bson([("find", "users"), ("filter", 1), ("$db", "app")]))
        let ok = opMsg(bson([("ok", 1.0)]), id: 2, to: 1)
        let sMade = stage.makeSpan(exchange(.mongodb, req: find, resp: ok))
        let s = try #require(sMade)
        #expect(s.name == "find users")
        #expect(s.attr("db.system.name") == .string("mongodb"))
        #expect(s.attr("db.namespace") == .string("app"))
        #expect(s.attr("db.operation.name") == .string("find"))
        #expect(s.attr("db.collection.name") == .string("users"))
        #expect(s.status == .unset)
        let fail = opMsg(bson([("ok", 0.0), ("errmsg", "ns does not exist"), ("code", 26)]), id: 3, to: 1)
        let fMade = stage.makeSpan(exchange(.mongodb, req: find, resp: fail))
        let f = try #require(fMade)
        #expect(f.status == .error)
        #expect(f.attr("db.response.status_code") == .string("26"))
        #expect(f.statusMessage == "ns does not exist")
        // Legacy OP_QUERY on db.$cmd.
        let qbody = le32(0) + cstr("admin.$cmd") + le32(0) + le32(1) + bson([("isMaster", 1)])
        let query = le32(16 + qbody.count) + le32(9) + le32(0) + le32(2004) + qbody
        let qMade = stage.makeSpan(exchange(.mongodb, req: query, resp: nil))
        let q = try #require(qMade)
        #expect(q.attr("db.operation.name") == .string("isMaster"))
        #expect(q.attr("db.namespace") == .string("admin"))
        for n in 0...find.count { _ = stage.makeSpan(exchange(.mongodb, req: Array(find.prefix(n)), resp: Array(fail.prefix(n)))) }
    }
}
