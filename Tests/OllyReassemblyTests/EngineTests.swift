import OllyNDJSON
import Testing
@testable import OllyReassembly

@Suite struct EngineTests {
    static func get(_ path: String) -> String { "GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n" }
    static func ok(_ body: String) -> String { "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" }

    @Test func keepAliveAndAddresses() {
        var c = Conn()
        c.out(Self.get("/a")); c.in(Self.ok("one"))
        c.out(Self.get("/b")); c.in(Self.ok("two"))
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.map(\.reqText) == [Self.get("/a"), Self.get("/b")])
        #expect(xs.map(\.respText) == [Self.ok("one"), Self.ok("two")])
        #expect(xs.allSatisfy { $0.proto == .http1 && $0.flags.isEmpty && $0.role == .client && $0.raddr == "127.0.0.1:8080" && $0.pid == 100 })
        #expect(xs[0].req?.ts == 1_000_001_000 && xs[0].resp?.ts == 1_000_002_000)
        #expect(counters.exchanges == 2 && counters.conns == 1)
    }

    @Test func pipelinedHTTPDripFed() {
        var c = Conn()
        c.out(Self.get("/1") + Self.get("/2") + "HEAD /3 HTTP/1.1\r\n\r\n")
        c.in(Self.ok("a") + "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"
             + "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
        c.close()
        for records in [c.records, drip(c.records)] {
            let (xs, _) = reassemble(records)
            #expect(xs.count == 3)
            #expect(xs.map(\.flags) == [[], ["pipelined"], ["pipelined"]])
            #expect(xs.last?.respText == "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
        }
    }

    /// A 60 KiB request head that arrives one byte per record frames once, whole; a head
    /// past the limit (64 KiB) without its end is invalid and the next request is found.
    /// (Only new bytes are searched for the head's end: linear, not quadratic.)
    @Test func longHeadDrippedByteByByte() {
        var c = Conn()
        let filler = String(repeating: "x", count: 100)
        var head = "GET /long HTTP/1.1\r\n"
        while head.utf8.count < 60_000 { head += "X-Filler: \(filler)\r\n" }
        head += "\r\n"
        c.out(head)
        c.in("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        var huge = "GET /huge HTTP/1.1\r\n"
        while huge.utf8.count < 70_000 { huge += "X-Filler: \(filler)\r\n" }
        c.out(huge)
        c.out("\r\nGET /after HTTP/1.1\r\n\r\n")
        c.in("HTTP/1.1 204 No Content\r\n\r\n")
        c.close()
        let (xs, counters) = reassemble(drip(c.records))
        #expect(xs.first?.reqText == head)
        #expect(xs.first?.respText.hasSuffix("ok") == true)
        #expect(xs.contains { $0.reqText.hasPrefix("GET /after ") && $0.respText.hasPrefix("HTTP/1.1 204") })
        #expect(counters.skippedBytes > 0 || counters.malformed > 0, "the oversized head is counted")
    }

    /// A gap in the middle of a keep-alive connection (the capture kept the head of a
    /// response but not all its body): that exchange is flagged, its length is whole, and the
    /// ones after it are whole and right.
    @Test func gapInKeepAliveThenCorrectExchanges() {
        var c = Conn()
        c.out(Self.get("/1")); c.in(Self.ok("first"))
        c.out(Self.get("/2"))
        c.send(.in, bytes(Self.ok(String(repeating: "x", count: 1000))), captured: 60)
        c.out(Self.get("/3")); c.in(Self.ok("third"))
        c.out(Self.get("/4")); c.in(Self.ok("fourth"))
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == 4)
        #expect(xs[0].flags.isEmpty && xs[0].respText == Self.ok("first"))
        #expect(xs[1].flags == ["gap"])
        #expect(xs[1].resp?.len == Int64(Self.ok(String(repeating: "x", count: 1000)).utf8.count))
        #expect(xs[1].resp?.data.count == 60)
        #expect(xs[2].flags.isEmpty && xs[2].reqText == Self.get("/3") && xs[2].respText == Self.ok("third"))
        #expect(xs[3].flags.isEmpty && xs[3].respText == Self.ok("fourth"))
        #expect(counters.gaps == 1 && counters.gapBytes == 981)
    }

    /// A gap that swallows headers: the partial message is flagged gap+truncated, framing
    /// resynchronises at the next response line.
    @Test func gapInHeadersResynchronises() {
        var c = Conn()
        c.out(Self.get("/1"))
        c.send(.in, bytes("HTTP/1.1 200 OK\r\nContent-Le"), captured: 10)
        c.send(.in, bytes("ngth: 5\r\n\r\nhello"), captured: 0)
        c.out(Self.get("/2")); c.in(Self.ok("two"))
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == 2)
        #expect(xs[0].flags == ["gap", "truncated"])
        #expect(xs[1].flags.isEmpty && xs[1].reqText == Self.get("/2") && xs[1].respText == Self.ok("two"))
        #expect(counters.truncated == 1)
    }

    /// A whole response lost (its offsets skipped): the request is flushed, flagged, and the
    /// next exchange pairs correctly.
    @Test func lostResponseByOffsetJump() {
        var c = Conn()
        c.out(Self.get("/1")); c.in(Self.ok("one"))
        c.out(Self.get("/2"))
        c.send(.in, bytes(Self.ok("lost")), captured: 0)
        c.out(Self.get("/3")); c.in(Self.ok("three"))
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.flags) == [[], ["gap", "no_response"], []])
        #expect(xs[2].reqText == Self.get("/3") && xs[2].respText == Self.ok("three"))
    }

    /// The capture starts in the middle of a connection: no open, first offsets not 0.
    @Test func captureStartsMidConnection() {
        var c = Conn(open: false)
        c.offs = [5000, 7000]
        c.send(.in, bytes("tail of an earlier body\r\n"))
        c.out(Self.get("/x")); c.in(Self.ok("x"))
        c.out(Self.get("/y")); c.in(Self.ok("y"))
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == 2)
        #expect(xs.map(\.respText) == [Self.ok("x"), Self.ok("y")])
        #expect(xs.allSatisfy { $0.flags.isEmpty && $0.proto == .http1 })
        #expect(counters.skippedBytes == Int64("tail of an earlier body\r\n".utf8.count))
    }

    /// Records out of order within the window are put back in order; repeated bytes dropped.
    @Test func reorderAndDuplicates() {
        var c = Conn()
        let req = bytes(Self.get("/r"))
        c.send(.out, Array(req[0..<10]))
        let first = c.records.removeLast()
        c.send(.out, Array(req[10...]))
        c.records.append(first)
        c.records.append(first) // a duplicate
        c.in(Self.ok("r"))
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == 1 && xs[0].reqText == Self.get("/r") && xs[0].flags.isEmpty)
        #expect(counters.reordered == 1 && counters.duplicateBytes == 10)
    }

    /// A gap inside a body of known length keeps the message whole, flagged `gap`.
    @Test func gapInsideKnownLengthBody() {
        var c = Conn()
        c.out(Self.get("/g"))
        let body = String(repeating: "b", count: 100)
        let resp = bytes(Self.ok(body))
        c.send(.in, Array(resp[0..<60]))
        c.send(.in, Array(resp[60..<90]), captured: 0)
        c.send(.in, Array(resp[90...]))
        c.out(Self.get("/h")); c.in(Self.ok("h"))
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.flags) == [["gap"], []])
        #expect(xs[0].resp?.len == Int64(resp.count) && xs[0].resp?.data == Array(resp[0..<60]) + Array(resp[90...]))
    }

    @Test func oneMiBChunkedBody() {
        var c = Conn()
        c.out(Self.get("/big"))
        var body: [UInt8] = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = [UInt8](repeating: 0x61, count: 8192)
        for _ in 0..<128 { body += bytes("2000\r\n") + chunk + bytes("\r\n") }
        body += bytes("0\r\nX-Checksum: 1\r\n\r\n")
        var i = 0
        while i < body.count { c.send(.in, Array(body[i..<min(i + 16384, body.count)])); i += 16384 }
        c.out(Self.get("/after")); c.in(Self.ok("after"))
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.count == 2)
        #expect(xs[0].resp?.data == body && xs[0].flags.isEmpty)
        #expect(xs[1].respText == Self.ok("after"))
    }

    @Test func closeFlushesPendingAsNoResponse() {
        var c = Conn()
        c.out(Self.get("/1") + Self.get("/2"))
        c.in(Self.ok("1"))
        c.out("GET /partial HT")
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.map(\.flags) == [[], ["no_response", "pipelined"], ["truncated", "no_response", "pipelined"]])
        #expect(counters.noResponse == 2)
    }

    @Test func closeDelimitedBody() {
        var c = Conn()
        c.out("GET / HTTP/1.0\r\n\r\n")
        c.in("HTTP/1.0 200 OK\r\n\r\npart one ")
        c.in("part two")
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.count == 1 && xs[0].flags.isEmpty && xs[0].respText.hasSuffix("part one part two"))
    }

    @Test func unknownProtocolIsNotDropped() {
        var c = Conn(raddr: "127.0.0.1:9999")
        c.out("\u{1}hello binary"); c.out(" more")
        c.in("\u{2}reply")
        c.out("\u{1}again")
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.map(\.proto) == [.unknown, .unknown])
        #expect(xs.map(\.reqText) == ["\u{1}hello binary more", "\u{1}again"])
        #expect(xs.map(\.flags) == [[], ["no_response"]])
        #expect(counters.unknownExchanges == 2)
    }

    @Test func protoOverrideWins() {
        var c = Conn(raddr: "127.0.0.1:7777")
        c.out("PING\r\n"); c.in("+PONG\r\n")
        c.close()
        #expect(reassemble(c.records).0.map(\.proto) == [.unknown])
        #expect(reassemble(c.records, overrides: [7777: .redis]).0.map(\.proto) == [.redis])
        // The well-known port breaks the tie for a weak match.
        var d = Conn(raddr: "127.0.0.1:6379")
        d.out("PING\r\n"); d.in("+PONG\r\n")
        d.close()
        #expect(reassemble(d.records).0.map(\.proto) == [.redis])
    }

    @Test func serverRoleAndUnknownRole() {
        var s = Conn(role: .server)
        s.in(Self.get("/s")); s.out(Self.ok("s"))
        s.close()
        #expect(reassemble(s.records).0.map(\.reqText) == [Self.get("/s")])
        var u = Conn(role: .unknown)
        u.in(Self.get("/u")); u.out(Self.ok("u"))
        u.close()
        #expect(reassemble(u.records).0.map(\.respText) == [Self.ok("u")])
    }

    @Test func pendingLimitEvictsOldest() {
        var c = Conn()
        for i in 0..<5 { c.out(Self.get("/\(i)")) }
        c.close()
        var l = Limits(); l.maxPending = 2
        let (xs, counters) = reassemble(c.records, limits: l)
        #expect(xs.count == 5)
        #expect(xs.prefix(3).allSatisfy { $0.flags.contains("evicted") && $0.flags.contains("no_response") })
        #expect(counters.pendingEvicted == 3)
    }

    @Test func connectionLimitAndIdleTimeout() {
        var records: [Record] = []
        for i in 1...5 {
            var c = Conn(cid: Int64(i))
            c.ts += Int64(i) * 1_000_000
            c.out(Self.get("/\(i)"))
            records += c.records
        }
        var l = Limits(); l.maxConns = 3
        let (xs, counters) = reassemble(records, limits: l)
        #expect(xs.count == 5 && xs.allSatisfy { $0.flags == ["no_response"] })
        #expect(counters.connsEvicted == 2)
        #expect(xs.prefix(2).map(\.cid) == [1, 2])

        var a = Conn(cid: 1); a.out(Self.get("/a"))
        var b = Conn(cid: 2); b.ts += 400_000_000_000; b.out(Self.get("/b"))
        let (ys, c2) = reassemble(a.records + b.records)
        #expect(c2.connsIdle == 1 && ys.map(\.cid) == [1, 2])
    }

    @Test func bufferLimitCutsLargeMessages() {
        var c = Conn()
        c.out("POST / HTTP/1.1\r\nContent-Length: 20000\r\n\r\n")
        for _ in 0..<4 { c.out(String(repeating: "z", count: 5000)) }
        c.in(Self.ok("done"))
        c.close()
        var l = Limits(); l.maxBufferBytes = 8192
        let (xs, counters) = reassemble(c.records, limits: l)
        #expect(xs.count == 1)
        #expect(xs[0].flags == ["truncated"] && xs[0].req?.len == 20042 && (xs[0].req?.data.count ?? 0) <= 8192)
        #expect(xs[0].respText == Self.ok("done"))
        #expect(counters.truncated == 1)
    }

    @Test func redisPipelineWithGapResynchronises() {
        var c = Conn(raddr: "127.0.0.1:6379")
        c.out("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n")
        c.in("+PONG\r\n$1\r\n1\r\n")
        c.send(.in, bytes("$3\r\nabc\r\n"), captured: 0)
        c.out("*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
        c.in("$1\r\n2\r\n")
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.respText) == ["+PONG\r\n", "$1\r\n1\r\n", "$1\r\n2\r\n"])
        #expect(xs.map(\.flags) == [[], ["pipelined"], []])
    }

    @Test func sameInputSameOutput() {
        var c = Conn()
        c.out(Self.get("/1")); c.in(Self.ok("1")); c.out("junk\u{0}\u{1}"); c.close()
        let a = reassemble(c.records), b = reassemble(c.records)
        #expect(a.0 == b.0 && a.1 == b.1)
    }

    @Test func otherRecordsPassThrough() {
        var r = Reassembler()
        var out: [Record] = []
        var p = ProcRecord(); p.pid = 1
        #expect(!r.process(.proc(p), &out))
        #expect(out.isEmpty)
    }
}
