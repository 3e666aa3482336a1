import Foundation
import Testing

/// Client and server ends of the same connection, found by mirrored addresses.
func pairs(_ c: Capture) -> [(client: Int, server: Int)] {
    var out: [(Int, Int)] = []
    let opens = c.conns.filter { ($0["ev"] as? String) != "close" }
    for cl in opens where cl["role"] as? String == "client" {
        guard let l = cl["laddr"] as? String, let r = cl["raddr"] as? String, let ccid = cl["cid"] as? Int else { continue }
        if let sv = opens.first(where: { $0["role"] as? String == "server" && $0["laddr"] as? String == r && $0["raddr"] as? String == l }),
           let scid = sv["cid"] as? Int {
            out.append((ccid, scid))
        }
    }
    return out
}

/// What one end sent is what the other received, byte for byte, both ways.
func expectMirrored(_ c: Capture, _ p: (client: Int, server: Int), tls: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
    let co = c.stream(cid: p.client, dir: "out", tls: tls), si = c.stream(cid: p.server, dir: "in", tls: tls)
    let ci = c.stream(cid: p.client, dir: "in", tls: tls), so = c.stream(cid: p.server, dir: "out", tls: tls)
    func diff(_ a: Data?, _ b: Data?) -> String {
        guard let a, let b else { return "missing: \(a?.count ?? -1) vs \(b?.count ?? -1) bytes" }
        let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        return "\(a.count) vs \(b.count) bytes, first difference at \(first.map(String.init) ?? "the end of the shorter"); stats \(c.stats)"
    }
    #expect(co != nil && co == si, "client out != server in (cid \(p.client)/\(p.server)): \(diff(co, si))", sourceLocation: sourceLocation)
    #expect(ci != nil && ci == so, "client in != server out (cid \(p.client)/\(p.server)): \(diff(ci, so))", sourceLocation: sourceLocation)
}

func serverScript(_ port: Int, host: String = "127.0.0.1", tls: Bool = false) -> String {
    let script = writeFile("http_server.py", pythonHTTP)
    var cmd = "\(python3) \(script) \(host) \(port)"
    if tls { cmd += " \(work)/cert.pem \(work)/key.pem" }
    let probe = host.contains(":") ? "/dev/tcp/\(host)/\(port)" : "/dev/tcp/127.0.0.1/\(port)"
    return "\(cmd) & S=$!; for i in $(seq 200); do (exec 3<>\(probe)) 2>/dev/null && break; sleep 0.05; done; "
}

@Suite(.serialized) struct LiveHookTests {
    @Test func curlKeepAlive() throws {
        let port = freePort()
        let (r, c) = try capture(["/bin/bash", "-c", serverScript(port) +
            "curl -s -o /dev/null -o /dev/null http://127.0.0.1:\(port)/a http://127.0.0.1:\(port)/b; rc=$?; kill $S; wait $S; exit $rc"])
        #expect(r.status == 0, "\(r.err)")
        let curlConns = c.cids.filter { c.stream(cid: $0, dir: "out")?.text.hasPrefix("GET /a") ?? false }
        #expect(curlConns.count == 1)
        guard let cid = curlConns.first, let out = c.stream(cid: cid, dir: "out")?.text else { return }
        #expect(out.contains("GET /b HTTP/1.1"), "second request on the same connection (keep-alive)")
        #expect(c.conn(cid)?["role"] as? String == "client")
        #expect(c.conn(cid)?["raddr"] as? String == "127.0.0.1:\(port)")
        guard let p = pairs(c).first(where: { $0.client == cid }) else { Issue.record("no server side"); return }
        expectMirrored(c, p)
        #expect(c.stats["lost_events"] == 0)
        #expect(c.stats["bad_entries"] == 0)
    }

