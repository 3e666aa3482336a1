import Testing
import OllyNDJSON
@testable import OllyParse

@Suite struct SQLTextTests {
    @Test(arguments: [
        ("SELECT * FROM users WHERE id = 42 AND name = 'O''Brien'", "SELECT * FROM users WHERE id = ? AND name = ?"),
        ("select a1, b2 from t where x > -3.5e10 and y = 0x1F", "select a1, b2 from t where x > -? and y = ?"),
        ("INSERT INTO \"Order\" (a, b) VALUES ($1, 'x'), (2, E'it\\'s')", "INSERT INTO \"Order\" (a, b) VALUES ($1, ?), (?, ?)"),
        ("SELECT $$dollar 'quoted'$$, $tag$ x $tag$ -- 5 stays\n", "SELECT ?, ? -- 5 stays\n"),
        ("UPDATE t SET v = X'DEADBEEF' /* 7 */ WHERE k = ?", "UPDATE t SET v = ? /* 7 */ WHERE k = ?"),
        ("SELECT 'unterminated", "SELECT ?"),
        ("SELECT col_1, t2.c3 FROM t2", "SELECT col_1, t2.c3 FROM t2"),
    ])
    func normalize(_ sql: String, _ expected: String) {
        #expect(SQLText.normalize(sql) == expected)
    }

    @Test(arguments: [
        ("SELECT * FROM users WHERE id = 1", "SELECT", "users"),
        ("select * from a join b on a.x = b.x", "SELECT", nil),
        ("SELECT * FROM a, b", "SELECT", nil),
        ("SELECT * FROM (SELECT 1) s", "SELECT", nil),
        ("insert into public.items (a) values (1)", "INSERT", "public.items"),
        ("UPDATE \"Items\" SET a = 1", "UPDATE", "Items"),
        ("DELETE FROM t WHERE 1", "DELETE", "t"),
        ("CREATE TABLE IF NOT EXISTS t (a int)", "CREATE", "t"),
        ("CREATE TABLE t (id int PRIMARY KEY, name text)", "CREATE", "t"),
        ("INSERT INTO t (a, b) VALUES (1, 2)", "INSERT", "t"),
        ("/* hint */ BEGIN", "BEGIN", nil),
        ("", nil, nil),
    ] as [(String, String?, String?)])
    func operationAndCollection(_ sql: String, _ op: String?, _ coll: String?) {
        let (o, c) = SQLText.operationAndCollection(sql)
        #expect(o == op)
        #expect(c == coll)
    }
}

@Suite struct PostgresTests {
    func startup(user: String, db: String) -> [UInt8] {
        let body = [0, 3, 0, 0] + cstr("user") + cstr(user) + cstr("database") + cstr(db) + [0]
        let len = body.count + 4
        return [UInt8(len >> 24), UInt8((len >> 16) & 0xFF), UInt8((len >> 8) & 0xFF), UInt8(len & 0xFF)] + body
    }

    @Test func extendedQueryResolvedAcrossExchanges() throws {
        var stage = ParseStage()
        let setup = exchange(.postgres, req: startup(user: "olly", db: "shop"), resp: pg("R", [0, 0, 0, 0]) + pg("Z", [73]))
        let none = stage.makeSpan(setup)
        #expect(none == nil)
        // Parse + Bind + Execute + Sync in one exchange.
        let parse = pg("P", cstr("s1") + cstr("SELECT name FROM items WHERE id = $1 AND kind = 'k'") + [0, 0])
        let bind = pg("B", cstr("p1") + cstr("s1") + [0, 0, 0, 0, 0, 0])
        let exec = pg("E", cstr("p1") + [0, 0, 0, 0])
        let resp = pg("1", []) + pg("2", []) + pg("C", cstr("SELECT 1")) + pg("Z", [73])
        let s1Made = stage.makeSpan(exchange(.postgres, req: parse + bind + exec + pg("S", []), resp: resp))
        let s1 = try #require(s1Made)
        #expect(s1.name == "SELECT items")
        #expect(s1.attr("db.system.name") == .string("postgresql"))
        #expect(s1.attr("db.namespace") == .string("shop"))
        #expect(s1.attr("db.query.text") == .string("SELECT name FROM items WHERE id = $1 AND kind = ?"))
        #expect(s1.attr("db.collection.name") == .string("items"))
        #expect(s1.attr("db.response.returned_rows") == .int(1))
        // A later Bind/Execute of the same statement: resolved from the connection's state.
        let s2Made = stage.makeSpan(exchange(.postgres, req: bind + exec + pg("S", []), resp: resp))
        let s2 = try #require(s2Made)
        #expect(s2.attr("db.query.text") == s1.attr("db.query.text"))
        // An error response.
        let err = pg("E", [UInt8(ascii: "S")] + cstr("ERROR") + [UInt8(ascii: "C")] + cstr("42P01") + [UInt8(ascii: "M")] + cstr("relation \"nope\" does not exist") + [0])
        let s3Made = stage.makeSpan(exchange(.postgres, req: pg("Q", cstr("SELECT * FROM nope")), resp: err + pg("Z", [73])))
        let s3 = try #require(s3Made)
        #expect(s3.status == .error)
        #expect(s3.attr("db.response.status_code") == .string("42P01"))
        #expect(s3.statusMessage == "relation \"nope\" does not exist")
        // Redaction off.
        var raw = ParseStage(options: ParseOptions(redact: false))
        let s4Made = raw.makeSpan(exchange(.postgres, req: pg("Q", cstr("SELECT 1")), resp: nil))
        let s4 = try #require(s4Made)
        #expect(s4.attr("db.query.text") == .string("SELECT 1"))
    }

