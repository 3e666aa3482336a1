import Testing
import OllyNDJSON
@testable import OllyParse

/// The golden spans of the MySQL and MongoDB fixtures (GoldenSpanTests) against what the
/// real clients did (scripts/record-fixtures.py mysql|mongo).
@Suite struct MySQLMongoGoldenSpanTests {
    func decoded(_ name: String) throws -> [SpanRecord] {
        try GoldenSpanTests.spans(name).compactMap { line in
            guard case .span(let s) = try Record.decodeNDJSON(line) else { return nil }
            return s
        }
    }

    /// mariadb -e, PyMySQL, Connector/Python and a CLIENT_DEPRECATE_EOF client against
    /// MariaDB 10.11.
    @Test func mysqlSpansSayWhatTheClientsDid() throws {
        let s = try decoded("mysql").filter { $0.attr("db.system.name") == .string("mysql") }
        let texts = s.compactMap { $0.attr("db.query.text")?.stringValue }
        // The SQL the clients executed, literals replaced.
        for sql in ["CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(?), qty INT)",
                    "INSERT INTO items VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?)",
                    "SELECT * FROM items ORDER BY id",
                    "SELECT id, name, qty FROM items WHERE qty > ? ORDER BY id",
                    "SELECT COUNT(*) FROM items; UPDATE items SET qty = qty + ? WHERE id = ?",
                    "SELECT seq FROM seq_1_to_300", "USE shop",
                    "SELECT id, name, qty FROM items WHERE id < ? ORDER BY id"] {
            #expect(texts.contains(sql), "\(sql)")
        }
        // The prepared statement: its prepare and its two executions carry its SQL.
        #expect(texts.filter { $0 == "SELECT name, qty FROM items WHERE id = ?" }.count == 3)
        #expect(texts.filter { $0 == "SELECT name FROM items WHERE qty > ?" }.count == 2)
        // The errors, with the numbers MariaDB sent: 1146 (no such table), 1054 (no such column).
        let missing = try #require(s.first { $0.attr("db.collection.name") == .string("missing_table") })
        #expect(missing.status == .error && missing.attr("db.response.status_code") == .string("1146"))
        #expect(missing.statusMessage == "Table 'shop.missing_table' doesn't exist")
        let nope = try #require(s.first { $0.attr("db.query.text") == .string("SELECT nope FROM items WHERE id = ?") })
        #expect(nope.attr("db.response.status_code") == .string("1054"))
        #expect(s.filter { $0.status == .error }.count == 2)
        // The database: from the handshake (mariadb, Connector/Python), from USE (PyMySQL),
        // from COM_INIT_DB.
        #expect(s.filter { $0.attr("db.collection.name") != nil }.allSatisfy { $0.attr("db.namespace") == .string("shop") })
        #expect(s.contains { $0.name == "USE" && $0.attr("db.namespace") == .string("shop") && $0.attr("db.query.text") == nil })
        // Handshakes, the SSLRequest, COM_STMT_CLOSE and COM_QUIT make no span; no literal leaks.
        #expect(!s.contains { $0.attr("olly.mysql.command") != nil })
        #expect(!texts.contains { $0.contains("apple") || $0.contains("secret") })
        #expect(s.filter { $0.name == "PING" }.count == 3) // PyMySQL once, Connector/Python twice
    }

    /// PyMongo 4.20 and 3.11 against mockupdb.
    @Test func mongoSpansSayWhatTheClientsDid() throws {
        let s = try decoded("mongo")
        #expect(s.allSatisfy { $0.attr("db.system.name") == .string("mongodb") })
        let ops = s.map { "\($0.attr("db.operation.name")?.stringValue ?? "") \($0.attr("db.collection.name")?.stringValue ?? "")" }
        for op in ["insert users", "find users", "find missing", "insert events", "ping ", "endSessions "] {
            #expect(ops.contains(op), "\(op)")
        }
        #expect(s.filter { $0.attr("db.collection.name") != nil }.allSatisfy { $0.attr("db.namespace") == .string("shop") })
        // The handshakes: OP_MSG (4.20) and OP_QUERY on admin.$cmd (3.11).
        #expect(s.filter { $0.attr("db.operation.name")?.stringValue?.lowercased() == "ismaster" }.count == 4)
        #expect(s.filter { $0.attr("db.operation.name")?.stringValue?.lowercased() == "ismaster" }.allSatisfy { $0.attr("db.namespace") == .string("admin") })
        let missing = try #require(s.first { $0.attr("db.collection.name") == .string("missing") })
        #expect(missing.status == .error && missing.attr("db.response.status_code") == .string("26"))
        #expect(missing.statusMessage == "ns does not exist: shop.missing")
        #expect(s.filter { $0.status == .error }.count == 1)
    }
}

/// OP_COMPRESSED (no client here compresses against mockupdb, so synthetic): an
/// uncompressed (noop) message is parsed; a zlib one keeps its command unknown, not malformed.
@Suite struct MongoCompressedTests {
    @Test func noopIsParsedOthersAreNotMalformed() throws {
        var stage = ParseStage()
        let inner = opMsg(bson([("find", "users"), ("$db", "app")]), id: 7)
        func compressed(_ compressor: UInt8, _ body: [UInt8]) -> [UInt8] {
            le32(16 + 9 + body.count) + le32(7) + le32(0) + le32(2012) + le32(2013) + le32(inner.count - 16) + [compressor] + body
        }
        let noop = compressed(0, Array(inner.dropFirst(16)))
        let made = stage.makeSpan(exchange(.mongodb, req: noop, resp: nil))
        let s = try #require(made)
        #expect(s.name == "find users")
        #expect(s.attr("db.namespace") == .string("app") && s.attr("olly.parse.malformed") == nil)
        let zlib = compressed(2, [0x78, 0x9C, 1, 2, 3, 4])
        let zMade = stage.makeSpan(exchange(.mongodb, req: zlib, resp: nil))
        let z = try #require(zMade)
        #expect(z.name == "mongodb" && z.attr("db.system.name") == .string("mongodb") && z.attr("olly.parse.malformed") == nil)
        for n in 0...noop.count { _ = stage.makeSpan(exchange(.mongodb, req: Array(noop.prefix(n)), resp: nil)) }
    }
}