    @Test func curlHTTPSPlaintext() throws {
        let port = freePort()
        _ = try sh("cd \(work) && [ -f cert.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=localhost 2>/dev/null")
        let (r, c) = try capture(["/bin/bash", "-c", serverScript(port, tls: true) +
            "curl -sk -o /dev/null -o /dev/null https://127.0.0.1:\(port)/s1 https://127.0.0.1:\(port)/s2; rc=$?; kill $S; wait $S; exit $rc"])
        #expect(r.status == 0, "\(r.err)")
        let tlsData = c.kind("data").filter { $0["tls"] as? Bool == true }
        #expect(!tlsData.isEmpty)
        let client = c.cids.filter { c.stream(cid: $0, dir: "out", tls: true)?.text.hasPrefix("GET /s1") ?? false }
        #expect(client.count == 1)
        guard let cid = client.first, let p = pairs(c).first(where: { $0.client == cid }) else { Issue.record("no TLS pair"); return }
        #expect(c.stream(cid: cid, dir: "out", tls: true)?.text.contains("GET /s2 HTTP/1.1") == true)
        #expect(c.stream(cid: cid, dir: "in", tls: true)?.text.contains("hello from olly /s2") == true)
        expectMirrored(c, p, tls: true)
        // The plaintext never shows up as raw bytes.
        let raw = (c.stream(cid: cid, dir: "out") ?? Data()).text
        #expect(!raw.contains("GET /s1"))
    }

    @Test func pythonSendRecvAccept4() throws {
        let script = writeFile("pysock.py", """
        import socket, threading, hashlib
        srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
        port = srv.getsockname()[1]
        got = {}
        def serve():
            c, _ = srv.accept()          # accept4 in CPython
            buf = b""
            while len(buf) < 300000:
                d = c.recv(65536)
                if not d: break
                buf += d
            c.send(hashlib.sha256(buf).hexdigest().encode())
            c.close()
        t = threading.Thread(target=serve); t.start()
        cl = socket.create_connection(("127.0.0.1", port))
        payload = bytes(i % 251 for i in range(300000))
        n = 0
        while n < len(payload):
            n += cl.send(payload[n:n + 7000])
        digest = cl.recv(100)
        t.join()
        assert digest.decode() == hashlib.sha256(payload).hexdigest()
        print("ok")
        """)
        let (r, c) = try capture([python3, script], extra: ["--budget", "262144"])
        #expect(r.status == 0, "\(r.err)")
        let ps = pairs(c)
        #expect(ps.count == 1)
        guard let p = ps.first else { return }
        expectMirrored(c, p)
        let payload = Data((0..<300000).map { UInt8($0 % 251) })
        #expect(c.stream(cid: p.client, dir: "out") == payload)
    }

