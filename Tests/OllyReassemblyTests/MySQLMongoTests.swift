import Foundation
import OllyNDJSON
import Testing
@testable import OllyReassembly

// MARK: - Builders

/// A MySQL packet: 3-byte length LE, sequence id, payload.
func myPacket(_ seq: Int, _ payload: [UInt8]) -> [UInt8] {
    [UInt8(payload.count & 0xFF), UInt8((payload.count >> 8) & 0xFF), UInt8((payload.count >> 16) & 0xFF), UInt8(seq & 0xFF)] + payload
}

func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
func lenencString(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + bytes(s) }

enum My {
    static let protocol41: UInt32 = 0x200, secure: UInt32 = 0x8000, withDB: UInt32 = 0x8, pluginAuth: UInt32 = 0x80000
    static let deprecateEOF: UInt32 = 1 << 24, ssl: UInt32 = 0x800
    static let base = protocol41 | secure | withDB | pluginAuth

    static func greeting(caps: UInt32) -> [UInt8] {
        let p: [UInt8] = [10] + bytes("5.5.5-10.11.19-MariaDB\0") + le32(7) + bytes("abcdefgh") + [0]
            + le16(Int(caps & 0xFFFF)) + [45] + le16(2) + le16(Int(caps >> 16)) + [21] + [UInt8](repeating: 0, count: 10)
            + bytes("ijklmnopqrst\0") + bytes("mysql_native_password\0")
        return myPacket(0, p)
    }

    static func handshake(caps: UInt32, seq: Int = 1) -> [UInt8] {
        myPacket(seq, le32(caps) + le32(1 << 24) + [45] + [UInt8](repeating: 0, count: 23) + bytes("olly\0") + [20]
                 + [UInt8](repeating: 7, count: 20) + bytes("shop\0") + bytes("mysql_native_password\0"))
    }

    static func ok(_ seq: Int, status: Int = 2) -> [UInt8] { myPacket(seq, [0, 0, 0] + le16(status) + [0, 0]) }
    static func eof(_ seq: Int, status: Int = 2) -> [UInt8] { myPacket(seq, [0xFE, 0, 0] + le16(status)) }
    /// The OK that ends a result set with CLIENT_DEPRECATE_EOF.
    static func okEOF(_ seq: Int, status: Int = 2) -> [UInt8] { myPacket(seq, [0xFE, 0, 0] + le16(status) + [0, 0]) }
    static func err(_ seq: Int, _ code: Int, _ msg: String) -> [UInt8] { myPacket(seq, [0xFF] + le16(code) + bytes("#42S02" + msg)) }
    static func column(_ seq: Int, _ name: String) -> [UInt8] {
        myPacket(seq, lenencString("def") + lenencString("shop") + lenencString("items") + lenencString("items")
                 + lenencString(name) + lenencString(name) + [0x0C] + le16(45) + le32(80) + [253] + le16(0) + [0] + [0, 0])
    }
    static func row(_ seq: Int, _ values: [String]) -> [UInt8] { myPacket(seq, values.flatMap(lenencString)) }
    static func query(_ sql: String) -> [UInt8] { myPacket(0, [0x03] + bytes(sql)) }

    /// A text result set of `rows` rows of one column, starting at sequence id 1.
    static func resultSet(rows: Int, deprecateEOF: Bool = false, status: Int = 2, from: Int = 1) -> [UInt8] {
        var seq = from
        func next() -> Int { defer { seq += 1 }; return seq }
        var b = myPacket(next(), [1]) + column(next(), "name")
        if !deprecateEOF { b += eof(next()) }
        for i in 0..<rows { b += row(next(), ["row\(i)"]) }
        b += deprecateEOF ? okEOF(next(), status: status) : eof(next(), status: status)
        return b
    }
}

/// The sequence ids of the packets in `b` (nil when `b` is not whole packets).
func packetSeqs(_ b: [UInt8]) -> [Int]? {
    var out: [Int] = []
    var i = 0
    while i + 4 <= b.count {
        out.append(Int(b[i + 3]))
        i += 4 + (Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16)
    }
    return i == b.count ? out : nil
}

/// A MongoDB message: header (length, requestID, responseTo, opCode) and body.
func mongoMessage(id: UInt32, to: UInt32 = 0, op: UInt32, _ body: [UInt8]) -> [UInt8] {
    le32(UInt32(16 + body.count)) + le32(id) + le32(to) + le32(op) + body
}

func bsonDoc(_ name: String, _ value: String) -> [UInt8] {
    let body: [UInt8] = [0x02] + bytes(name + "\0") + le32(UInt32(value.utf8.count + 1)) + bytes(value + "\0")
    return le32(UInt32(body.count + 5)) + body + [0]
}

