import OllyNDJSON
import Testing
@testable import OllyCapture

/// The pure parts of capture: address text, /proc/net/tcp, cgroup paths, service hints.
@Suite struct ParsingTests {
    @Test func addresses() {
        #expect(Address.string(family: 2, addr: [127, 0, 0, 1], port: 8080) == "127.0.0.1:8080")
        var v6 = [UInt8](repeating: 0, count: 16)
        v6[15] = 1
        #expect(Address.string(family: 10, addr: v6, port: 443) == "[::1]:443")
        #expect(Address.ipv6([UInt8](repeating: 0, count: 16)) == "::")
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]
        #expect(Address.ipv6(mapped) == "::ffff:10.1.2.3")
        let doc: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]
        #expect(Address.ipv6(doc) == "2001:db8::1:0:0:1") // first longest run
        let noRun: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
        #expect(Address.ipv6(noRun) == "2001:db8:0:1:1:1:1:1") // a single zero group stays
        #expect(Address.string(family: 1, addr: v6, port: 0) == nil)
    }

    @Test func procNetTCP() {
        let table = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0
           1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 20 4 30 10 -1
           2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 20 4 30 10 -1
           3: 0100007F:C351 0100007F:1F90 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0 0 0 0 0
        """
        var byInode: [UInt64: ExistingConnections.Entry] = [:]
        var listening = Set<Int>()
        ExistingConnections.parse(Array(table.utf8), family: 2, into: &byInode, listening: &listening)
        #expect(listening == [8080])
        #expect(byInode.count == 2)
        #expect(byInode[1002]?.lport == 8080 && byInode[1002]?.rport == 50000)
        #expect(byInode[1003]?.laddr == [127, 0, 0, 1])
        let six = """
          sl  local_address                         remote_address                        st
           0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:C350 01 00000000:00000000 00:00000000 00000000     0        0 2002 1
        """
        ExistingConnections.parse(Array(six.utf8), family: 10, into: &byInode, listening: &listening)
        let e = byInode[2002]
        #expect(e.map { Address.string(family: 10, addr: $0.laddr, port: $0.lport) } == "[::1]:8080")
    }

    @Test func cgroupAndContainer() {
        let id = String(repeating: "3f2a9c1e", count: 8)
        #expect(ProcInfo.cgroupPath("0::/system.slice/docker-\(id).scope\n") == "/system.slice/docker-\(id).scope")
        #expect(ProcInfo.containerID("0::/system.slice/docker-\(id).scope\n") == id)
        #expect(ProcInfo.cgroupPath("4:memory:/process_api/abc\n1:cpu:/\n0::/\n") == "/process_api/abc")
        #expect(ProcInfo.containerID("0::/user.slice/session-2.scope\n") == nil)
    }

    @Test func serviceHint() {
        func env(_ s: [String]) -> [UInt8] { Array(s.joined(separator: "\0").utf8) + [0] }
        #expect(ProcInfo.serviceHint(environ: env(["PATH=/bin", "OTEL_SERVICE_NAME=frontend"])) == "frontend")
        #expect(ProcInfo.serviceHint(environ: env(["OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod, service.name=my%20svc"])) == "my svc")
        #expect(ProcInfo.serviceHint(environ: env(["OTEL_SERVICE_NAME=a", "OTEL_RESOURCE_ATTRIBUTES=service.name=b"])) == "a")
        #expect(ProcInfo.serviceHint(environ: env(["HOME=/root"])) == nil)
    }
}
