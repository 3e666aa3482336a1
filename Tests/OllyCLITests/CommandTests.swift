import Foundation
@testable import OllyCLI
import Testing

@Suite struct CommandTests {
    let sample = (try? String(contentsOfFile: samplePath, encoding: .utf8)) ?? ""

    @Test func sampleIsPresent() {
        #expect(sample.split(separator: "\n").count > 5)
    }

    /// The stages copy every record they do not consume byte for byte and add one final
    /// stats record (olly-reassemble consumes conn and data records: see below).
    @Test(arguments: stageCommands.filter { $0 != "olly-reassemble" })
    func passThroughIsByteExact(_ cmd: String) throws {
        let r = try run(cmd, stdin: data(sample))
        #expect(r.status == 0)
        #expect(r.stderr == "")
        #expect(r.records.joined(separator: "\n") + "\n" == sample)
        let stats = try #require(r.lines.last)
        #expect(stats.hasPrefix("{\"kind\":\"stats\",\"stage\":\"\(cmd)\""))
        #expect(stats.contains("\"final\":true"))
        #expect(stats.contains("\"records_in\":\(sample.split(separator: "\n").count)"))
    }

    /// olly-reassemble turns the sample's conn and data records into its three HTTP
    /// exchanges, passes the proc record through, and the exchanges hold exactly the bytes
    /// each direction carried.
    @Test func reassembleFramesTheSample() throws {
        let r = try run("olly-reassemble", stdin: data(sample))
        #expect(r.status == 0)
        #expect(r.stderr == "")
        let lines = sample.split(separator: "\n").map(String.init)
        #expect(r.records.first == lines.first)
        let objects = try r.records.dropFirst().map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 3)
        #expect(objects.allSatisfy { $0["kind"] as? String == "exchange" && $0["proto"] as? String == "http1" && $0["flags"] == nil })
        func bytes(_ dir: String) throws -> Data {
            var d = Data()
            for l in lines where l.contains("\"kind\":\"data\"") && l.contains("\"dir\":\"\(dir)\"") {
                let o = try #require(JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
                d += try #require(Data(base64Encoded: o["data"] as? String ?? ""))
            }
            return d
        }
        func framed(_ key: String) -> Data {
            objects.reduce(Data()) { acc, o in acc + (Data(base64Encoded: (o[key] as? [String: Any])?["data"] as? String ?? "") ?? Data()) }
        }
        #expect(framed("req") == (try bytes("out")))
        #expect(framed("resp") == (try bytes("in")))
        let paths = objects.map { String(decoding: Data(base64Encoded: ($0["req"] as? [String: Any])?["data"] as? String ?? "") ?? Data(), as: UTF8.self).split(separator: " ").dropFirst().first.map(String.init) ?? "" }
        #expect(paths == ["/index.html", "/data.json", "/missing"])
        let stats = try #require(r.lines.last)
        #expect(stats.contains("\"exchanges\":3") && stats.contains("\"records_in\":\(lines.count)"))
    }

    /// --proto names a port's protocol (usage errors exit 64); the config key does too.
    @Test func reassembleProtoOverride() throws {
        let input = #"{"kind":"conn","ev":"open","ts":1,"cid":1,"pid":2,"role":"client","family":"inet","laddr":"127.0.0.1:5000","raddr":"127.0.0.1:7777"}"# + "\n"
            + #"{"kind":"data","ts":2,"cid":1,"pid":2,"dir":"out","off":0,"len":6,"data":"UElORw0K"}"# + "\n"
            + #"{"kind":"data","ts":3,"cid":1,"pid":2,"dir":"in","off":0,"len":7,"data":"K1BPTkcNCg=="}"# + "\n"
        let plain = try run("olly-reassemble", stdin: data(input))
        #expect(plain.records.first?.contains(#""proto":"unknown""#) == true)
        let forced = try run("olly-reassemble", ["--proto", "7777=redis"], stdin: data(input))
        #expect(forced.status == 0 && forced.records.count == 1)
        #expect(forced.records.first?.contains(#""proto":"redis""#) == true)
        let config = tempFile("reassemble:\n  proto: 7777=redis, 53=dns\n  idle-timeout: 60\n", suffix: ".yaml")
        let viaConfig = try run("olly-reassemble", ["--config", config], stdin: data(input))
        #expect(viaConfig.records == forced.records)
        for bad in [["--proto", "99999=redis"], ["--proto", "80=gopher"], ["--max-pending", "0"]] {
            let r = try run("olly-reassemble", bad, stdin: data(input))
            #expect(r.status == 64 && r.stdout.isEmpty, "\(bad)")
        }
        let badConfig = tempFile("reassemble:\n  proto: redis\n", suffix: ".yaml")
        let r = try run("olly-reassemble", ["--config", badConfig], stdin: data(input))
        #expect(r.status == 64 && r.stderr.contains("reassemble.proto"))
    }

    /// All five commands in a pipe over the recorded sample, binary in the middle: the
    /// proc record rides through, the three exchanges become three spans.
    @Test func fiveCommandPipeline() throws {
        let r = try shell("olly-capture --replay '\(samplePath)' --format bin | olly-reassemble --format bin | olly-parse | olly-stitch | olly-export")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.records.first == sample.split(separator: "\n").first.map(String.init))
        let spans = r.records.filter { $0.hasPrefix("{\"kind\":\"span\"") }
        #expect(spans.count == 3)
        for (span, path) in zip(spans, ["/index.html", "/data.json", "/missing"]) {
            #expect(span.contains(path), "\(span)")
        }
        let stages = r.lines.filter { $0.hasPrefix("{\"kind\":\"stats\"") }.map { line -> String in
            let s = line.range(of: "\"stage\":\"")!.upperBound
            return String(line[s...].prefix { $0 != "\"" })
        }
        #expect(stages == ["olly-capture", "olly-reassemble", "olly-parse", "olly-stitch", "olly-export"])
    }

    @Test func formatConversionRoundTrips() throws {
        let bin = try run("olly-parse", ["--format", "bin"], stdin: data(sample))
        #expect(bin.stdout.prefix(8) == Data([0x00, 0x4F, 0x4C, 0x4C, 0x59, 0x42, 0x31, 0x0A]))
        let back = try run("olly-stitch", stdin: bin.stdout)
        #expect(back.status == 0)
        #expect(back.records.joined(separator: "\n") + "\n" == sample)
        let env = try run("olly-parse", stdin: data(sample), env: ["OLLY_FORMAT": "bin"])
        #expect(env.stdout == bin.stdout)
    }

    @Test func closedStdoutEndsQuietly() throws {
        let big = String(repeating: sample, count: 2000)
        let path = tempFile(big)
        let r = try shell("olly-parse '\(path)' | head -1 >/dev/null; echo \"status=${PIPESTATUS[0]}\"")
        #expect(r.out == "status=0\n")
        #expect(r.stderr == "")
    }

    @Test func emptyInputWritesOnlyStats() throws {
        let r = try run("olly-stitch", stdin: Data())
        #expect(r.status == 0)
        #expect(r.lines == [#"{"kind":"stats","stage":"olly-stitch","ts":0,"final":true,"counters":{"records_in":0,"records_out":0,"bad_records":0,"bytes_in":0}}"#])
        let p = try run("olly-parse", stdin: Data())
        #expect(p.lines.count == 1 && p.lines[0].contains("\"spans\":0"))
    }

    /// Every kind of bad input: a message with its position, a count, the rest kept.
    @Test(arguments: [
        ("{\"kind\":\"data\",\"ts\":1,\"cid\":1\n", "<stdin>:2: column 30: unexpected end of record"),
        ("{\"kind\":\"edge\",\"a\":\"\u{FFFD}\"}".replacingOccurrences(of: "\u{FFFD}", with: "\\u00e9") + "\n{\"kind\":\"edge\",\"a\":1]\n", "<stdin>:3: column 21: expected ',' or '}', found ']'"),
        ("{\"kind\":\"data\",\"ts\":1}\n", "<stdin>:2: column 23: data record: missing required field \"cid\""),
        ("{\"kind\":\"conn\",\"ev\":\"open\",\"ts\":\"x\"}\n", "<stdin>:2: column 33: field \"ts\": expected an integer, found a string"),
        ("{\"kind\":\"data\",\"ts\":1,\"cid\":1,\"pid\":1,\"dir\":\"in\",\"off\":0,\"len\":9,\"data\":\"@@@@\"}\n", "<stdin>:2: column 74: field \"data\": bad base64: byte 0x40 at payload offset 0"),
        ("{\"kind\":\"data\"", "<stdin>:2: column 15: unexpected end of record"),
    ])
    func badRecordIsReportedAndSkipped(_ bad: String, _ message: String) throws {
        let first = #"{"kind":"edge","client":"a"}"#
        let last = #"{"kind":"edge","client":"z"}"#
        let input = first + "\n" + bad + (bad.hasSuffix("\n") ? last + "\n" : "")
        let r = try run("olly-parse", stdin: data(input))
        #expect(r.status == 0)
        #expect(r.stderr.contains("olly-parse: " + message), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("bad input record"))
        #expect(r.records.first == first)
        if bad.hasSuffix("\n") { #expect(r.records.last == last) }
        #expect(r.lines.last?.contains("\"bad_records\":1") == true, "\(r.out)")
        let strict = try run("olly-parse", ["--strict"], stdin: data(input))
        #expect(strict.status == 65)
        #expect(strict.stderr.contains("olly-parse: " + message))
        #expect(!strict.records.contains(last))
    }

    @Test func nulWithoutMagicIsNotBinary() throws {
        let r = try run("olly-parse", stdin: Data([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
        #expect(r.status == 65)
        #expect(r.stderr.contains("input starts with a NUL byte but not with the Olly binary magic"))
    }

    @Test func strictReportsEvenWithoutWarnings() throws {
        let r = try run("olly-parse", ["--strict", "--max-warnings", "0"], stdin: data("nope\n"))
        #expect(r.status == 65)
        #expect(r.stderr == "olly-parse: <stdin>:1: column 1: expected '{', found 'n'\n")
    }

    @Test func invalidUTF8IsReported() throws {
        var bytes = Data(#"{"kind":"edge","a":""#.utf8)
        bytes.append(contentsOf: [0xC3, 0x28])
        bytes.append(contentsOf: Data("\"}\n".utf8))
        let r = try run("olly-parse", stdin: bytes)
        #expect(r.stderr.contains("olly-parse: <stdin>:1: column 21: field \"a\": invalid UTF-8: byte 0x28 after 0xc3"), "\(r.stderr)")
    }

    @Test func overlongLineIsSkipped() throws {
        let long = "{\"kind\":\"edge\",\"a\":\"" + String(repeating: "x", count: 3000) + "\"}"
        let r = try run("olly-parse", ["--max-record-bytes", "1024"], stdin: data("\(long)\n{\"kind\":\"edge\"}\n"))
        #expect(r.status == 0)
        #expect(r.stderr.contains("olly-parse: <stdin>:1: line of 3022 bytes exceeds the limit of 1024 bytes"), "\(r.stderr)")
        #expect(r.records == ["{\"kind\":\"edge\"}"])
    }

    @Test func absurdBinaryFrameLengthStops() throws {
        var bytes = Data([0x00, 0x4F, 0x4C, 0x4C, 0x59, 0x42, 0x31, 0x0A])
        bytes.append(contentsOf: [0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3])
        let r = try run("olly-parse", stdin: bytes)
        #expect(r.status == 65)
        #expect(r.stderr.contains("olly-parse: <stdin>:1: byte 8 of the input: binary frame length 2147483647 exceeds the limit"), "\(r.stderr)")
        #expect(r.lines.last?.contains("\"bad_records\":1") == true)
    }

    @Test func truncatedBinaryFrameIsReported() throws {
        let bin = try run("olly-parse", ["--format", "bin"], stdin: data(sample)).stdout
        // Cut the stats frame at the end in half.
        let r = try run("olly-stitch", stdin: bin.prefix(bin.count - 20))
        #expect(r.status == 0)
        #expect(r.stderr.contains("truncated frame at end of input"), "\(r.stderr)")
        #expect(r.records.joined(separator: "\n") + "\n" == sample)
    }

    @Test func warningsAreCappedButCounted() throws {
        let bad = String(repeating: "nope\n", count: 50)
        let r = try run("olly-parse", ["--max-warnings", "3"], stdin: data(bad))
        #expect(r.stderr.components(separatedBy: "\n").filter { $0.contains("expected '{'") }.count == 3)
        #expect(r.stderr.contains("50 bad input records skipped (47 warnings not shown; see --max-warnings)"))
        #expect(r.lines.last?.contains("\"bad_records\":50") == true)
    }

    @Test func configErrorsAreUsageErrors() throws {
        let path = tempFile("parse:\n  strict: true\nexport:\n  format: xml\n", suffix: ".yaml")
        for cmd in allCommands {
            let r = try run(cmd, ["--config", path, "--replay", "/dev/null"].filter { cmd == "olly-capture" || $0 != "--replay" && $0 != "/dev/null" })
            #expect(r.status == 64, "\(cmd)")
            #expect(r.stderr == "\(cmd): \(path):4: export.format: \"xml\" is not one of ndjson, bin\n", "\(cmd): \(r.stderr)")
        }
    }

    @Test func configSetsOptionsAndCommandLineWins() throws {
        let path = tempFile("common:\n  format: bin\nstitch:\n  format: ndjson\n  strict: true\n", suffix: ".yaml")
        let parse = try run("olly-parse", ["--config", path], stdin: data(sample))
        #expect(parse.stdout.prefix(1) == Data([0]))
        let stitch = try run("olly-stitch", ["--config", path], stdin: data("nope\n"))
        #expect(stitch.status == 65)
        let cli = try run("olly-parse", ["--config", path, "--format", "ndjson"], stdin: data(sample))
        #expect(cli.records.joined(separator: "\n") + "\n" == sample)
        let replay = tempFile("capture:\n  replay: \(samplePath)\n", suffix: ".yaml")
        let cap = try run("olly-capture", ["--config", replay])
        #expect(cap.status == 0)
        #expect(cap.records.joined(separator: "\n") + "\n" == sample)
    }

    @Test func usageErrorsAndUnavailableCapture() throws {
        #expect(try run("olly-parse", ["--format", "xml"]).status == 64)
        #expect(try run("olly-parse", ["--no-such-option"]).status == 64)
        #expect(try run("olly-parse", ["--max-record-bytes", "10"]).status == 64)
        let cap = try run("olly-capture", ["--bpf-object", "/nonexistent/olly.bpf.o"])
        #expect(cap.status == 69)
        #expect(cap.stderr.contains("olly-capture: cannot read the eBPF object /nonexistent/olly.bpf.o"))
        let missing = try run("olly-parse", ["/nonexistent/file.ndjson"])
        #expect(missing.status == 74)
        #expect(missing.stderr.contains("olly-parse: /nonexistent/file.ndjson: cannot open: No such file or directory"))
    }

    @Test func statsEveryAndFileNames() throws {
        let path = tempFile("nope\n" + sample)
        let r = try run("olly-parse", ["--stats-every", "4", path])
        #expect(r.stderr.contains("olly-parse: \(path):1: column 1:"))
        let periodic = r.lines.filter { $0.contains("\"kind\":\"stats\"") && !$0.contains("\"final\"") }
        // Every input record counts, the bad one too.
        #expect(periodic.count == (sample.split(separator: "\n").count + 1) / 4)
        #expect(periodic.first?.contains("\"records_in\":4,") == true)
        #expect(periodic.first?.contains("\"bytes_in\":0") == false)
    }

    /// SIGTERM while input is still open: what was read is flushed, with a final stats record.
    @Test(arguments: ["SIGTERM", "SIGINT"])
    func signalFlushesAndExits(_ sig: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "\(binDir)/olly-parse")
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        try p.run()
        let three = sample.split(separator: "\n").prefix(3).joined(separator: "\n") + "\n"
        inPipe.fileHandleForWriting.write(data(three))
        usleep(300_000)
        kill(p.processIdentifier, sig == "SIGTERM" ? SIGTERM : SIGINT)
        // Never hang the suite: a command that ignores the signal is killed and fails the test.
        let pid = p.processIdentifier
        let watchdog = Thread { sleep(10); kill(pid, SIGKILL) }
        watchdog.start()
        let out = String(decoding: outPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.dropLast().joined(separator: "\n") + "\n" == three)
        #expect(lines.last?.contains("\"final\":true") == true)
        try? inPipe.fileHandleForWriting.close()
    }
}

@Suite struct OptionCoverageTests {
    /// Every option of every command can be set in the config file, by the same name, and
    /// the config schema has no key that is not an option.
    @Test(arguments: allCommands)
    func everyOptionHasAConfigKey(_ cmd: String) throws {
        let help = try run(cmd, ["--help"]).out
        let options = helpOptions(help).subtracting(["--config", "--help", "--version"])
        let section = String(cmd.dropFirst("olly-".count))
        let keys = Set((ConfigSchema.keys(of: section) ?? []).map { "--" + $0.name })
        #expect(options.subtracting(keys).isEmpty, "options without a config key: \(options.subtracting(keys))")
        #expect(keys.subtracting(options).isEmpty, "config keys without an option: \(keys.subtracting(options))")
    }

    /// With -u each record is written as soon as it is processed, before the input ends.
    @Test func unbufferedFlushesEachRecord() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "\(binDir)/olly-parse")
        p.arguments = ["-u"]
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        try p.run()
        let pid = p.processIdentifier
        let watchdog = Thread { sleep(10); kill(pid, SIGKILL) }
        watchdog.start()
        inPipe.fileHandleForWriting.write(data("{\"kind\":\"edge\",\"n\":1}\n"))
        // Read one line while stdin is still open: only possible if it was flushed.
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = outPipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        #expect(String(decoding: line, as: UTF8.self) == "{\"kind\":\"edge\",\"n\":1}\n")
        try inPipe.fileHandleForWriting.close()
        _ = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }
}