func opMsg(id: UInt32, to: UInt32 = 0, flags: UInt32 = 0, _ doc: [UInt8], checksum: Bool = false) -> [UInt8] {
    mongoMessage(id: id, to: to, op: Mongo.opMsg, le32(flags | (checksum ? 1 : 0)) + [0] + doc + (checksum ? [1, 2, 3, 4] : []))
}

extension ExchangeRecord {
    var line: String { Record.exchange(self).ndjson }
}

// MARK: - Real traffic

@Suite struct MySQLMongoGoldenTests {
    func exchanges(_ name: String) throws -> [ExchangeRecord] {
        let text = try String(contentsOfFile: "\(fixtureDir)/\(name).ndjson", encoding: .utf8)
        let records = try text.split(separator: "\n").map { try Record.decodeNDJSON(String($0)) }
        return reassemble(records).0
    }

    /// What the mariadb client, PyMySQL, Connector/Python and a minimal client asking for
    /// CLIENT_DEPRECATE_EOF did against MariaDB 10.11 (scripts/record-fixtures.py mysql).
    @Test func mysqlFixtureSaysWhatTheClientsDid() throws {
        let xs = try exchanges("mysql")
        let my = xs.filter { $0.proto == .mysql }
        // One greeting per connection, from the server, alone.
        let greetings = my.filter { $0.flags == ["push"] }
        #expect(greetings.count == 5)
        #expect(greetings.allSatisfy { $0.req == nil && $0.resp?.data.dropFirst(4).first == 10 })
        // Nothing else is flagged; every command's response has consecutive sequence ids
        // from 1, whole packets.
        #expect(my.filter { $0.flags != ["push"] }.allSatisfy { $0.flags.isEmpty })
        for x in my where x.req?.data.count ?? 0 > 4 && x.req?.data[3] == 0 {
            guard let resp = x.resp else { continue }
            let seqs = try #require(packetSeqs(resp.data))
            #expect(seqs == seqs.indices.map { ($0 + 1) & 0xFF }, "\(x.reqText.prefix(40))")
        }
        func answer(_ sql: String) -> ExchangeRecord? { my.first { $0.reqText.contains(sql) } }
        // mariadb -e: three rows of three columns, with EOF after the columns and rows.
        let select = try #require(answer("SELECT * FROM items ORDER BY id"))
        let selectPackets: Int? = packetSeqs(select.resp?.data ?? [])?.count
        #expect(selectPackets == 9) // column count, 3 columns, EOF, 3 rows, EOF
        // 300 rows: the sequence id wraps, the response ends with the last EOF.
        let seq = try #require(answer("SELECT seq FROM seq_1_to_300"))
        #expect(packetSeqs(seq.resp?.data ?? [])?.count == 304)
        #expect(seq.resp.map { Array($0.data.suffix(5)).first } == 0xFE) // the last EOF
        // Two results of one COM_QUERY (SERVER_MORE_RESULTS_EXISTS), ending with the UPDATE's OK.
        let multi = try #require(answer("SELECT COUNT(*) FROM items; UPDATE"))
        #expect(multi.respText.contains("Rows matched: 1"))
        let missing = try #require(answer("missing_table"))
        #expect(missing.resp?.data[4] == 0xFF && missing.resp?.data[5] == 0x7A && missing.resp?.data[6] == 0x04) // 1146
        // Connector/Python: an auth switch inside the handshake exchange.
        let switched = try #require(my.first { $0.respText.contains("mysql_native_password") && $0.req != nil })
        #expect(packetSeqs(switched.req?.data ?? []) == [1, 3])
        #expect(packetSeqs(switched.resp?.data ?? []) == [2, 4])
        // The prepared statement: its OK, a parameter, EOF, two columns, EOF; executed twice
        // (binary result sets); closed without a response.
        let prepare = try #require(my.first { $0.req?.data.dropFirst(4).first == 0x16 && $0.reqText.contains("WHERE id = ?") && $0.resp?.data[4] == 0 })
        #expect(packetSeqs(prepare.resp?.data ?? [])?.count == 6)
        let executes = my.filter { $0.req?.data.dropFirst(4).first == 0x17 && $0.cid == prepare.cid }
        #expect(executes.count == 2)
        #expect(executes.allSatisfy { packetSeqs($0.resp?.data ?? [])?.count == 6 && $0.resp?.data.last == 0 })
        // CLIENT_DEPRECATE_EOF: no EOF after the columns, result sets ended by OK (0xFE, 7 bytes).
        let text = try #require(answer("WHERE id < 3 ORDER BY id"))
        let textPackets: Int? = packetSeqs(text.resp?.data ?? [])?.count
        #expect(textPackets == 7) // column count, 3 columns, 2 rows, OK
        let okEOF: [UInt8] = [7, 0, 0, 7, 0xFE, 0, 0, 2, 0, 0, 0]
        let tail: [UInt8] = Array((text.resp?.data ?? []).suffix(11))
        #expect(tail == okEOF)
        let prepared = try #require(my.first { $0.cid == text.cid && $0.req?.data.dropFirst(4).first == 0x16 })
        let preparedPackets: Int? = packetSeqs(prepared.resp?.data ?? [])?.count
        #expect(preparedPackets == 3) // OK, a parameter, a column
        let binary = try #require(my.first { $0.cid == text.cid && $0.req?.data.dropFirst(4).first == 0x17 })
        let binaryPackets: Int? = packetSeqs(binary.resp?.data ?? [])?.count
        #expect(binaryPackets == 5) // column count, a column, 2 rows, OK
        let close = try #require(my.first { $0.req?.data.dropFirst(4).first == 0x19 })
        #expect(close.resp == nil && close.flags.isEmpty)
        #expect(my.filter { $0.req?.data.count == 5 && $0.req?.data[4] == 0x01 }.count == 4) // COM_QUIT (the fifth is encrypted)
        // The TLS connection: the SSLRequest, then ciphertext only.
        let tlsCID = try #require(my.first { $0.req?.len == 36 && $0.resp == nil }?.cid)
        #expect(xs.filter { $0.cid == tlsCID && $0.proto == .unknown }.allSatisfy { $0.flags.contains("upgraded") })
        #expect(xs.filter { $0.cid == tlsCID && $0.proto == .mysql }.count == 2)
    }

