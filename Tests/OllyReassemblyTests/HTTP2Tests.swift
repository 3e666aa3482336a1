import Foundation
import OllyNDJSON
import Testing
@testable import OllyReassembly

// MARK: - Building HTTP/2 bytes

/// One frame: 9-byte header (RFC 9113 §4.1) and payload.
func h2frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
    let n = payload.count
    return [UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, flags,
            UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
}

enum H2 {
    static let preface = bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    static let data: UInt8 = 0, headers: UInt8 = 1, priority: UInt8 = 2, rst: UInt8 = 3, settings: UInt8 = 4
    static let push: UInt8 = 5, ping: UInt8 = 6, goaway: UInt8 = 7, window: UInt8 = 8, continuation: UInt8 = 9
    static let endStream: UInt8 = 1, endHeaders: UInt8 = 4, padded: UInt8 = 8, prio: UInt8 = 0x20, ack: UInt8 = 1

    static func settings(_ pairs: [(UInt16, UInt32)] = []) -> [UInt8] {
        h2frame(Self.settings, 0, 0, pairs.flatMap { p in
            [UInt8(p.0 >> 8), UInt8(p.0 & 0xFF), UInt8(p.1 >> 24), UInt8(p.1 >> 16 & 0xFF), UInt8(p.1 >> 8 & 0xFF), UInt8(p.1 & 0xFF)]
        })
    }
    static let settingsAck = h2frame(settings, ack, 0, [])

    /// HPACK (RFC 7541 §6) by hand: string literals without Huffman coding.
    static func str(_ s: String) -> [UInt8] {
        let b = bytes(s)
        precondition(b.count < 127)
        return [UInt8(b.count)] + b
    }
    /// §6.2.2 literal without indexing, new name.
    static func lit(_ n: String, _ v: String) -> [UInt8] { [0x00] + str(n) + str(v) }
    /// §6.2.1 literal with incremental indexing, new name (added to the dynamic table).
    static func add(_ n: String, _ v: String) -> [UInt8] { [0x40] + str(n) + str(v) }
    /// §6.1 indexed field (static 1-61, dynamic from 62).
    static func idx(_ i: UInt8) -> [UInt8] { [0x80 | i] }
    /// Static entries used below: 2 :method GET, 3 :method POST, 4 :path /, 7 :scheme https, 8 :status 200, 13 :status 404.
    static func get(_ path: String) -> [UInt8] { idx(2) + idx(7) + lit(":path", path) + lit(":authority", "example.test") }
}

/// A client connection that speaks HTTP/2 with prior knowledge.
func h2conn(cid: Int64 = 1, open: Bool = true) -> Conn {
    var c = Conn(cid: cid, raddr: "127.0.0.1:8443", open: open)
    if open {
        c.send(.out, H2.preface + H2.settings())
        c.send(.in, H2.settings() + H2.settingsAck)
        c.send(.out, H2.settingsAck)
    }
    return c
}

func headerNames(_ m: ExchangeMessage?) -> [String] { (m?.headers ?? []).map(\.0) }
func header(_ m: ExchangeMessage?, _ n: String) -> String? { m?.headers?.last { $0.0 == n }?.1 }


// MARK: - Vectors

