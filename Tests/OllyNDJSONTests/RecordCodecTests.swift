import Testing
@testable import OllyNDJSON

@Suite struct RecordCodecTests {
    @Test(arguments: sampleRecords())
    func ndjsonRoundTrip(_ r: Record) throws {
        let line = r.ndjson
        #expect(decodeLine(line).success == r, "\(line)")
        // Re-encoding a decoded record gives the same bytes.
        #expect(decodeLine(line).success?.ndjson == line)
    }

    @Test(arguments: sampleRecords())
    func binaryRoundTrip(_ r: Record) throws {
        let body = frameBody(r)
        #expect(decodeFrame(body).success == r)
        #expect(decodeFrameGeneral(body).success == r)
        // NDJSON -> binary -> NDJSON is byte for byte.
        #expect(decodeFrame(body).success?.ndjson == r.ndjson)
    }

    @Test(arguments: sampleRecords())
    func everyTruncatedPrefixFails(_ r: Record) {
        let line = Array(r.ndjson.utf8)
        for n in 0..<line.count {
            #expect(decodeBytes(Array(line[0..<n])).failure != nil, "prefix \(n) of \(r.ndjson)")
        }
        let body = frameBody(r)
        for n in 0..<body.count {
            #expect(decodeFrame(Array(body[0..<n])).failure != nil, "binary prefix \(n) of \(r.kind)")
        }
    }

    @Test func unknownMembersArePreservedInOrder() throws {
        let line = #"{"kind":"conn","ev":"open","ts":1,"cid":2,"pid":3,"role":"client","family":"inet","zeta":{"x":[1,2.50,"s"]},"alpha":null}"#
        let r = try #require(decodeLine(line).success)
        guard case .conn(let c) = r else { Issue.record("not a conn"); return }
        #expect(c.extra.map(\.0) == ["zeta", "alpha"])
        #expect(r.ndjson == line)
        #expect(decodeFrame(frameBody(r)).success?.ndjson == line)
    }

    @Test func kindNeedNotComeFirst() throws {
        let r = try #require(decodeLine(#"{"ts":1,"cid":2,"pid":3,"dir":"out","off":0,"len":1,"data":"QQ==","kind":"data"}"#).success)
        #expect(r == .data(DataRecord(ts: 1, cid: 2, pid: 3, dir: .out, off: 0, len: 1, data: [0x41])))
    }

    @Test func unknownKindKeepsItsMembers() throws {
        let line = #"{"kind":"profile","pid":1,"frames":["a","b"],"counts":[3,4]}"#
        let r = try #require(decodeLine(line).success)
        #expect(r.kind == "profile")
        #expect(r.ndjson == line)
    }

    /// The canonical fast path and the general decoder agree, including on what they reject.
    @Test func fastPathAgreesWithGeneralDecoder() throws {
        var seed: UInt64 = 1
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 11 }
        for i in 0..<500 {
            let len = Int(next() % 300)
            let bytes = (0..<len).map { _ in UInt8(truncatingIfNeeded: next()) }
            let d = DataRecord(ts: Int64(next() % UInt64(Int64.max)), cid: Int64(next() % 1000), pid: Int(next() % 100000),
                               tid: i % 3 == 0 ? nil : Int(next() % 100000), dir: i % 2 == 0 ? .in : .out,
                               off: Int64(next() % (1 << 50)), len: Int64(len) + Int64(next() % 3), data: bytes, tls: i % 5 == 0)
            let line = Record.data(d).ndjson
            let fast = try #require(Array(line.utf8).withUnsafeBytes { DataRecord.decodeFastNDJSON($0) }, "fast path missed \(line)")
            #expect(fast == d)
            #expect(decodeGeneral(line).success == .data(d))
            let body = frameBody(.data(d))
            let fastBin = try #require(body.withUnsafeBytes { DataRecord.decodeFastBinary($0) })
            #expect(fastBin == d)
        }
        let variants: [(String, Bool)] = [
            (#"{"kind":"data","ts":01,"cid":1,"pid":1,"dir":"out","off":0,"len":0,"data":""}"#, false),
            (#"{"kind":"data","ts":9223372036854775807,"cid":1,"pid":1,"dir":"out","off":0,"len":0,"data":""}"#, true),
            (#"{"kind":"data","ts":9223372036854775808,"cid":1,"pid":1,"dir":"out","off":0,"len":0,"data":""}"#, false),
            (#"{"kind":"data","ts":99999999999999999999,"cid":1,"pid":1,"dir":"out","off":0,"len":0,"data":""}"#, false),
            (#"{"kind":"data","ts":1,"cid":1,"pid":2147483648,"dir":"out","off":0,"len":0,"data":""}"#, false),
            (#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"up","off":0,"len":0,"data":""}"#, false),
            (#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":1,"data":"QUI="}"#, false),
            (#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":2,"data":"QUI="}"#, true),
            (#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":2,"data":"QU=I"}"#, false),
            (#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":2,"data":"QUI=","tls":false}"#, true),
            (#"{"kind":"data", "ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":2,"data":"QUI="}"#, true),
            (#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":-1,"len":2,"data":"QUI="}"#, false),
            (#"{"kind":"data","ts":1,"cid":1,"pid":1,"dir":"out","off":0,"len":2,"data":"QUI="}x"#, false),
            (#"{"kind":"data","ts":1.0,"cid":1,"pid":1,"dir":"out","off":0,"len":2,"data":"QUI="}"#, false),
        ]
        for (line, valid) in variants {
            let viaEntry = decodeLine(line)
            let viaGeneral = decodeGeneral(line)
            #expect((viaEntry.success != nil) == valid, "\(line)")
            #expect(viaEntry.success == viaGeneral.success, "\(line)")
        }
    }

    @Test func doublesAndLargeIntegers() throws {
        var m = MetricRecord()
        m.name = "x"; m.type = .sum; m.ts = Int64.max; m.value = 1e-300
        let r = Record.metric(m)
        #expect(decodeLine(r.ndjson).success == r)
        #expect(decodeFrame(frameBody(r)).success == r)
        #expect(decodeLine(#"{"kind":"metric","name":"x","type":"gauge","ts":1,"value":1e999}"#).failure?.message == "number out of range")
    }

    @Test func metricShapeIsChecked() {
        #expect(decodeLine(#"{"kind":"metric","name":"x","type":"gauge","ts":1}"#).failure?.message.contains("needs \"value\"") == true)
        #expect(decodeLine(#"{"kind":"metric","name":"h","type":"histogram","ts":1,"count":1,"bounds":[1],"counts":[1]}"#).failure?.message.contains("one more entry") == true)
    }
}