    /// What PyMongo 4 and 3.11 did against mockupdb (scripts/record-fixtures.py mongo).
    @Test func mongoFixtureSaysWhatTheClientsDid() throws {
        let xs = try exchanges("mongo")
        #expect(xs.allSatisfy { $0.proto == .mongodb && $0.flags.isEmpty })
        func header(_ m: ExchangeMessage?) -> (UInt32, UInt32, UInt32)? {
            guard let d = m?.data, let h = Mongo.header(d) else { return nil }
            return (h.id, h.to, h.op)
        }
        // Matched by requestID/responseTo.
        for x in xs where x.resp != nil {
            let q = try #require(header(x.req)), r = try #require(header(x.resp))
            #expect(q.0 == r.1)
        }
        // Legacy hello of PyMongo 3.11: OP_QUERY answered by OP_REPLY.
        #expect(xs.filter { header($0.req)?.2 == Mongo.opQuery && header($0.resp)?.2 == Mongo.opReply }.count == 2)
        // The w=0 insert: moreToCome, no response by design.
        let w0 = try #require(xs.first { $0.reqText.contains("events") })
        #expect(w0.resp == nil && w0.flags.isEmpty)
        #expect(w0.req.map { Mongo.header($0.data)?.flags } == .some(Mongo.moreToCome))
        let missing = try #require(xs.first { $0.reqText.contains("missing") })
        #expect(missing.respText.contains("ns does not exist"))
    }
}

extension MySQLMongoGoldenTests {
    /// Real traffic with the response record of one exchange not captured (a gap in the
    /// middle of a connection): that exchange is flagged, and every later exchange of the
    /// connection is exactly what it is without the gap.
    @Test(arguments: [("mysql", "WHERE qty >"), ("mongo", "filter")])
    func gapInRealTrafficThenCorrectExchanges(_ name: String, _ marker: String) throws {
        let text = try String(contentsOfFile: "\(fixtureDir)/\(name).ndjson", encoding: .utf8)
        var records = try text.split(separator: "\n").map { try Record.decodeNDJSON(String($0)) }
        let whole = reassemble(records).0
        let hit = try #require(whole.first { $0.reqText.contains(marker) && $0.resp != nil })
        let i = try #require(records.firstIndex {
            if case .data(let d) = $0 { return d.cid == hit.cid && d.dir == .in && d.ts == hit.resp?.ts } else { return false }
        })
        guard case .data(var d) = records[i] else { return }
        d.data = [] // len kept: all of it is a gap
        records[i] = .data(d)
        let gapped = reassemble(records).0
        let gapTS = d.ts
        func after(_ xs: [ExchangeRecord]) -> [String] {
            xs.filter { $0.cid == hit.cid && ($0.req?.ts ?? 0) > gapTS }.map(\.line)
        }
        #expect(!after(whole).isEmpty)
        #expect(after(gapped) == after(whole))
        let flagged = try #require(gapped.first { $0.cid == hit.cid && $0.reqText.contains(marker) })
        #expect(flagged.flags.contains("gap"))
        // Other connections are untouched.
        #expect(gapped.filter { $0.cid != hit.cid }.map(\.line) == whole.filter { $0.cid != hit.cid }.map(\.line))
    }
}