    @Test func thirtyTwoThreadsTenThousandRequests() throws {
        let prog = try Build.program("mt")
        let (r, c) = try capture([prog], timeout: 120)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("ok 10000 1000000"))
        let expected = 4 * 10000 * 100
        let lost = c.stats["lost_bytes"] ?? -1
        #expect(c.totalLen() + lost == expected, "every request captured or counted as dropped")
        #expect(c.stats["raced_calls"] == 0)
        let ps = pairs(c)
        #expect(ps.count == 32)
        if c.stats["lost_events"] == 0 {
            for p in ps { expectMirrored(c, p) }
        }
    }

    /// hook/tests/ringstress.c: 16 threads writing 1-800 bytes (entries of 1-7 slots) into
    /// a 64 KiB ring, so entries wrap at its end and most are dropped for want of room,
    /// with spinning threads preempting the writers. Every event is read intact at its
    /// offset or counted as lost; nothing malformed, abandoned or silently missing.
    @Test func smallRingWrapsFillsAndCountsEveryByte() throws {
        let prog = try Build.program("ringstress")
        let (r, c) = try capture([prog], extra: ["--ring-bytes", "65536"], timeout: 120)
        #expect(r.status == 0, "\(r.err)")
        let f = r.err.split(separator: "\n").first { $0.hasPrefix("ok ") }?.split(separator: " ") ?? []
        let sent = try #require(f.count == 3 ? Int(f[2]) : nil, "\(r.err)")
        let s = c.stats
        #expect(c.totalLen() + (s["lost_bytes"] ?? -1) == 2 * sent, "both ends of every write captured or counted as lost; \(s)")
        #expect(s["bad_entries"] == 0 && s["abandoned_slots"] == 0 && s["raced_calls"] == 0, "\(s)")
        var misplaced = 0, overlaps = 0
        for (_, chunks) in c.byStream {
            var end = 0
            for ch in chunks.sorted(by: { ($0["off"] as? Int ?? 0) < ($1["off"] as? Int ?? 0) }) {
                guard let off = ch["off"] as? Int, let len = ch["len"] as? Int,
                      let d = (ch["data"] as? String).flatMap({ Data(base64Encoded: $0) }) else { misplaced += 1; continue }
                if off < end { overlaps += 1 }
                end = max(end, off + len)
                for (i, b) in d.enumerated() where b != UInt8(truncatingIfNeeded: (off + i) * 7 + (off + i) / 251) {
                    misplaced += 1
                    break
                }
            }
        }
        #expect(misplaced == 0 && overlaps == 0, "entries whose bytes are not their offset's: \(misplaced), overlapping: \(overlaps)")
    }

    @Test func rapidCloseReopenNoCrossAttribution() throws {
        let prog = try Build.program("reopen")
        let (r, c) = try capture([prog], timeout: 120)
        #expect(r.status == 0, "\(r.err)")
        #expect(c.stats["lost_events"] == 0)
        var messages = Set<String>()
        for cid in c.cids {
            guard let out = c.stream(cid: cid, dir: "out")?.text else { continue }
            if out.isEmpty { continue }
            #expect(out.range(of: #"^(conn|dup) \d+-\d+;$"#, options: .regularExpression) != nil, "cid \(cid): \(out.prefix(80))")
            #expect(!messages.contains(out), "message on two connections: \(out)")
            messages.insert(out)
        }
        #expect(messages.count == 2 * 4 * 300)
        // What the server ends received, connection by connection, is the same set of
        // messages (4-tuples are reused too fast here to pair the ends by address).
        let received = Set(c.cids.compactMap { c.stream(cid: $0, dir: "in")?.text }.filter { !$0.isEmpty })
        // hook/tests/reopen.c waits until every receiving end has read to EOF before it
        // exits; without that wait, messages still unread at exit were missing here under
        // load (never misattributed: 60-124 of 2400 missing, none extra).
        #expect(received == messages)
        let all = c.kind("data").compactMap { $0["data"] as? String }.compactMap { Data(base64Encoded: $0)?.text }.joined()
        #expect(!all.contains("FILE-BYTES") && !all.contains("PIPE"))
    }

    @Test func forkKeepsTheConnection() throws {
        let prog = try Build.program("forker")
        let (r, c) = try capture([prog])
        #expect(r.status == 0, "\(r.err)")
        let p = try #require(pairs(c).first)
        #expect(c.stream(cid: p.client, dir: "out")?.text == "child-says-hello;parent-says-bye;")
        let pids = Set(c.kind("data").filter { $0["cid"] as? Int == p.client }.compactMap { $0["pid"] as? Int })
        #expect(pids.count == 2, "child and parent report under their own pids")
        let parent = try #require(c.conn(p.client)?["pid"] as? Int)
        let child = pids.subtracting([parent]).first
        #expect(c.kind("proc").contains { $0["pid"] as? Int == child && $0["ppid"] as? Int == parent })
        expectMirrored(c, p)
    }

    @Test func signalHandlerThatWrites() throws {
        let prog = try Build.program("sigwrite")
        let (r, c) = try capture([prog], timeout: 120)
        #expect(r.status == 0, "\(r.err)")
        let f = r.err.split(separator: "\n").first { $0.hasPrefix("ok ") }?.split(separator: " ") ?? []
        #expect(f.count == 4 && f[1] == f[2], "the host's own count: \(r.err)")
        let p = try #require(pairs(c).first)
        if f.count == 4, let sent = Int(f[1]) {
            #expect(c.stream(cid: p.client, dir: "out")?.count == sent)
        }
        // A handler's entry waits until the call it interrupted has taken its offset
        // (hook/libolly.c, t_frames). What remains ambiguous to any hook: a handler that
        // runs while a blocking write is restarted by the kernel (SA_RESTART, nothing
        // moved yet) really went first but is placed after (seen in about 1 run of 4 on
        // 2 loaded cores, one or two 4-byte writes of ~300 misplaced; before the frames,
        // ~200 of ~300 were, in every run).
        #expect(c.stats["unordered_calls"] != nil, "reported")
        withKnownIssue("a handler's write during a restarted blocking write is placed after it", isIntermittent: true) {
            expectMirrored(c, p)
        }
    }

    @Test func ipv6Loopback() throws {
        let port = freePort()
        let (r, c) = try capture(["/bin/bash", "-c", serverScript(port, host: "::1") +
            "curl -s -o /dev/null -g 'http://[::1]:\(port)/six'; rc=$?; kill $S; wait $S; exit $rc"])
        #expect(r.status == 0, "\(r.err)")
        let cl = c.conns.filter { $0["raddr"] as? String == "[::1]:\(port)" && $0["role"] as? String == "client" }
        #expect(!cl.isEmpty)
        #expect(cl.allSatisfy { $0["family"] as? String == "inet6" })
        let p = try #require(pairs(c).first { c.stream(cid: $0.client, dir: "out")?.text.hasPrefix("GET /six") ?? false })
        expectMirrored(c, p)
    }

    @Test func captureKilledMidRunHostGoesOn() throws {
        _ = Build.library
        let prog = try Build.program("longrun")
        let marker = work + "/longrun.done"
        try? FileManager.default.removeItem(atPath: marker)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/olly-capture")
        p.arguments = ["--preload", "--", prog, "1500", marker]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(400_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        var text = ""
        for _ in 0..<100 {
            if let t = try? String(contentsOfFile: marker, encoding: .utf8), t.hasSuffix("\n") { text = t; break }
            usleep(100_000)
        }
        #expect(text.hasPrefix("done "), "the host finished on its own after the capture was killed")
    }

    @Test func hostRunsWithoutCapture() throws {
        let lib = Build.library
        let prog = try Build.program("forker")
        // The library loaded but no channel (and a bogus one): pass-through.
        let a = try run([prog], env: ["LD_PRELOAD": lib])
        #expect(a.status == 0 && a.out.text.contains("child-says-hello;parent-says-bye;"))
        let b = try run([prog], env: ["LD_PRELOAD": lib, "OLLY_HOOK_FD": "1"])
        #expect(b.status == 0 && b.out.text.contains("child-says-hello;parent-says-bye;"))
    }

    @Test func exitStatusOfTheCommand() throws {
        let (r, _) = try capture(["/bin/sh", "-c", "exit 7"])
        #expect(r.status == 7)
        let (n, _) = try capture(["/nonexistent/olly-test"])
        #expect(n.status == 127)
    }

    @Test func attachToRunningServer() throws {
        _ = Build.library
        let port = freePort()
        let server = try Background([python3, writeFile("http_server.py", pythonHTTP), "127.0.0.1", String(port)])
        defer { server.stop() }
        waitForPort(port)
        let out = work + "/attach.ndjson", err = work + "/attach.err"
        let cap = Process()
        cap.executableURL = URL(fileURLWithPath: binDir + "/olly-capture")
        cap.arguments = ["--attach", String(server.pid)]
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        cap.standardOutput = FileHandle(forWritingAtPath: out)
        cap.standardError = FileHandle(forWritingAtPath: err)
        try cap.run()
        // Attached once the proc record (written at olly_attach) is out.
        for _ in 0..<200 {
            if (try? String(contentsOfFile: out, encoding: .utf8))?.contains("\"kind\":\"proc\"") == true { break }
            if !cap.isRunning { break }
            usleep(50_000)
        }
        let curl = try sh("curl -s http://127.0.0.1:\(port)/attached http://127.0.0.1:\(port)/again")
        #expect(curl.out.text.contains("hello from olly /again"))
        usleep(300_000)
        kill(cap.processIdentifier, SIGTERM)
        cap.waitUntilExit()
        #expect(cap.terminationStatus == 0, "\((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        let c = Capture((try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data())
        #expect(c.kind("proc").contains { $0["pid"] as? Int == Int(server.pid) }, "attached: the library announced the process")
        let srv = c.conns.filter { $0["role"] as? String == "server" && $0["laddr"] as? String == "127.0.0.1:\(port)" }
        #expect(!srv.isEmpty)
        let cid = try #require(srv.first?["cid"] as? Int)
        let inbound = c.stream(cid: cid, dir: "in")?.text ?? ""
        #expect(inbound.contains("GET /attached HTTP/1.1") && inbound.contains("GET /again HTTP/1.1"))
        #expect(c.stream(cid: cid, dir: "out")?.text.contains("hello from olly /again") == true)
        // Detached: the server goes on serving.
        let after = try sh("curl -s http://127.0.0.1:\(port)/after")
        #expect(after.out.text.contains("hello from olly /after"))
        #expect(server.process.isRunning)
    }
}