@Suite struct HTTP2VectorTests {
    @Test func getWithPrefaceAndSettings() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/a")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8) + H2.lit("content-type", "text/plain")))
        c.send(.in, h2frame(H2.data, 0, 1, bytes("hel")) + h2frame(H2.data, H2.endStream, 1, bytes("lo")))
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == 1)
        let x = xs[0]
        #expect(x.proto == .http2 && x.stream == 1 && x.flags.isEmpty)
        #expect(x.req?.headers?.map { "\($0.0)=\($0.1)" } == [":method=GET", ":scheme=https", ":path=/a", ":authority=example.test"])
        #expect(x.req?.len == 0 && x.req?.data == [])
        #expect(header(x.resp, ":status") == "200")
        #expect(x.respText == "hello" && x.resp?.len == 5)
        #expect(counters.malformed == 0 && counters.exchanges == 1)
    }

    @Test func paddingIsLeftOutOfDataAndHeaders() {
        var c = h2conn()
        // HEADERS with PADDED and PRIORITY: pad length, 5 bytes of priority, block, padding.
        let block = H2.idx(3) + H2.idx(7) + H2.lit(":path", "/up")
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.padded | H2.prio, 1, [4, 0, 0, 0, 0, 15] + block + [0, 0, 0, 0]))
        c.send(.out, h2frame(H2.data, H2.padded, 1, [3] + bytes("abc") + [0, 0, 0]))
        c.send(.out, h2frame(H2.data, H2.padded | H2.endStream, 1, [0] + bytes("def")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.padded, 1, [2] + H2.idx(8) + [0, 0]))
        c.send(.in, h2frame(H2.data, H2.endStream | H2.padded, 1, [255] + bytes("x") + [UInt8](repeating: 0, count: 255)))
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == 1)
        #expect(header(xs.first?.req, ":path") == "/up" && header(xs.first?.req, ":method") == "POST")
        #expect(xs.first?.reqText == "abcdef" && xs.first?.req?.len == 6)
        #expect(xs.first?.respText == "x" && xs.first?.resp?.len == 1)
        #expect(counters.malformed == 0)
    }

    @Test func paddingLongerThanThePayloadIsMalformed() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders, 1, H2.get("/")))
        c.send(.out, h2frame(H2.data, H2.padded | H2.endStream, 1, [9, 1, 2]))
        c.send(.out, h2frame(H2.data, H2.endStream, 1, bytes("ok")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)))
        let (xs, counters) = reassemble(c.records)
        #expect(counters.malformed == 1)
        #expect(xs.count == 1 && xs.first?.reqText == "ok" && xs.first?.flags == [])
    }

    @Test func continuationFramesMakeOneHeaderList() {
        var c = h2conn()
        let block = H2.get("/c") + H2.lit("x-a", "1") + H2.lit("x-b", "2")
        c.send(.out, h2frame(H2.headers, H2.endStream, 1, Array(block[0..<5])))
        c.send(.out, h2frame(H2.continuation, 0, 1, Array(block[5..<20])))
        c.send(.out, h2frame(H2.continuation, H2.endHeaders, 1, Array(block[20...])))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(13)))
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == 1)
        #expect(headerNames(xs.first?.req) == [":method", ":scheme", ":path", ":authority", "x-a", "x-b"])
        #expect(header(xs.first?.resp, ":status") == "404")
        #expect(counters.malformed == 0)
    }

    @Test func aFrameInsideAHeaderBlockIsMalformedAndDesyncs() {
        var c = h2conn()
        let block = H2.get("/c")
        c.send(.out, h2frame(H2.headers, H2.endStream, 1, Array(block[0..<5])))
        c.send(.out, h2frame(H2.ping, 0, 0, [UInt8](repeating: 1, count: 8)))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)))
        let (xs, counters) = reassemble(c.records)
        #expect(counters.malformed == 1)
        #expect(xs.count == 1 && xs.first?.flags.contains("hpack_desync") == true && xs.first?.req?.headers == nil)
    }

    @Test func rstStreamEndsTheExchange() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/slow")))
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.get("/fast")))
        c.send(.out, h2frame(H2.rst, 0, 1, [0, 0, 0, 8]))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.idx(8)))
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.stream) == [1, 3], "in order of completion")
        #expect(xs[0].flags == ["no_response", "reset"])
        #expect(xs[1].flags == [])
    }

    @Test func trailersFollowTheResponseHeaders() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(3) + H2.idx(7) + H2.lit(":path", "/t")))
        c.send(.out, h2frame(H2.data, 0, 1, bytes("body")))
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.lit("x-req-trailer", "yes")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 1, H2.lit(":status", "103") + H2.lit("link", "</s.css>")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8)))
        c.send(.in, h2frame(H2.data, 0, 1, bytes("resp")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.lit("x-checksum", "abc")))
        let (xs, _) = reassemble(c.records)
        #expect(xs.count == 1)
        #expect(headerNames(xs.first?.req) == [":method", ":scheme", ":path", "x-req-trailer"])
        #expect(headerNames(xs.first?.resp) == [":status", "link", ":status", "x-checksum"])
        #expect(header(xs.first?.resp, ":status") == "200", "the final status is the last")
        #expect(xs.first?.reqText == "body" && xs.first?.respText == "resp")
    }

    @Test func pushPromiseMakesAPushExchange() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/index.html")))
        let promised = H2.get("/style.css")
        c.send(.in, h2frame(H2.push, H2.endHeaders | H2.padded, 1, [2, 0, 0, 0, 2] + promised + [0, 0]))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8)))
        c.send(.in, h2frame(H2.data, H2.endStream, 1, bytes("<html>")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 2, H2.idx(8)))
        c.send(.in, h2frame(H2.data, H2.endStream, 2, bytes("p{}")))
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.stream) == [1, 2])
        let push = xs[1]
        #expect(push.flags == ["push"] && header(push.req, ":path") == "/style.css" && push.respText == "p{}")
        #expect(xs[0].flags == [] && xs[0].respText == "<html>")
    }

    @Test func pushPromiseSplitByContinuation() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/")))
        let promised = [0, 0, 0, 4] + H2.get("/a.js")
        c.send(.in, h2frame(H2.push, 0, 1, Array(promised[0..<7])))
        c.send(.in, h2frame(H2.continuation, H2.endHeaders, 1, Array(promised[7...])))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 4, H2.idx(8)))
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.stream) == [1, 4])
        #expect(header(xs[1].req, ":path") == "/a.js" && xs[1].flags == ["push"])
    }

    @Test func grpcMessagesAreCountedAcrossDataFrames() {
        var c = h2conn()
        let grpcHead = H2.idx(3) + H2.idx(7) + H2.lit(":path", "/pkg.Svc/Do") + H2.lit("content-type", "application/grpc+proto")
        c.send(.out, h2frame(H2.headers, H2.endHeaders, 1, grpcHead))
        // Two messages: 3 bytes and 0 bytes, the first split over two DATA frames.
        let msgs: [UInt8] = [0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0]
        c.send(.out, h2frame(H2.data, 0, 1, Array(msgs[0..<7])))
        c.send(.out, h2frame(H2.data, H2.endStream, 1, Array(msgs[7...])))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8) + H2.lit("content-type", "application/grpc")))
        c.send(.in, h2frame(H2.data, 0, 1, [1, 0, 0, 0, 2, 9, 9]))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.lit("grpc-status", "0")))
        let (xs, _) = reassemble(c.records)
        #expect(xs.count == 1 && xs.first?.proto == .grpc)
        #expect(xs.first?.req?.messages == 2 && xs.first?.resp?.messages == 1)
        #expect(xs.first?.req?.len == 13)
        #expect(header(xs.first?.resp, "grpc-status") == "0")
    }

    @Test func aTrailersOnlyGRPCResponse() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(3) + H2.lit(":path", "/p.S/M") + H2.lit("content-type", "application/grpc")))
        c.send(.out, h2frame(H2.data, H2.endStream, 1, [0, 0, 0, 0, 1, 7]))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1,
                            H2.idx(8) + H2.lit("content-type", "application/grpc") + H2.lit("grpc-status", "12")))
        let (xs, _) = reassemble(c.records)
        #expect(xs.first?.proto == .grpc && xs.first?.resp?.messages == 0 && header(xs.first?.resp, "grpc-status") == "12")
    }

    @Test func theDynamicTableIsKeptPerDirection() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/1") + H2.add("x-session", "s1")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8) + H2.add("x-server", "olly")))
        // Index 62 is the newest entry of each direction's own table.
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.get("/2") + H2.idx(62)))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.idx(8) + H2.idx(62)))
        let (xs, _) = reassemble(c.records)
        #expect(header(xs[1].req, "x-session") == "s1" && header(xs[1].resp, "x-server") == "olly")
        #expect(xs.allSatisfy { !$0.flags.contains("hpack_desync") })
    }

    @Test func headerTableSizeFromSettingsIsHonoured() throws {
        var s = HTTP2Session()
        var out = Emitter(), counters = Counters()
        let limits = Limits()
        func feed(_ side: Side, _ b: [UInt8]) {
            var rest = b
            while !rest.isEmpty {
                guard case .complete(let n) = rest.withUnsafeBufferPointer({ s.frame(side, $0) }) else { Issue.record("not whole"); return }
                s.message(side, Message(data: Array(rest.prefix(n))), &out, limits, &counters)
                rest.removeFirst(n)
            }
        }
        feed(.request, H2.preface + H2.settings([(1, 100)]))
        #expect(s.decoders[1].maxTableSize == 4096, "not before the peer acknowledges it")
        feed(.response, H2.settings() + H2.settingsAck)
        #expect(s.decoders[1].maxTableSize == 100)
        #expect(s.decoders[0].maxTableSize == 4096)
        // The server's encoder now holds at most 100 bytes: two 66-byte entries (name, value
        // and 32, RFC 7541 §4.1) do not fit.
        let v = String(repeating: "v", count: 30)
        feed(.request, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/")))
        feed(.response, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8) + H2.add("aaaa", v) + H2.add("bbbb", v)))
        feed(.request, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.get("/")))
        feed(.response, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.idx(8) + H2.idx(63)))
        #expect(out.exchanges.count == 2)
        #expect(out.exchanges[1].flags.contains(Flag.hpackDesync), "entry 63 was evicted at 100 bytes")
        #expect(counters.malformed == 1, "the table was exact: a reference outside it is malformed")
    }

    @Test func malformedControlFramesAreCountedAndSkipped() {
        var c = h2conn()
        c.send(.out, h2frame(H2.ping, 0, 0, [1, 2, 3]))
        c.send(.out, h2frame(H2.window, 0, 0, [0, 0, 1]))
        c.send(.out, h2frame(H2.settings, 0, 0, [0, 1, 0]))
        c.send(.out, h2frame(H2.priority, 0, 1, [0, 0]))
        c.send(.out, h2frame(H2.rst, 0, 0, [0, 0, 0, 0]))
        c.send(.out, h2frame(H2.goaway, 0, 1, [0, 0, 0, 0, 0, 0, 0, 0]))
        c.send(.out, h2frame(0x42, 0xFF, 7, bytes("unknown type: ignored")))
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/after")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)))
        let (xs, counters) = reassemble(c.records)
        #expect(counters.malformed == 6)
        #expect(xs.count == 1 && header(xs.first?.req, ":path") == "/after" && xs.first?.flags == [])
    }

    @Test func goawayFlushesRefusedStreams() {
        var c = h2conn()
        for id: UInt32 in [1, 3, 5] {
            c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, id, H2.get("/\(id)")))
        }
        c.send(.in, h2frame(H2.goaway, 0, 0, [0, 0, 0, 1, 0, 0, 0, 0]))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)))
        let (xs, _) = reassemble(c.records)
        #expect(xs.map(\.stream) == [3, 5, 1])
        #expect(xs[0].flags == ["no_response"] && xs[2].flags == [])
    }

    @Test func closeFlushesOpenStreams() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/waiting")))
        c.send(.out, h2frame(H2.headers, H2.endHeaders, 3, H2.idx(3) + H2.lit(":path", "/partial")))
        c.send(.out, h2frame(H2.data, 0, 3, bytes("half")))
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 5, H2.get("/answering")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 5, H2.idx(8)))
        c.send(.in, h2frame(H2.data, 0, 5, bytes("so far")))
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.map(\.stream) == [1, 3, 5])
        #expect(xs[0].flags == ["no_response"])
        #expect(xs[1].flags == ["truncated", "no_response"] && xs[1].reqText == "half")
        #expect(xs[2].flags == ["truncated"] && xs[2].respText == "so far")
        #expect(counters.noResponse == 2)
    }

    @Test func limitsEvictStreamsAndCutBodies() {
        var limits = Limits()
        limits.maxPending = 10
        limits.maxStreamBytes = 100
        var c = h2conn()
        for i in 0..<15 {
            c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, UInt32(2 * i + 1), H2.get("/\(i)")))
        }
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 29, H2.idx(8)))
        c.send(.in, h2frame(H2.data, 0, 29, [UInt8](repeating: 65, count: 80)))
        c.send(.in, h2frame(H2.data, H2.endStream, 29, [UInt8](repeating: 66, count: 80)))
        c.close()
        let (xs, counters) = reassemble(c.records, limits: limits)
        #expect(xs.count == 15)
        #expect(xs.prefix(5).allSatisfy { $0.flags == ["no_response", "evicted"] })
        #expect(xs.prefix(5).compactMap(\.stream) == [1, 3, 5, 7, 9])
        #expect(counters.pendingEvicted == 5)
        let big = xs.first { $0.stream == 29 }
        #expect(big?.resp?.len == 160 && big?.resp?.data.count == 100 && big?.flags == ["truncated"])
    }

    @Test func aGapLeavesHPACKDesyncOnlyWhereTheTableIsNeeded() {
        var c = h2conn()
        // Stream 1 adds "x-token: t1" to the client's table.
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/1") + H2.add("x-token", "t1")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)))
        // A request-direction record is lost (a WINDOW_UPDATE): 13 bytes of gap.
        c.send(.out, h2frame(H2.window, 0, 0, [0, 0, 1, 0]), captured: 0)
        // Stream 3 refers to the entry from before the gap: it cannot be decoded.
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.get("/3") + H2.idx(62)))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.idx(8)))
        // Stream 5 adds and uses an entry of its own, after the gap: decoded exactly.
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 5, H2.get("/5") + H2.add("x-token", "t5")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 5, H2.idx(8)))
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 7, H2.get("/7") + H2.idx(62)))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 7, H2.idx(8)))
        let (xs, counters) = reassemble(c.records)
        #expect(xs.map(\.stream) == [1, 3, 5, 7])
        #expect(xs[1].flags == ["hpack_desync"] && xs[1].req?.headers == nil && header(xs[1].resp, ":status") == "200")
        #expect(header(xs[2].req, ":path") == "/5" && xs[2].flags == [])
        #expect(header(xs[3].req, "x-token") == "t5" && xs[3].flags == [])
        #expect(counters.hpackDesync == 1 && counters.malformed == 0 && counters.gaps == 1)
    }

    @Test func aGapInsideADataFrameKeepsTheFrameAndFlagsIt() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8)))
        let body = h2frame(H2.data, H2.endStream, 1, bytes("0123456789"))
        c.send(.in, Array(body[0..<13]))
        c.send(.in, Array(body[13...]), captured: 2)
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.get("/next")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.idx(8)))
        let (xs, _) = reassemble(c.records)
        #expect(xs.count == 2)
        #expect(xs[0].flags == ["gap"] && xs[0].resp?.len == 10 && xs[0].respText == "012345")
        #expect(xs[1].flags == [] && header(xs[1].req, ":path") == "/next")
    }

    @Test func aGapBetweenFramesResynchronisesOnAFrameBoundary() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/1")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8)))
        // Half of a DATA frame is lost with the record that held it; the next record starts a frame.
        let lost = h2frame(H2.data, 0, 1, [UInt8](repeating: 7, count: 40))
        c.send(.in, Array(lost[0..<20]))
        c.send(.in, Array(lost[20...]), captured: 0)
        c.send(.in, h2frame(H2.data, H2.endStream, 1, bytes("tail")))
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.get("/3")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.idx(8)))
        let (xs, counters) = reassemble(c.records)
        #expect(xs.map(\.stream) == [1, 3])
        #expect(xs[0].flags == ["gap"] && xs[0].resp?.len == 44 && xs[0].respText.hasSuffix("tail"))
        #expect(xs[1].flags == [])
        #expect(counters.malformed == 0)
    }

    @Test func aCaptureThatStartsMidConnection() {
        // No conn record, no preface: the first records start at frame boundaries, offsets > 0.
        var c = Conn(cid: 9, raddr: "127.0.0.1:8443", open: false)
        c.offs = [5000, 7000]
        // Stream 5's request was before the capture; its response is here.
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 5, H2.idx(8)) + h2frame(H2.data, H2.endStream, 5, bytes("late")))
        // Stream 7 uses only static entries and literals: decoded exactly.
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 7, H2.get("/seven")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 7, H2.idx(8)))
        // Stream 9 refers to a dynamic entry from before the capture: not guessed.
        c.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 9, H2.get("/nine") + H2.idx(70)))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 9, H2.idx(8)))
        c.close()
        let (xs, counters) = reassemble(c.records)
        #expect(xs.allSatisfy { $0.proto == .http2 })
        #expect(xs.map(\.stream) == [5, 7, 9])
        #expect(xs[0].flags == ["no_request"] && xs[0].respText == "late")
        #expect(xs[1].flags == [] && header(xs[1].req, ":path") == "/seven")
        #expect(xs[2].flags == ["hpack_desync"] && xs[2].req?.headers == nil)
        #expect(counters.malformed == 0 && counters.hpackDesync == 1)
    }

    @Test func midConnectionBytesThatAreNotFramesAreNotHTTP2() {
        var c = Conn(cid: 9, raddr: "127.0.0.1:9999", open: false)
        c.offs = [100, 100]
        c.send(.out, bytes("\u{1}\u{2}\u{3} some binary protocol"))
        c.send(.in, bytes("reply"))
        c.close()
        let (xs, _) = reassemble(c.records)
        #expect(xs.allSatisfy { $0.proto == .unknown })
    }

    /// The vectors above as one connection: every truncated prefix of each direction, and one
    /// byte per record, never crash; the whole gives the same exchanges whichever way it is fed.
    @Test func truncatedPrefixesAndDripFeeding() {
        var c = h2conn()
        c.send(.out, h2frame(H2.headers, H2.endHeaders, 1, H2.idx(3) + H2.idx(7) + H2.lit(":path", "/p") + H2.add("x-s", "1")))
        c.send(.out, h2frame(H2.data, H2.padded | H2.endStream, 1, [2] + bytes("up") + [0, 0]))
        let big = H2.get("/c") + H2.lit("x-a", "1") + H2.idx(62)
        c.send(.out, h2frame(H2.headers, H2.endStream, 3, Array(big[0..<6])) + h2frame(H2.continuation, H2.endHeaders, 3, Array(big[6...])))
        c.send(.in, h2frame(H2.push, H2.endHeaders, 1, [0, 0, 0, 2] + H2.get("/pushed")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.padded, 1, [1] + H2.idx(8) + [0]))
        c.send(.in, h2frame(H2.data, H2.endStream, 1, bytes("one")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders, 3, H2.idx(8)) + h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.lit("t", "x")))
        c.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 2, H2.idx(8)))
        c.close()
        let (whole, wc) = reassemble(c.records)
        #expect(whole.map(\.stream) == [1, 3, 2])
        #expect(whole.allSatisfy { $0.flags == [] || $0.flags == ["push"] })
        #expect(wc.malformed == 0)
        let (dripped, _) = reassemble(drip(c.records))
        #expect(dripped == whole)
        // Every prefix of every data record's bytes, the rest of the connection cut there.
        for (i, r) in c.records.enumerated() {
            guard case .data(let d) = r else { continue }
            for n in 0..<d.data.count {
                var recs = Array(c.records[..<i])
                var t = d
                t.data = Array(d.data.prefix(n))
                t.len = Int64(n)
                recs.append(.data(t))
                recs.append(c.records[c.records.count - 1])
                let (xs, _) = reassemble(recs)
                #expect(xs.count <= whole.count + 1)
            }
        }
    }

    /// h2 over TLS as a hook captures it: the socket's handshake records, then the
    /// plaintext of SSL_write/SSL_read (`tls: true`) with offsets of their own.
    @Test func tlsPlaintextBesideTheHandshake() {
        var c = Conn(cid: 3, raddr: "127.0.0.1:443")
        let hello: [UInt8] = [22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0]
        c.send(.out, hello)
        c.send(.in, [22, 3, 3, 0, 4, 2, 0, 0, 0] + [20, 3, 3, 0, 1, 1])
        c.send(.out, [20, 3, 3, 0, 1, 1])
        var p = Conn(cid: 3, raddr: "127.0.0.1:443", open: false)
        p.ts = c.ts
        p.send(.out, H2.preface + H2.settings(), tls: true)
        p.send(.in, H2.settings() + H2.settingsAck, tls: true)
        p.send(.out, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/secure")), tls: true)
        c.ts = p.ts
        c.send(.out, [23, 3, 3, 0, 3, 9, 9, 9]) // ciphertext beside plaintext: skipped
        p.send(.in, h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)), tls: true)
        p.ts += 1000
        let records = c.records.prefix(4) + p.records + c.records.suffix(1) + [.conn(p.connRecord(.close))]
        let (xs, counters) = reassemble(Array(records))
        #expect(xs.count == 1 && xs.first?.proto == .http2 && header(xs.first?.req, ":path") == "/secure")
        #expect(xs.first?.flags == [] && header(xs.first?.resp, ":status") == "200")
        #expect(counters.skippedBytes == Int64(hello.count + 15 + 6 + 8) && counters.unknownExchanges == 0)
        // Without the plaintext, the ciphertext is what there is: unknown exchanges, as before.
        let (raw, _) = reassemble(Array(c.records.prefix(4)) + [.conn(c.connRecord(.close))])
        #expect(raw.count == 2 && raw.allSatisfy { $0.proto == .unknown })
    }

    /// Arbitrary bytes after the preface: counted and skipped, never a crash.
    @Test func garbageNeverCrashes() {
        var rng = SeededGenerator(seed: 2)
        for _ in 0..<200 {
            var c = h2conn()
            let n = Int.random(in: 1...300, using: &rng)
            c.send(.out, (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
            c.send(.in, (0..<n).map { _ in UInt8.random(in: 0...12, using: &rng) })
            c.close()
            _ = reassemble(c.records)
            _ = reassemble(drip(c.records))
        }
    }
}

// MARK: - Real traffic

/// The recorded fixtures (scripts/record-fixtures.py http2|grpc) against what the clients
/// asked for: nghttp, h2load and nghttpd; Python grpcio.
@Suite struct HTTP2FixtureTests {
    func exchanges(_ name: String) throws -> [ExchangeRecord] {
        let text = try String(contentsOfFile: "\(fixtureDir)/\(name).ndjson", encoding: .utf8)
        let records = try text.split(separator: "\n").map { try Record.decodeNDJSON(String($0)) }
        return reassemble(records).0
    }

    /// nghttp asked for /many/f000 … /many/f099 on one connection, 100 streams at once; each
    /// file holds "this is file N\n" (N mod 7 + 1) times.
    @Test func oneHundredConcurrentStreamsAreEachRight() throws {
        let xs = try exchanges("http2").filter { header($0.req, ":path")?.hasPrefix("/many/") == true }
        #expect(xs.count == 100)
        #expect(Set(xs.map(\.cid)).count == 1, "one connection")
        #expect(Set(xs.compactMap(\.stream)).count == 100)
        for x in xs {
            let path = try #require(header(x.req, ":path"))
            let n = try #require(Int(path.dropFirst("/many/f".count)))
            #expect(x.respText == String(repeating: "this is file \(n)\n", count: n % 7 + 1), "\(path)")
            #expect(header(x.resp, ":status") == "200" && x.flags.isEmpty && x.proto == .http2)
            #expect(x.resp?.len == Int64(x.respText.utf8.count))
        }
        // Multiplexed: requests were all sent before most responses came.
        let lastRequest = xs.compactMap { $0.req?.ts }.max() ?? 0
        #expect(xs.filter { ($0.resp?.ts ?? 0) < lastRequest }.count < 100)
    }

    @Test func nghttpAndNghttpdSayWhatTheyDid() throws {
        let xs = try exchanges("http2")
        #expect(xs.count == 129)
        #expect(xs.allSatisfy { $0.proto == .http2 })
        #expect(xs.allSatisfy { $0.flags.isEmpty || $0.flags == ["push"] })
        func first(_ method: String, _ path: String, where extra: (ExchangeRecord) -> Bool = { _ in true }) -> ExchangeRecord? {
            xs.first { header($0.req, ":method") == method && header($0.req, ":path") == path && extra($0) }
        }
        let missing = try #require(first("GET", "/missing"))
        #expect(header(missing.resp, ":status") == "404")
        let head = try #require(first("HEAD", "/index.html"))
        #expect(header(head.resp, ":status") == "200" && head.resp?.len == 0 && header(head.resp, "content-length") == "95")
        // POST of 3000 lines (75,000 bytes) over several DATA frames; nghttpd answers with /echo's file.
        let upload = (0..<3000).map { String(format: "line %05d of the upload\n", $0) }.joined()
        let post = try #require(first("POST", "/echo") { header($0.resp, "x-served-by") == nil })
        #expect(post.reqText == upload && post.req?.len == 75000 && post.respText == "echo\n")
        // The second nghttpd: padded frames, trailers, the upload echoed after 100-continue.
        let echoed = try #require(first("POST", "/echo") { header($0.resp, "x-served-by") != nil })
        #expect(echoed.respText == upload)
        #expect((echoed.resp?.headers ?? []).filter { $0.0 == ":status" }.map(\.1) == ["100", "200"])
        #expect(echoed.resp?.headers?.last?.0 == "x-served-by", "the trailer comes last")
        // Server push: /style.css promised with /index.html, on an even stream.
        let push = try #require(xs.first { $0.flags == ["push"] })
        #expect(header(push.req, ":path") == "/style.css" && push.respText == "p { color: teal }\n")
        #expect((push.stream ?? 1) % 2 == 0)
        // --continuation: the request's header block did not fit in one frame.
        let big = xs.filter { ($0.req?.headers ?? []).reduce(0) { $0 + $1.1.utf8.count } > 16384 }
        #expect(big.count == 2)
        // h2load: 20 requests on one connection.
        #expect(xs.filter { header($0.req, "user-agent")?.hasPrefix("h2load") == true }.count == 20)
    }

    /// What the Python client called and got (grpc.calls.json, written by the client itself).
    @Test func grpcExchangesSayWhatTheClientDid() throws {
        struct Call: Decodable { var method: String; var status: Int; var requests: [String]; var responses: [String] }
        let data = try String(contentsOfFile: "\(fixtureDir)/grpc.calls.json", encoding: .utf8)
        let calls = try JSONDecoder().decode([Call].self, from: Data(data.utf8))
        let xs = try exchanges("grpc")
        #expect(xs.count == calls.count)
        for (x, call) in zip(xs.sorted { ($0.stream ?? 0) < ($1.stream ?? 0) }, calls) {
            #expect(x.proto == .grpc)
            #expect(header(x.req, ":path") == "/olly.test.Greeter/\(call.method)")
            #expect(x.req?.messages == Int64(call.requests.count), "\(call.method)")
            if call.status == 1 {
                // Cancelled by the client: RST_STREAM, no trailers.
                #expect(x.flags == ["reset"] && header(x.resp, "grpc-status") == nil)
                #expect(x.resp?.messages == Int64(call.responses.count))
            } else {
                #expect(header(x.resp, "grpc-status") == String(call.status), "\(call.method)")
                #expect(x.resp?.messages == Int64(call.responses.count), "\(call.method)")
                #expect(x.flags.isEmpty)
            }
        }
    }

    /// A gap in the middle of a real connection (h2load's: 20 requests, 10 at a time): the
    /// record holding nghttpd's first ten responses is lost. The streams it answered are
    /// flagged; the later response header blocks that refer to table entries added in the lost
    /// record are `hpack_desync` (never guessed); every header list that was decoded is
    /// exactly what it was without the gap.
    @Test func aGapInRealTrafficNeverGuessesHeaders() throws {
        let text = try String(contentsOfFile: "\(fixtureDir)/http2.ndjson", encoding: .utf8)
        var records = try text.split(separator: "\n").map { try Record.decodeNDJSON(String($0)) }
        let whole = reassemble(records).0
        let cid = try #require(whole.first { header($0.req, "user-agent")?.hasPrefix("h2load") == true }?.cid)
        let ins = records.indices.filter { if case .data(let d) = records[$0], d.cid == cid, d.dir == .in { return true } else { return false } }
        #expect(ins.count == 3)
        guard case .data(var d) = records[ins[1]] else { return }
        d.data = []
        records[ins[1]] = .data(d)
        let (xs, counters) = reassemble(records)
        #expect(counters.gaps == 1)
        func list(_ h: [(String, String)]?) -> [String]? { h?.map { "\($0.0)=\($0.1)" } }
        let before = Dictionary(uniqueKeysWithValues: whole.filter { $0.cid == cid }.map { ($0.stream ?? 0, $0) })
        var decoded = 0, desync = 0
        for x in xs where x.cid == cid {
            let w = try #require(before[x.stream ?? 0])
            #expect(list(x.req?.headers) == list(w.req?.headers), "the request direction had no gap")
            if x.flags.contains("hpack_desync") {
                desync += 1
                #expect(x.resp?.headers == nil)
                #expect(x.respText == w.respText, "DATA frames are framed all the same")
            } else if let h = x.resp?.headers {
                decoded += 1
                #expect(list(h) == list(w.resp?.headers))
                #expect(x.respText == w.respText)
            }
        }
        // The ten later responses refer to entries (server, date, content-type…) that the
        // first ten added; the first ten were lost whole.
        #expect(desync == 10 && decoded == 0 && counters.hpackDesync == 10)
        #expect(xs.filter { $0.cid == cid && $0.flags == ["gap", "no_response"] }.count == 10)
        #expect(xs.filter { $0.cid == cid }.count == 20)
        #expect(xs.filter { $0.cid != cid } == whole.filter { $0.cid != cid })
    }
}

/// Real HTTP/2 and gRPC traffic with bytes flipped at random (seeded): malformed frames and
/// undecodable header blocks are counted, never a crash; the stage goes on.
@Suite struct HTTP2CorruptionTests {
    @Test(arguments: ["http2", "grpc"])
    func flippedBytesNeverCrash(_ name: String) throws {
        let text = try String(contentsOfFile: "\(fixtureDir)/\(name).ndjson", encoding: .utf8)
        let records = try text.split(separator: "\n").map { try Record.decodeNDJSON(String($0)) }
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<40 {
            var recs = records
            for _ in 0..<8 {
                let i = Int.random(in: 0..<recs.count, using: &rng)
                guard case .data(var d) = recs[i], !d.data.isEmpty else { continue }
                d.data[Int.random(in: 0..<d.data.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                recs[i] = .data(d)
            }
            let (xs, _) = reassemble(recs)
            #expect(!xs.isEmpty)
        }
    }
}

/// h2 over TLS recorded by olly-capture's hook (scripts/record-fixtures.py http2tls).
@Suite struct HTTP2TLSFixtureTests {
    @Test func plaintextOfTheSSLHooksIsReassembled() throws {
        let text = try String(contentsOfFile: "\(fixtureDir)/http2tls.ndjson", encoding: .utf8)
        let records = try text.split(separator: "\n").map { try Record.decodeNDJSON(String($0)) }
        #expect(records.contains { if case .data(let d) = $0 { return d.tls } else { return false } })
        #expect(records.contains { if case .data(let d) = $0 { return !d.tls && d.data.first == 22 } else { return false } },
                "the TLS handshake is in the capture too")
        let (xs, counters) = reassemble(records)
        #expect(xs.count == 3 && xs.allSatisfy { $0.proto == .http2 && $0.flags.isEmpty })
        #expect(xs.map { header($0.req, ":path") } == ["/index.html", "/missing", "/echo"])
        #expect(xs.allSatisfy { header($0.req, ":scheme") == "https" })
        #expect(xs.map { header($0.resp, ":status") } == ["200", "404", "200"])
        let upload = (0..<1000).map { String(format: "secret line %04d\n", $0) }.joined()
        #expect(xs[2].reqText == upload && xs[2].respText == "echo\n")
        #expect(counters.skippedBytes > 0 && counters.unknownExchanges == 0)
    }
}

/// Table-driven HTTP/2 vectors: the client's and the server's bytes after the connection
/// preface and SETTINGS, and what the exchanges must say. Each vector is also fed one byte
/// per record (same exchanges) and cut after every byte of each direction (never a crash,
/// never an exchange the whole does not have, and header lists only ever a prefix of the
/// whole's).
@Suite struct HTTP2TableTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var client: [UInt8]
        var server: [UInt8]
        /// Per exchange in order: stream, flags, :path, final :status, request body, response body.
        var want: [(Int64, [String], String?, String?, String, String)]
        var malformed: Int64 = 0
        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "GET, padded DATA",
               client: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/a")),
               server: h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8)) + h2frame(H2.data, H2.padded | H2.endStream, 1, [3] + bytes("body") + [0, 0, 0]),
               want: [(1, [], "/a", "200", "", "body")]),
        Vector(name: "padded HEADERS with priority, request body in two frames",
               client: h2frame(H2.headers, H2.endHeaders | H2.padded | H2.prio, 1, [1, 0, 0, 0, 0, 16] + H2.idx(3) + H2.lit(":path", "/p") + [0])
                   + h2frame(H2.data, 0, 1, bytes("ab")) + h2frame(H2.data, H2.endStream, 1, bytes("cd")),
               server: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(13)),
               want: [(1, [], "/p", "404", "abcd", "")]),
        Vector(name: "CONTINUATION twice",
               client: h2frame(H2.headers, H2.endStream, 1, Array(H2.get("/cont")[0..<3]))
                   + h2frame(H2.continuation, 0, 1, Array(H2.get("/cont")[3..<9]))
                   + h2frame(H2.continuation, H2.endHeaders, 1, Array(H2.get("/cont")[9...])),
               server: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)),
               want: [(1, [], "/cont", "200", "", "")]),
        Vector(name: "RST_STREAM by the client",
               client: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/r")) + h2frame(H2.rst, 0, 1, [0, 0, 0, 8]),
               server: [],
               want: [(1, ["no_response", "reset"], "/r", nil, "", "")]),
        Vector(name: "RST_STREAM by the server after part of the response",
               client: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/r")),
               server: h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8)) + h2frame(H2.data, 0, 1, bytes("par"))
                   + h2frame(H2.rst, 0, 1, [0, 0, 0, 2]),
               want: [(1, ["reset"], "/r", "200", "", "par")]),
        Vector(name: "trailers",
               client: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/t")),
               server: h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8)) + h2frame(H2.data, 0, 1, bytes("x"))
                   + h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.lit("grpc-status", "0")),
               want: [(1, [], "/t", "200", "", "x")]),
        Vector(name: "PUSH_PROMISE",
               client: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/")),
               server: h2frame(H2.push, H2.endHeaders, 1, [0, 0, 0, 2] + H2.get("/pushed"))
                   + h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8))
                   + h2frame(H2.headers, H2.endHeaders, 2, H2.idx(8)) + h2frame(H2.data, H2.endStream, 2, bytes("p")),
               want: [(1, [], "/", "200", "", ""), (2, ["push"], "/pushed", "200", "", "p")]),
        Vector(name: "interleaved streams complete out of order",
               client: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/1")) + h2frame(H2.headers, H2.endHeaders | H2.endStream, 3, H2.get("/3")),
               server: h2frame(H2.headers, H2.endHeaders, 3, H2.idx(8)) + h2frame(H2.headers, H2.endHeaders, 1, H2.idx(8))
                   + h2frame(H2.data, 0, 1, bytes("one")) + h2frame(H2.data, H2.endStream, 3, bytes("three"))
                   + h2frame(H2.data, H2.endStream, 1, bytes("!")),
               want: [(3, [], "/3", "200", "", "three"), (1, [], "/1", "200", "", "one!")]),
        Vector(name: "PING, WINDOW_UPDATE, PRIORITY, an unknown type and GOAWAY between",
               client: h2frame(H2.ping, 0, 0, [UInt8](repeating: 0, count: 8)) + h2frame(H2.priority, 0, 3, [0, 0, 0, 0, 1])
                   + h2frame(0xA, 0, 0, bytes("altsvc")) + h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/g")),
               server: h2frame(H2.ping, H2.ack, 0, [UInt8](repeating: 0, count: 8)) + h2frame(H2.window, 0, 0, [0, 0, 1, 0])
                   + h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)) + h2frame(H2.goaway, 0, 0, [0, 0, 0, 1, 0, 0, 0, 0]),
               want: [(1, [], "/g", "200", "", "")]),
        Vector(name: "malformed: SETTINGS on a stream, WINDOW_UPDATE of 3 bytes",
               client: h2frame(H2.settings, 0, 1, []) + h2frame(H2.window, 0, 1, [0, 0, 1])
                   + h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.get("/m")),
               server: h2frame(H2.headers, H2.endHeaders | H2.endStream, 1, H2.idx(8)),
               want: [(1, [], "/m", "200", "", "")], malformed: 2),
    ]

    func conn(_ v: Vector) -> Conn {
        var c = h2conn()
        if !v.client.isEmpty { c.send(.out, v.client) }
        if !v.server.isEmpty { c.send(.in, v.server) }
        c.close()
        return c
    }

    func list(_ m: ExchangeMessage?) -> [String]? { m?.headers?.map { "\($0.0)=\($0.1)" } }

    @Test(arguments: vectors)
    func vector(_ v: Vector) {
        let c = conn(v)
        let (xs, counters) = reassemble(c.records)
        #expect(xs.count == v.want.count)
        for (x, w) in zip(xs, v.want) {
            #expect(x.stream == w.0 && x.flags == w.1, "\(x.stream ?? -1) \(x.flags)")
            #expect(header(x.req, ":path") == w.2 && header(x.resp, ":status") == w.3)
            #expect(x.reqText == w.4 && x.respText == w.5)
            #expect(x.req?.len == Int64(w.4.utf8.count))
        }
        #expect(counters.malformed == v.malformed)
        #expect(reassemble(drip(c.records)).0 == xs, "one byte per record")
        // Every prefix: the records up to a cut, the cut record shortened, then the close.
        let whole = Dictionary(xs.map { ($0.stream ?? 0, $0) }, uniquingKeysWith: { a, _ in a })
        for (i, r) in c.records.enumerated() {
            guard case .data(let d) = r else { continue }
            for n in 0..<d.data.count {
                var t = d
                t.data = Array(d.data.prefix(n))
                t.len = Int64(n)
                let (cut, _) = reassemble(Array(c.records[..<i]) + [.data(t), c.records[c.records.count - 1]])
                for x in cut {
                    if x.proto == .unknown {
                        // Cut inside the preface: the connection never said it was HTTP/2.
                        #expect(i == 1 && n < 24, "\(v.name): cut at \(i)/\(n)")
                        continue
                    }
                    let w = whole[x.stream ?? 0]
                    #expect(w != nil, "\(v.name): cut at \(i)/\(n) made stream \(x.stream ?? -1) \(x.flags) \(x.proto)")
                    // What was decoded is what the whole has, up to where the bytes ended.
                    if let h = list(x.req) { #expect(list(w?.req)?.starts(with: h) == true) }
                    if let h = list(x.resp) { #expect(list(w?.resp)?.starts(with: h) == true) }
                }
            }
        }
    }
}