// MARK: - Vectors

@Suite struct MySQLMongoVectorTests {
    func checkPrefixes(_ name: String, _ b: [UInt8], length: Int, _ f: (Bytes) -> Frame) {
        #expect(frame(b, f) == .complete(length), "\(name)")
        for n in 0..<length {
            let r = frame(Array(b.prefix(n)), f)
            if case .needMore(let atLeast, _) = r { #expect(atLeast > n, "\(name) prefix \(n)") } else {
                Issue.record("\(name): prefix of \(n) bytes gave \(r)")
            }
        }
    }

    @Test func mysqlPacketsFrameAndEveryPrefixAsksForMore() {
        let vectors: [(String, [UInt8])] = [
            ("greeting", My.greeting(caps: My.base)), ("handshake", My.handshake(caps: My.base)),
            ("query", My.query("SELECT 1")), ("ok", My.ok(1)), ("eof", My.eof(3)), ("err", My.err(1, 1146, "x")),
            ("column", My.column(2, "id")), ("row", My.row(4, ["a", "bc"])), ("empty", myPacket(2, [])),
        ]
        for (name, v) in vectors {
            checkPrefixes(name, v + My.ok(9), length: v.count) { MySQL.framePacket($0) }
            checkPrefixes(name + " (session)", v, length: v.count) { MySQLSession().frame(.response, $0) }
        }
        // A command must have sequence id 0 and a command byte; a client's seq-1 packet is not checked.
        #expect(frame(myPacket(0, [0x40])) { MySQLSession().frame(.request, $0) } == .invalid)
        #expect(frame(myPacket(0, [])) { MySQLSession().frame(.request, $0) } == .invalid)
        #expect(frame(myPacket(1, [0x40])) { MySQLSession().frame(.request, $0) } == .complete(5))
        // Greeting detection: whole, prefixes undecided, other bytes not MySQL.
        let g = My.greeting(caps: My.base)
        func greeting(_ b: [UInt8]) -> Detection { b.withUnsafeBufferPointer { MySQL.greeting($0) } }
        #expect(greeting(g) == .yes(requestDir: .out, datagram: false))
        // Decided once the capabilities are in (version, thread id, scramble, filler, caps).
        let capsEnd = 4 + 1 + 23 + 4 + 8 + 1 + 2
        for n in 0..<capsEnd { #expect(greeting(Array(g.prefix(n))) == .needMore, "prefix \(n)") }
        for n in capsEnd...g.count { #expect(greeting(Array(g.prefix(n))) == .yes(requestDir: .out, datagram: false), "prefix \(n)") }
        #expect(greeting(bytes("HTTP/1.1 200 OK\r\n\r\n")) == .no)
        var noP41 = g
        noP41[4 + 1 + 23 + 13 + 1] = 0; noP41[4 + 1 + 23 + 13 + 2] = 0
        #expect(greeting(noP41) == .no)
    }

    @Test func mongoMessagesFrameAndEveryPrefixAsksForMore() {
        let find = opMsg(id: 1, bsonDoc("find", "users"))
        let sum = opMsg(id: 2, bsonDoc("find", "users"), checksum: true)
        let query = mongoMessage(id: 3, op: Mongo.opQuery, le32(0) + bytes("admin.$cmd\0") + le32(0) + le32(1) + bsonDoc("isMaster", "1"))
        let reply = mongoMessage(id: 4, to: 3, op: Mongo.opReply, le32(0) + [UInt8](repeating: 0, count: 8) + le32(0) + le32(1) + bsonDoc("ok", "1"))
        let compressed = mongoMessage(id: 5, op: Mongo.opCompressed, le32(Mongo.opMsg) + le32(UInt32(5 + find.count - 16)) + [0] + Array(find.dropFirst(16)))
        for (name, v) in [("op_msg", find), ("op_msg checksum", sum), ("op_query", query), ("op_reply", reply), ("op_compressed", compressed)] {
            checkPrefixes(name, v + find, length: v.count) { Mongo.frameMessage($0) }
        }
        // Lengths below the header or past 48 MB, unknown opcodes, reserved OP_MSG flag bits.
        #expect(frame(le32(15) + le32(0) + le32(0) + le32(2013)) { Mongo.frameMessage($0) } == .invalid)
        #expect(frame(le32(48_000_001)) { Mongo.frameMessage($0) } == .invalid)
        #expect(frame(mongoMessage(id: 1, op: 9999, [0, 0, 0, 0, 0])) { Mongo.frameMessage($0) } == .invalid)
        #expect(frame(opMsg(id: 1, flags: 4, bsonDoc("a", "b"))) { Mongo.frameMessage($0) } == .invalid)
        // moreToCome and checksum bits are read; an uncompressed (noop) OP_COMPRESSED too.
        #expect(Mongo.header(opMsg(id: 1, flags: Mongo.moreToCome, bsonDoc("a", "b")))?.flags == Mongo.moreToCome)
        #expect(Mongo.header(compressed)?.flags == 0)
    }

    @Test func randomBytesNeverCrash() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<3000 {
            let n = Int(rng.next() % 64)
            var b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if n > 4 && rng.next() % 2 == 0 { b[1] = 0; b[2] = 0 }
            _ = frame(b) { MySQL.framePacket($0) }
            _ = b.withUnsafeBufferPointer { MySQL.greeting($0) }
            _ = b.withUnsafeBufferPointer { MySQL.boundary($0, from: 0, request: rng.next() % 2 == 0) }
            _ = frame(b) { Mongo.frameMessage($0) }
            _ = b.withUnsafeBufferPointer { Mongo.boundary($0, from: 0) }
            _ = b.withUnsafeBufferPointer { Mongo.detect(first: .out, out: $0, in: $0) }
            _ = b.withUnsafeBufferPointer { MySQLSession.detect(first: .in, out: $0, in: $0) }
            // Whole sessions over random messages.
            var c = Conn(raddr: "127.0.0.1:3306")
            c.send(.in, My.greeting(caps: My.base))
            c.send(.out, My.handshake(caps: My.base))
            c.send(.in, b)
            c.send(.out, b)
            _ = reassemble(c.records)
            var m = Conn(raddr: "127.0.0.1:27017")
            m.send(.out, opMsg(id: 1, bsonDoc("ping", "1")))
            m.send(.in, b)
            _ = reassemble(m.records)
        }
    }
}

// MARK: - Sessions

@Suite struct MySQLSessionTests {
    /// A connection: greeting, handshake (OK), then `body` adds commands.
    func conversation(caps: UInt32 = My.base, _ body: (inout Conn) -> Void) -> Conn {
        var c = Conn(raddr: "127.0.0.1:43306")
        c.send(.in, My.greeting(caps: caps))
        c.send(.out, My.handshake(caps: caps))
        c.send(.in, My.ok(2))
        body(&c)
        c.close()
        return c
    }

