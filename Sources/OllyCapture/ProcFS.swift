#if canImport(Glibc)
import Glibc
#endif

/// Small readers of /proc and /sys files: no Foundation, bounded sizes, nil when unreadable.
enum ProcFS {
    /// The whole file (up to `limit` bytes), or nil when it cannot be opened.
    static func read(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return out.isEmpty ? nil : out }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<min(n, limit - out.count)])
        }
        return out
    }

    static func readString(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = buf.withUnsafeMutableBufferPointer { readlink(path, $0.baseAddress!, 4096) }
        if n <= 0 { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Names of the entries of a directory (without . and ..).
    static func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Numeric entries of /proc: the process IDs.
    static func pids() -> [Int32] {
        list("/proc").compactMap { Int32($0) }
    }

    /// The parent pid from /proc/PID/stat (after the last ')': state, ppid).
    static func ppid(_ pid: Int32) -> Int32? {
        guard let s = read("/proc/\(pid)/stat", limit: 4096), let close = s.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = s[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 1 else { return nil }
        return Int32(String(decoding: fields[1], as: UTF8.self))
    }

    /// (mode, inode) of a path.
    static func fileStat(_ path: String) -> (mode: UInt32, ino: UInt64)? {
        var st = Glibc.stat()
        let r = path.withCString { lstatFollow($0, &st) }
        return r == 0 ? (UInt32(st.st_mode), UInt64(st.st_ino)) : nil
    }
}

private func lstatFollow(_ path: UnsafePointer<CChar>, _ st: UnsafeMutablePointer<stat>) -> Int32 {
    stat(path, st)
}
