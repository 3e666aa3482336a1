import Testing
@testable import OllyReassembly

/// Table-driven framing vectors per protocol: the whole message frames to its length, every
/// truncated prefix asks for more (never a complete message, never a crash), and malformed
/// input is `.invalid`.
@Suite struct FramingVectorTests {
    struct Vector: CustomStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        /// The length the message frames to (trailing bytes are the next message's).
        var length: Int
        var description: String { name }
        init(name: String, bytes: [UInt8], length: Int) { self.name = name; self.bytes = bytes; self.length = length }
        /// A message and what follows it in the stream.
        init(_ name: String, _ message: String, then rest: String = "") {
            self.init(name: name, bytes: OllyReassemblyTests.bytes(message + rest), length: message.utf8.count)
        }
    }

    static let httpRequests: [Vector] = [
        Vector("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        Vector("POST content-length", "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", then: "GET"),
        Vector("chunked with trailers", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"),
        Vector("HTTP/1.0 bare LF", "GET / HTTP/1.0\nA: b\n\n"),
        Vector("repeated equal content-length", "PUT / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nok"),
    ]
    static let httpResponses: [Vector] = [
        Vector("200 content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        Vector("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        Vector("204 no body", "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"),
        Vector("304", "HTTP/1.1 304 Not Modified\r\n\r\n"),
        Vector("100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
        Vector("101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", then: "opaque"),
    ]
    static let redisValues: [Vector] = [
        Vector("simple", "+OK\r\n"),
        Vector("error", "-ERR x\r\n"),
        Vector("integer", ":-12\r\n"),
        Vector("bulk", "$5\r\nhe\r\no\r\n", then: "+next"),
        Vector("null bulk", "$-1\r\n"),
        Vector("null array", "*-1\r\n"),
        Vector("nested", "*2\r\n*1\r\n:1\r\n$1\r\na\r\n"),
        Vector("resp3 map", "%1\r\n+k\r\n#t\r\n"),
        Vector("resp3 attribute then value", "|1\r\n+ttl\r\n:3\r\n+v\r\n"),
        Vector("resp3 null double bignum verbatim", "*4\r\n_\r\n,1.5\r\n(12345678901234567890123\r\n=7\r\ntxt:abc\r\n"),
        Vector("push", ">2\r\n+a\r\n+b\r\n"),
        Vector("empty array", "*0\r\n"),
    ]
    static let redisCommands: [Vector] = [
        Vector("array", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
        Vector("inline", "PING\r\n", then: "PING\r\n"),
    ]
    static let dnsQuery: [UInt8] = [0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 0,
                                    7] + bytes("example") + [4] + bytes("test") + [0, 0, 1, 0, 1]
    static let dnsResponse: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
                                       7] + bytes("example") + [4] + bytes("test") + [0, 0, 1, 0, 1,
                                       0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]
    static func pg(_ t: Character, _ body: [UInt8]) -> [UInt8] {
        let n = UInt32(body.count + 4)
        return [UInt8(ascii: t.unicodeScalars.first!)] + [UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + body
    }
    static let pgStartup: [UInt8] = {
        let body: [UInt8] = [0, 3, 0, 0] + bytes("user\0olly\0\0")
        let n = UInt32(body.count + 4)
        return [UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + body
    }()

    func checkPrefixes(_ v: Vector, _ f: (Bytes) -> Frame) {
        #expect(frame(v.bytes, f) == .complete(v.length), "\(v.name)")
        for n in 0..<v.length {
            let r = frame(Array(v.bytes.prefix(n)), f)
            switch r {
            case .needMore(let atLeast, _): #expect(atLeast > n, "\(v.name) prefix \(n)")
            case .untilClose: break
            default: Issue.record("\(v.name): prefix of \(n) bytes gave \(r)")
            }
        }
    }

    @Test(arguments: httpRequests) func httpRequest(_ v: Vector) { checkPrefixes(v) { HTTP1.frameRequest($0) } }
    @Test(arguments: httpResponses) func httpResponse(_ v: Vector) { checkPrefixes(v) { HTTP1.frameResponse($0, answering: nil) } }
    @Test(arguments: redisValues) func redisValue(_ v: Vector) { checkPrefixes(v) { RESP.frameValue($0) } }
    @Test(arguments: redisCommands) func redisCommand(_ v: Vector) { checkPrefixes(v) { RESP.frameCommand($0) } }

    @Test func dnsOverTCPAndUDP() {
        let tcp = [0, UInt8(Self.dnsQuery.count)] + Self.dnsQuery
        checkPrefixes(Vector(name: "dns tcp", bytes: tcp, length: tcp.count)) { DNSSession(datagram: false).frame(.request, $0) }
        #expect(frame(Self.dnsResponse) { DNSSession(datagram: true).frame(.response, $0) } == .complete(Self.dnsResponse.count))
        // A name running past the end, a bad label type, an opcode out of range.
        #expect(frame(Array(Self.dnsQuery.dropLast(5))) { DNSSession(datagram: true).frame(.request, $0) } == .invalid)
        var bad = Self.dnsQuery; bad[12] = 0x80
        #expect(frame(bad) { DNSSession(datagram: true).frame(.request, $0) } == .invalid)
        bad = Self.dnsQuery; bad[2] = 0x78
        #expect(frame(bad) { DNSSession(datagram: true).frame(.request, $0) } == .invalid)
    }

    @Test func postgresMessages() {
        checkPrefixes(Vector(name: "startup", bytes: Self.pgStartup, length: Self.pgStartup.count)) { PG.startup($0) }
        let q = Self.pg("Q", bytes("SELECT 1\0"))
        checkPrefixes(Vector(name: "query", bytes: q, length: q.count)) { PG.typed($0, 0, types: PG.frontendTypes) }
        let z = Self.pg("Z", [UInt8(ascii: "I")])
        checkPrefixes(Vector(name: "ready", bytes: z + z, length: z.count)) { PG.typed($0, 0, types: PG.backendTypes) }
        #expect(frame(Self.pg("?", [])) { PG.typed($0, 0, types: PG.frontendTypes) } == .invalid)
        #expect(frame([UInt8(ascii: "Q"), 0, 0, 0, 2]) { PG.typed($0, 0, types: PG.frontendTypes) } == .invalid)
        #expect(frame([0, 0, 0, 8, 0, 9, 9, 9]) { PG.startup($0) } == .invalid)
    }

    /// Malformed input is `.invalid`, never a crash or a message.
    @Test(arguments: [
        "GET / HTTP/2.0\r\n\r\n", "GET  HTTP/1.1\r\n\r\n", "G\u{1}T / HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
        "GET / HTTP/1.1\r\n bad: fold\r\n\r\n", "GET / HTTP/1.1\r\nnocolon\r\n\r\n",
    ])
    func httpMalformed(_ s: String) {
        #expect(frame(bytes(s)) { HTTP1.frameRequest($0) } == .invalid, "\(s.debugDescription)")
    }

    @Test(arguments: ["?x\r\n", "$abc\r\n", "$-2\r\n", "*-2\r\n", "#x\r\n", "_x\r\n", "$1\r\nab\r\n", "+ok\n",
                      String(repeating: "*1\r\n", count: 100) + ":1\r\n"])
    func redisMalformed(_ s: String) {
        #expect(frame(bytes(s)) { RESP.frameValue($0) } == .invalid, "\(s.debugDescription)")
    }

    @Test func headersTooLongAreInvalid() {
        let long = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: HTTP1.maxHead + 10)
        #expect(frame(bytes(long)) { HTTP1.frameRequest($0) } == .invalid)
    }

    /// The response to HEAD has no body whatever Content-Length says; to CONNECT 2xx neither.
    @Test func requestKindChangesResponseLength() {
        let r = bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        #expect(frame(r) { HTTP1.frameResponse($0, answering: .init(head: true)) } == .complete(r.count))
        #expect(frame(r) { HTTP1.frameResponse($0, answering: .init(connect: true)) } == .complete(r.count))
        #expect(frame(r) { HTTP1.frameResponse($0, answering: nil) } == .needMore(atLeast: r.count + 100, exact: true))
        let close = bytes("HTTP/1.0 200 OK\r\n\r\nbody")
        #expect(frame(close) { HTTP1.frameResponse($0, answering: nil) } == .untilClose)
    }

    /// Random bytes never crash a framer.
    @Test func randomBytesNeverCrash() {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<3000 {
            let n = Int(rng.next() % 64)
            var b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if n > 0 && rng.next() % 2 == 0 { b[0] = [UInt8(ascii: "*"), UInt8(ascii: "$"), UInt8(ascii: "G"), UInt8(ascii: "H"), 0][Int(rng.next() % 5)] }
            _ = frame(b) { HTTP1.frameRequest($0) }
            _ = frame(b) { HTTP1.frameResponse($0, answering: nil) }
            _ = frame(b) { RESP.frameValue($0) }
            _ = frame(b) { RESP.frameCommand($0) }
            _ = frame(b) { DNSSession(datagram: false).frame(.request, $0) }
            _ = frame(b) { DNSSession(datagram: true).frame(.request, $0) }
            _ = frame(b) { PG.startup($0) }
            _ = frame(b) { PG.typed($0, 0, types: PG.backendTypes) }
            _ = b.withUnsafeBufferPointer { RESP.boundary($0, from: 0, command: false) }
            _ = b.withUnsafeBufferPointer { PG.boundary($0, from: 0, types: PG.backendTypes) }
        }
    }
}

/// A deterministic generator (SplitMix64): the same bytes on every run, so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