    static func commands(_ c: inout Conn, deprecateEOF: Bool = false) {
        c.send(.out, My.query("SELECT name FROM items"))
        let rs = My.resultSet(rows: 3, deprecateEOF: deprecateEOF)
        c.send(.in, Array(rs.prefix(20)))
        c.send(.in, Array(rs.dropFirst(20)))
        c.send(.out, My.query("SELECT * FROM nope"))
        c.send(.in, My.err(1, 1146, "Table 'shop.nope' doesn't exist"))
        // COM_STMT_PREPARE: OK with 2 columns and 1 parameter.
        c.send(.out, myPacket(0, [0x16] + bytes("SELECT a, b FROM t WHERE id = ?")))
        var prep = myPacket(1, [0] + le32(1) + le16(2) + le16(1) + [0] + le16(0)) + My.column(2, "?")
        var seq = 3
        if !deprecateEOF { prep += My.eof(seq); seq += 1 }
        prep += My.column(seq, "a") + My.column(seq + 1, "b"); seq += 2
        if !deprecateEOF { prep += My.eof(seq) }
        c.send(.in, prep)
        // COM_STMT_EXECUTE: a binary result set of one row.
        c.send(.out, myPacket(0, [0x17] + le32(1) + [0] + le32(1) + [0, 1, 3, 0] + le32(7)))
        var ex = myPacket(1, [2]) + My.column(2, "a") + My.column(3, "b")
        seq = 4
        if !deprecateEOF { ex += My.eof(seq); seq += 1 }
        ex += myPacket(seq, [0, 0] + lenencString("x") + lenencString("y")); seq += 1
        ex += deprecateEOF ? My.okEOF(seq) : My.eof(seq)
        c.send(.in, ex)
        c.send(.out, myPacket(0, [0x19] + le32(1))) // COM_STMT_CLOSE: no response
        c.send(.out, myPacket(0, [0x02] + bytes("other"))) // COM_INIT_DB
        c.send(.in, My.ok(1))
        c.send(.out, myPacket(0, [0x0E])) // COM_PING
        c.send(.in, My.ok(1))
        c.send(.out, myPacket(0, [0x01])) // COM_QUIT
    }

