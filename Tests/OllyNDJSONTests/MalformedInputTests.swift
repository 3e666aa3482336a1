import Testing
@testable import OllyNDJSON

/// Each bad line gives a precise message at a precise column (offset), never a crash.
struct BadLine: CustomTestStringConvertible, Sendable {
    let line: [UInt8]
    let message: String
    let offset: Int?
    init(_ s: String, _ message: String, at offset: Int? = nil) { line = Array(s.utf8); self.message = message; self.offset = offset }
    init(bytes: [UInt8], _ message: String, at offset: Int? = nil) { line = bytes; self.message = message; self.offset = offset }
    var testDescription: String { String(decoding: line, as: UTF8.self) }
}

@Suite struct MalformedInputTests {
    static let cases: [BadLine] = [
        BadLine("", "unexpected end of record", at: 0),
        BadLine("[]", "expected '{', found '['", at: 0),
        BadLine("{", "unexpected end of record"),
        BadLine(#"{"kind":"data""#, "unexpected end of record"),
        BadLine(#"{"kind" "data"}"#, "expected ':'", at: 8),
        BadLine(#"{"kind":"edge",}"#, "expected a key, found '}'", at: 15),
        BadLine(#"{"kind":"edge" "a":1}"#, "expected ',' or '}'", at: 15),
        BadLine(#"{,"kind":"edge"}"#, "expected a key, found ','", at: 1),
        BadLine(#"{"kind":"edge","a":[1,]}"#, "expected a number, found ']'"),
        BadLine(#"{"kind":"edge","a":01}"#, "leading zero"),
        BadLine(#"{"kind":"edge","a":1.}"#, "digit expected after '.'"),
        BadLine(#"{"kind":"edge","a":-}"#, "expected a number"),
        BadLine(#"{"kind":"edge","a":tru}"#, "invalid literal"),
        BadLine(#"{"kind":"edge","a":"\x"}"#, "invalid escape \\x"),
        BadLine(#"{"kind":"edge","a":"\u12G4"}"#, "is not hex"),
        BadLine(#"{"kind":"edge","a":"\ud800"}"#, "unpaired high surrogate"),
        BadLine(#"{"kind":"edge","a":"\udc00"}"#, "unpaired low surrogate"),
        BadLine("{\"kind\":\"edge\",\"a\":\"tab\there\"}", "control character 0x9"),
        BadLine(#"{"kind":"edge"} {}"#, "after the record"),
        BadLine(#"{"kind":""}"#, "must not be empty"),
        BadLine(#"{"ts":1}"#, "missing required field \"kind\""),
        BadLine(#"{"kind":"conn","ev":"open","ev":"close","ts":1,"cid":2,"pid":3,"role":"client","family":"inet"}"#, "field \"ev\": member given twice"),
        BadLine(#"{"kind":"exchange","proto":"http1","cid":1,"req":{"ts":1,"end":2,"len":1,"data":"QUI="}}"#, "exchange message: 2 captured bytes exceed len 1"),
        BadLine(#"{"kind":"exchange","proto":"http1","cid":1,"req":{"ts":1,"end":2,"len":-1}}"#, "length must not be negative"),
        BadLine(#"{"kind":"log","ts":1,"source":"s","body":"b"}x"#, "unexpected 'x' after the record"),
        BadLine(#"{"kind":7}"#, "expected a string, found a number"),
        BadLine(#"{"kind":"data","ts":"1","cid":1,"pid":1,"dir":"out","off":0,"len":0,"data":""}"#, "field \"ts\": expected an integer, found a string", at: 20),
        BadLine(#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":0}"#, "missing required field \"data\""),
        BadLine(#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":3,"data":"QU$="}"#, "bad base64: byte 0x24 at payload offset 2", at: 76),
        BadLine(#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":3,"data":"QUJ"}"#, "not a multiple of 4"),
        BadLine(#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":3,"data":7}"#, "expected a base64 string, found a number"),
        BadLine(#"{"kind":"conn","ev":"opened","ts":1,"cid":2,"pid":3,"role":"client","family":"inet"}"#, "\"opened\" is not one of open, close, existing"),
        BadLine(#"{"kind":"conn","ev":"open","ts":1,"cid":2,"pid":-3,"role":"client","family":"inet"}"#, "out of range"),
        BadLine(#"{"kind":"stats","stage":"x","ts":99999999999999999999,"counters":{}}"#, "integer out of range"),
        BadLine(bytes: Array(#"{"kind":"edge","a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), "invalid UTF-8: byte 0x28 after 0xc3"),
        BadLine(bytes: Array(#"{"kind":"edge","a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8), "invalid UTF-8"),
        BadLine(bytes: Array(#"{"kind":"edge","a":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8), "invalid UTF-8: byte 0xc0"),
        BadLine(bytes: Array(#"{"kind":"edge","a":""#.utf8) + [0xF0, 0x9F, 0x98] + Array(#""}"#.utf8), "invalid UTF-8"),
        BadLine(bytes: Array(#"{"kind":"edge","a":1}"#.utf8) + [0xFF], "unexpected byte 0xff after the record"),
        BadLine(#"{"kind":"edge","a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}", "nesting deeper than 64"),
    ]

    @Test(arguments: cases)
    func rejected(_ c: BadLine) throws {
        let err = try #require(decodeBytes(c.line).failure, "accepted: \(c.testDescription)")
        #expect(err.description.contains(c.message), "got: \(err.description)")
        if let at = c.offset { #expect(err.offset == at, "got offset \(err.offset): \(err.description)") }
    }

    @Test func validUnicodeAndEscapesDecode() throws {
        let r = try #require(decodeLine(#"{"kind":"log","ts":1,"source":"s","body":"\u00e9\ud83d\ude00\n\"\/ é😀"}"#).success)
        guard case .log(let l) = r else { Issue.record("not a log"); return }
        #expect(l.body == "é😀\n\"/ é😀")
    }

    @Test func binaryRejectsBadFrames() {
        // Unknown tag, length past the end, invalid UTF-8 in a string, trailing bytes.
        let good = frameBody(sampleRecords()[1])
        #expect(decodeFrame([0x09, 0x05] + Array("kind".utf8) + [0x0F]).failure?.message.contains("unknown tag") == true)
        #expect(decodeFrame([0x09, 0x05] + Array("kind".utf8) + [0x06, 0x7F, 0x61]).failure?.message.contains("runs past the end") == true)
        #expect(decodeFrame([0x09, 0x05] + Array("kind".utf8) + [0x06, 0x02, 0xC3, 0x28, 0x00]).failure?.message.contains("invalid UTF-8") == true)
        #expect(decodeFrame(good + [0x00]).failure?.message.contains("after the record") == true)
        #expect(decodeFrame([0x09, 0x05] + Array("kind".utf8) + [0x05, 0x02] + Array("1x".utf8) + [0x00]).failure != nil)
    }
}