    @Test func passwordExchangesMakeNoSpan() {
        var stage = ParseStage()
        let none = stage.makeSpan(exchange(.postgres, req: pg("p", cstr("secret")), resp: pg("R", [0, 0, 0, 0])))
        #expect(none == nil)
    }

    @Test func everyPrefixNeverCrashes() {
        var stage = ParseStage()
        let req = pg("P", cstr("s") + cstr("SELECT 1") + [0, 0]) + pg("B", cstr("") + cstr("s") + [0, 0, 0, 0, 0, 0]) + pg("E", cstr("") + [0, 0, 0, 0])
        let resp = pg("E", [UInt8(ascii: "C")] + cstr("XX000") + [0])
        for n in 0...req.count { _ = stage.makeSpan(exchange(.postgres, req: Array(req[0..<n]), resp: resp)) }
        for n in 0...resp.count { _ = stage.makeSpan(exchange(.postgres, req: req, resp: Array(resp[0..<n]))) }
    }
}

@Suite struct RedisDNSTests {
    @Test func redisCommandsRedactedAndErrors() throws {
        var stage = ParseStage()
        let setMade = stage.makeSpan(exchange(.redis, req: bytes("*3\r\n$3\r\nSET\r\n$4\r\nuser\r\n$6\r\nsecret\r\n"), resp: bytes("+OK\r\n")))
        let set = try #require(setMade)
        #expect(set.name == "SET")
        #expect(set.attr("db.system.name") == .string("redis"))
        #expect(set.attr("db.operation.name") == .string("SET"))
        #expect(set.attr("db.query.text") == .string("SET user ?"))
        #expect(set.attr("db.namespace") == .string("0"))
        let auth = try #require(ParseStage(options: ParseOptions(redact: false)).spanWithProc(ProcRecord(), exchange(.redis, req: bytes("AUTH hunter2\r\n"), resp: bytes("-WRONGPASS invalid\r\n"))))
        #expect(auth.attr("db.query.text") == .string("AUTH ?"))
        #expect(auth.status == .error)
        #expect(auth.attr("db.response.status_code") == .string("WRONGPASS"))
        _ = stage.makeSpan(exchange(.redis, req: bytes("*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"), resp: bytes("+OK\r\n")))
        let getMade = stage.makeSpan(exchange(.redis, req: bytes("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), resp: bytes("$-1\r\n")))
        let get = try #require(getMade)
        #expect(get.attr("db.namespace") == .string("3"))
        let req = bytes("*3\r\n$3\r\nSET\r\n$4\r\nuser\r\n$6\r\nsecret\r\n")
        for n in 0...req.count { _ = stage.makeSpan(exchange(.redis, req: Array(req[0..<n]), resp: nil)) }
    }

    /// A query for example.com A and its NXDOMAIN / SERVFAIL answers (RFC 1035 wire format).
    @Test func dnsQuestionAndAnswer() throws {
        let q: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7] + bytes("example") + [3] + bytes("com") + [0, 0, 1, 0, 1]
        var a = q
        a[2] = 0x81; a[3] = 0x80; a[7] = 1 // response, one answer
        a += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]
        var stage = ParseStage()
        let sMade = stage.makeSpan(exchange(.dns, req: q, resp: a, raddr: "127.0.0.1:53"))
        let s = try #require(sMade)
        #expect(s.name == "DNS A")
        #expect(s.attr("dns.question.name") == .string("example.com"))
        #expect(s.attr("olly.dns.response_code") == .string("NOERROR"))
        #expect(s.attr("olly.dns.answer_count") == .int(1))
        #expect(s.status == .unset)
        var fail = q
        fail[2] = 0x81; fail[3] = 0x82
        let fMade = stage.makeSpan(exchange(.dns, req: q, resp: fail))
        let f = try #require(fMade)
        #expect(f.status == .error && f.attr("error.type") == .string("SERVFAIL"))
        // Over TCP, with the length prefix.
        let tcp = [UInt8(q.count >> 8), UInt8(q.count & 0xFF)] + q
        let tMade = stage.makeSpan(exchange(.dns, req: tcp, resp: nil))
        let t = try #require(tMade)
        #expect(t.attr("dns.question.name") == .string("example.com"))
        for n in 0...a.count { _ = stage.makeSpan(exchange(.dns, req: Array(q.prefix(n)), resp: Array(a.prefix(n)))) }
        // A compression loop is bounded.
        let loop: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12]
        _ = stage.makeSpan(exchange(.dns, req: nil, resp: loop))
    }
}