    func check(_ xs: [ExchangeRecord], deprecateEOF: Bool, _ comment: Comment? = nil) {
        let kinds = xs.dropFirst(2).map { $0.req.flatMap { $0.data.count > 4 ? $0.data[4] : nil } ?? 0 }
        #expect(kinds == [0x03, 0x03, 0x16, 0x17, 0x19, 0x02, 0x0E, 0x01], comment)
        guard xs.count == 10 else { return }
        #expect(xs[0].flags == ["push"] && xs[0].req == nil, comment)
        #expect(packetSeqs(xs[1].resp?.data ?? []) == [2], comment)
        #expect(packetSeqs(xs[2].resp?.data ?? [])?.count == (deprecateEOF ? 6 : 7), comment)
        #expect(xs[3].resp?.data[4] == 0xFF, comment)
        #expect(packetSeqs(xs[4].resp?.data ?? [])?.count == (deprecateEOF ? 4 : 6), comment)
        #expect(packetSeqs(xs[5].resp?.data ?? [])?.count == (deprecateEOF ? 5 : 6), comment)
        #expect(xs[6].resp == nil && xs[6].flags.isEmpty, comment)
        #expect(xs[7].resp != nil && xs[8].resp != nil, comment)
        #expect(xs[9].resp == nil && xs[9].flags.isEmpty, comment)
        #expect(xs.allSatisfy { $0.proto == .mysql && ($0.flags.isEmpty || $0.flags == ["push"]) }, comment)
    }

    @Test(arguments: [false, true])
    func commandsAndResultSets(deprecateEOF: Bool) {
        let caps = My.base | (deprecateEOF ? My.deprecateEOF : 0)
        let c = conversation(caps: caps) { Self.commands(&$0, deprecateEOF: deprecateEOF) }
        let (xs, counters) = reassemble(c.records)
        check(xs, deprecateEOF: deprecateEOF)
        #expect(counters.malformed == 0 && counters.noResponse == 0 && counters.skippedBytes == 0)
        // One byte per record: the same exchanges.
        let (dripped, _) = reassemble(drip(c.records))
        #expect(dripped.map(\.line) == xs.map(\.line))
    }

