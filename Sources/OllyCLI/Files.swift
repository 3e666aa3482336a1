#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole (small) file as UTF-8 text, or nil.
func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
        if bytes.count > 16 << 20 { return nil }
    }
    return String(validating: bytes, as: UTF8.self)
}

/// The text of an errno value, for diagnostics.
public func errnoDescription(_ e: Int32) -> String {
    String(cString: strerror(e))
}

/// CLOCK_MONOTONIC in nanoseconds: deadlines and intervals.
public func monotonicNS() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch: record timestamps of live capture.
public func realtimeNS() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}
