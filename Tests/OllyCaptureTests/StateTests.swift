import Foundation
import OllyCLI
import OllyNDJSON
import Testing
@testable import OllyCapture

/// What the capture keeps in user space is bounded: processes that are gone are
/// forgotten, and connections announced at start that stay unused are aged out.
@Suite struct CaptureStateTests {
    func capture(idleTimeout: Int) throws -> LiveCapture {
        var o = CaptureOptions()
        o.idleTimeout = idleTimeout
        let settings = try Settings.resolve(CommonOptions.parse([]), section: "capture", environment: [:])
        return LiveCapture(options: o, settings: settings, outputFD: open("/dev/null", O_WRONLY | O_CLOEXEC))
    }

    /// The pid of a process that has exited and been reaped.
    func deadPid() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    func counter(_ c: LiveCapture, _ name: String) -> Int64? { c.counters.first { $0.0 == name }?.1 }

    @Test func goneProcessesAreForgotten() throws {
        let c = try capture(idleTimeout: 0)
        let dead = try deadPid(), me = getpid()
        c.seen = [dead, me]
        c.sslChecked = [dead, me]
        c.lastPid = dead
        c.existingByTuple = ["127.0.0.1:1 127.0.0.1:2": .init(cid: 1 << 32 + 1, pid: dead, at: 0),
                             "127.0.0.1:3 127.0.0.1:4": .init(cid: 1 << 32 + 2, pid: me, at: 0)]
        c.remap = [7: .init(cid: 1 << 32 + 3, pid: dead), 8: .init(cid: 1 << 32 + 4, pid: me)]
        c.sweep(now: realtimeNS())
        #expect(c.seen == [me] && c.sslChecked == [me] && c.lastPid == -1)
        #expect(c.existingByTuple.keys.sorted() == ["127.0.0.1:3 127.0.0.1:4"], "idle timeout 0: kept")
        #expect(c.remap.keys.sorted() == [8])
        #expect(counter(c, "gone_procs") == 1)
        #expect(counter(c, "procs_tracked") == 1 && counter(c, "conns_tracked") == 2)
    }

    @Test func idleAnnouncedConnectionsAgeOut() throws {
        let c = try capture(idleTimeout: 60)
        let me = getpid(), now = realtimeNS()
        c.seen = [me]
        c.existingByTuple = ["old": .init(cid: 1, pid: me, at: now - 61_000_000_000),
                             "recent": .init(cid: 2, pid: me, at: now - 59_000_000_000)]
        c.remap = [9: .init(cid: 3, pid: me)]
        c.sweep(now: now)
        #expect(c.existingByTuple.keys.sorted() == ["recent"])
        #expect(c.remap.keys.sorted() == [9], "a connection the kernel has seen stays until its close")
        #expect(counter(c, "evicted_conns") == 1 && counter(c, "conns_tracked") == 2)
        c.sweep(now: now + 2_000_000_000)
        #expect(c.existingByTuple.isEmpty && counter(c, "evicted_conns") == 2)
    }
}