    /// Detected from the greeting on any port; a server-side connection too.
    @Test func detectedFromTheGreetingAsServer() {
        var c = Conn(raddr: "127.0.0.1:50000", role: .server)
        c.send(.out, My.greeting(caps: My.base))
        c.send(.in, My.handshake(caps: My.base))
        c.send(.out, My.ok(2))
        c.send(.in, My.query("SELECT 1"))
        c.send(.out, My.resultSet(rows: 1))
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.proto) == [.mysql, .mysql, .mysql])
        #expect(xs.last?.resp.flatMap { packetSeqs($0.data) }?.count == 5)
    }

    /// A packet of 16 MiB or more is split at 0xFFFFFF bytes; the chain is one request.
    @Test func packetsOver16MiBAreOneMessage() {
        let sql = [0x03] + bytes("INSERT INTO blobs VALUES ('") + [UInt8](repeating: 0x61, count: MySQL.maxPayload + 100) + bytes("')")
        let first = myPacket(0, Array(sql.prefix(MySQL.maxPayload)))
        let rest = myPacket(1, Array(sql.dropFirst(MySQL.maxPayload)))
        let c = conversation { c in
            c.send(.out, first + rest)
            c.send(.in, My.ok(2))
            c.send(.out, My.query("SELECT 1"))
            c.send(.in, My.resultSet(rows: 1))
        }
        var limits = Limits()
        limits.maxBufferBytes = 64 << 20
        let (xs, _) = reassemble(c.records, limits: limits)
        #expect(xs.count == 4)
        #expect(xs[2].req?.len == Int64(first.count + rest.count) && xs[2].flags.isEmpty)
        #expect(packetSeqs(xs[2].req?.data ?? []) == [0, 1])
        #expect(xs[2].resp.flatMap { packetSeqs($0.data) } == [2])
        #expect(xs[3].reqText.hasSuffix("SELECT 1") && xs[3].resp.flatMap { packetSeqs($0.data) }?.count == 5)
        // With the default buffer limit the request is kept truncated, counted whole, and
        // the next exchange is still right.
        let (ys, _) = reassemble(c.records)
        #expect(ys.count == 4)
        #expect(ys[2].req?.len == Int64(first.count + rest.count) && ys[2].flags == ["truncated"])
        #expect(ys[3].reqText.hasSuffix("SELECT 1") && ys[3].resp.flatMap { packetSeqs($0.data) }?.count == 5)
    }

    /// A gap in the middle of a result set: that exchange is flagged, framing resumes at the
    /// next response, and the following exchanges are right.
    @Test func gapInTheMiddleThenCorrectExchanges() {
        let rs = My.resultSet(rows: 20)
        let c = conversation { c in
            c.send(.out, My.query("SELECT name FROM items"))
            c.send(.in, Array(rs.prefix(30)))
            c.send(.in, Array(rs.dropFirst(30).prefix(100)), captured: 0) // not captured
            c.send(.in, Array(rs.dropFirst(130)))
            c.send(.out, My.query("SELECT 2"))
            c.send(.in, My.resultSet(rows: 2))
            c.send(.out, My.query("DELETE FROM items"))
            c.send(.in, My.ok(1))
        }
        let (xs, counters) = reassemble(c.records)
        let sql = xs.map { String($0.reqText.dropFirst(5)) }
        #expect(sql.suffix(3) == ["SELECT name FROM items", "SELECT 2", "DELETE FROM items"])
        guard xs.count == 5 else { Issue.record("\(xs.count) exchanges"); return }
        #expect(xs[2].flags.contains("gap"))
        #expect(xs[3].flags.isEmpty && xs[3].resp.flatMap { packetSeqs($0.data) }?.count == 6)
        #expect(xs[4].flags.isEmpty && xs[4].resp.flatMap { packetSeqs($0.data) } == [1])
        #expect(counters.gaps == 1)
        // A gap in the request direction: the lost command's answer is written alone.
        let r = conversation { c in
            c.send(.out, My.query("SELECT lost"), captured: 0)
            c.send(.in, My.resultSet(rows: 2))
            c.send(.out, My.query("SELECT 3"))
            c.send(.in, My.resultSet(rows: 3))
        }
        let (ys, _) = reassemble(r.records)
        #expect(ys.count == 4)
        #expect(ys.dropFirst(2).first?.req == nil && ys.dropFirst(2).first?.flags.contains("gap") == true)
        #expect(ys.last?.reqText.hasSuffix("SELECT 3") == true && ys.last?.resp.flatMap { packetSeqs($0.data) }?.count == 7)
    }

    /// A capture that starts in the middle of an exchange: framing starts at the next
    /// command and the next response.
    @Test func midstreamStartsAtACommand() {
        var c = Conn(raddr: "127.0.0.1:3306", open: false)
        c.records.append(.conn(c.connRecord(.existing)))
        c.send(.out, Array(My.query("SELECT before").dropFirst(3)), skip: 1000)
        c.send(.in, Array(My.resultSet(rows: 2).dropFirst(7)), skip: 500)
        c.send(.out, My.query("SELECT after"))
        c.send(.in, My.resultSet(rows: 2))
        c.close()
        let (xs, _) = reassemble(c.records)
        let last = xs.last
        #expect(last?.reqText.hasSuffix("SELECT after") == true)
        #expect(last?.resp.flatMap { packetSeqs($0.data) }?.count == 6)
        #expect(xs.allSatisfy { $0.proto == .mysql })
    }

    /// SSLRequest: written alone, then the rest of the connection is opaque.
    @Test func sslRequestThenOpaque() {
        var c = Conn(raddr: "127.0.0.1:43306")
        c.send(.in, My.greeting(caps: My.base | My.ssl))
        c.send(.out, myPacket(1, le32(My.base | My.ssl) + le32(1 << 24) + [45] + [UInt8](repeating: 0, count: 23)))
        c.send(.out, [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        c.send(.in, [0x16, 0x03, 0x03, 0x00, 0x02, 9, 9])
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.proto) == [.mysql, .mysql, .unknown])
        #expect(xs[1].resp == nil && xs[1].flags.isEmpty)
        #expect(xs[2].flags == ["upgraded"])
    }

    /// LOAD DATA LOCAL INFILE: the file the client sends belongs to the request.
    @Test func localInfile() {
        let c = conversation { c in
            c.send(.out, My.query("LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE t"))
            c.send(.in, myPacket(1, [0xFB] + bytes("x.csv")))
            c.send(.out, myPacket(2, bytes("1,a\n2,b\n")) + myPacket(3, []))
            c.send(.in, My.ok(4))
            c.send(.out, myPacket(0, [0x0E]))
            c.send(.in, My.ok(1))
        }
        let (xs, _) = reassemble(c.records)
        #expect(xs.count == 4)
        #expect(packetSeqs(xs[2].req?.data ?? []) == [0, 2, 3])
        #expect(packetSeqs(xs[2].resp?.data ?? []) == [1, 4])
        #expect(xs[3].resp.flatMap { packetSeqs($0.data) } == [1])
    }
}

@Suite struct MongoSessionTests {
    /// Replies matched by responseTo, whatever their order; moreToCome requests need no
    /// reply; OP_COMPRESSED is flagged; a reply with moreToCome is followed by pushes.
    @Test func matchedByIDNotOrder() {
        var c = Conn(raddr: "127.0.0.1:40017")
        c.send(.out, opMsg(id: 10, bsonDoc("find", "a")))
        c.send(.out, opMsg(id: 11, bsonDoc("find", "b")))
        c.send(.out, opMsg(id: 12, flags: Mongo.moreToCome, bsonDoc("insert", "c")))
        c.send(.in, opMsg(id: 100, to: 11, bsonDoc("ok", "b")))
        c.send(.in, opMsg(id: 101, to: 10, bsonDoc("ok", "a"), checksum: true))
        let inner = Array(opMsg(id: 0, bsonDoc("hello", "1")).dropFirst(16))
        c.send(.out, mongoMessage(id: 13, op: Mongo.opCompressed, le32(Mongo.opMsg) + le32(UInt32(inner.count)) + [0] + inner))
        c.send(.in, opMsg(id: 102, to: 13, bsonDoc("ok", "1")))
        c.send(.out, opMsg(id: 14, flags: Mongo.exhaustAllowed, bsonDoc("getMore", "x")))
        c.send(.in, opMsg(id: 103, to: 14, flags: Mongo.moreToCome, bsonDoc("batch", "1")))
        c.send(.in, opMsg(id: 104, to: 103, bsonDoc("batch", "2")))
        c.send(.out, opMsg(id: 15, bsonDoc("ping", "1")))
        c.close()
        let (xs, counters) = reassemble(c.records)
        func ids(_ x: ExchangeRecord) -> (UInt32?, UInt32?) {
            (x.req.flatMap { Mongo.header($0.data)?.id }, x.resp.flatMap { Mongo.header($0.data)?.to })
        }
        let reqIDs: [UInt32?] = xs.map { ids($0).0 }, respTo: [UInt32?] = xs.map { ids($0).1 }
        let wantReq: [UInt32?] = [12, 11, 10, 13, 14, nil, 15], wantResp: [UInt32?] = [nil, 11, 10, 13, 14, 103, nil]
        #expect(reqIDs == wantReq)
        #expect(respTo == wantResp)
        let flags: [[String]] = xs.map(\.flags), wantFlags: [[String]] = [[], [], [], ["compressed"], [], ["push"], ["no_response"]]
        #expect(flags == wantFlags)
        #expect(counters.noResponse == 1 && counters.noRequest == 0)
        let (dripped, _) = reassemble(drip(c.records))
        #expect(dripped.map(\.line) == xs.map(\.line))
    }

    /// A gap in the middle: the request whose reply was lost is flagged; later exchanges are right.
    @Test func gapInTheMiddleThenCorrectExchanges() {
        var c = Conn(raddr: "127.0.0.1:40017")
        for i in 0..<5 {
            let id = UInt32(20 + i)
            c.send(.out, opMsg(id: id, bsonDoc("find", "c\(i)")))
            let reply = opMsg(id: 200 + id, to: id, bsonDoc("cursor", String(repeating: "r", count: 50)))
            if i == 1 { c.send(.in, reply, captured: 0) } else if i == 2 {
                c.send(.in, Array(reply.prefix(10)))
                c.send(.in, Array(reply.dropFirst(10)), captured: 20)
            } else { c.send(.in, reply) }
        }
        c.close()
        let (xs, _) = reassemble(c.records)
        let byReq = Dictionary(xs.compactMap { x in x.req.flatMap { Mongo.header($0.data)?.id }.map { ($0, x) } }, uniquingKeysWith: { a, _ in a })
        #expect(xs.count == 5)
        #expect(byReq[20]?.flags == [] && byReq[23]?.flags == [] && byReq[24]?.flags == [])
        #expect(byReq[21]?.flags == ["gap", "no_response"])
        #expect(byReq[22]?.flags == ["gap", "truncated"] || byReq[22]?.flags == ["gap"])
        #expect(byReq[23]?.resp.flatMap { Mongo.header($0.data)?.to } == 23)
        #expect(byReq[24]?.resp.flatMap { Mongo.header($0.data)?.to } == 24)
    }

    /// OP_QUERY detected as MongoDB on any port; OP_INSERT has no reply.
    @Test func legacyOpcodes() {
        var c = Conn(raddr: "127.0.0.1:40017")
        c.send(.out, mongoMessage(id: 1, op: Mongo.opQuery, le32(0) + bytes("admin.$cmd\0") + le32(0) + le32(1) + bsonDoc("isMaster", "1")))
        c.send(.in, mongoMessage(id: 2, to: 1, op: Mongo.opReply, le32(0) + [UInt8](repeating: 0, count: 8) + le32(0) + le32(1) + bsonDoc("ok", "1")))
        c.send(.out, mongoMessage(id: 3, op: Mongo.opInsert, le32(0) + bytes("db.c\0") + bsonDoc("a", "b")))
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.proto) == [.mongodb, .mongodb])
        #expect(xs.map { $0.resp != nil } == [true, false] && xs.allSatisfy { $0.flags.isEmpty })
    }
}
