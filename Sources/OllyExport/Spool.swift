import Foundation

/// An on-disk queue of requests for one destination: files `SEQ-SIGNAL-ITEMS.pb` holding a
/// serialized export request, written to a temporary name and renamed, so a file that
/// exists is whole. Bounded in bytes: adding past the bound deletes the oldest files.
final class Spool {
    struct Entry {
        let seq: UInt64
        let signal: Signal
        let items: Int
        let bytes: Int
        var name: String { String(format: "%020llu-%@-%d.pb", seq, signal.rawValue, items) }
    }

    let dir: String
    let maxBytes: Int
    private(set) var entries: [Entry] = []
    private var head = 0
    private(set) var totalBytes = 0
    var nextSeq: UInt64 = 1

    init(dir: String, maxBytes: Int) throws {
        self.dir = dir
        self.maxBytes = maxBytes
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        for n in names {
            if n.hasSuffix(".tmp") { try? FileManager.default.removeItem(atPath: dir + "/" + n); continue }
            guard n.hasSuffix(".pb") else { continue }
            let parts = n.dropLast(3).split(separator: "-")
            guard parts.count == 3, let seq = UInt64(parts[0]), let sig = Signal(rawValue: String(parts[1])),
                  let items = Int(parts[2]) else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/" + n)[.size] as? Int) ?? 0
            entries.append(Entry(seq: seq, signal: sig, items: items, bytes: size ?? 0))
        }
        entries.sort { $0.seq < $1.seq }
        totalBytes = entries.reduce(0) { $0 + $1.bytes }
        nextSeq = (entries.last?.seq ?? 0) + 1
    }

    var isEmpty: Bool { head >= entries.count }
    var count: Int { entries.count - head }

    /// Appends a request; returns the entries dropped (oldest first) to stay in bounds.
    func append(_ p: Payload) throws -> [Entry] {
        let e = Entry(seq: nextSeq, signal: p.signal, items: p.items, bytes: p.protobuf.count)
        nextSeq += 1
        let tmp = dir + "/" + e.name + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SpoolError(message: "\(tmp): \(String(cString: strerror(errno)))") }
        var done = 0
        while done < p.protobuf.count {
            let r = p.protobuf.withUnsafeBytes { b in write(fd, b.baseAddress.map { $0 + done }, b.count - done) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 {
                let msg = String(cString: strerror(errno))
                close(fd)
                unlink(tmp)
                throw SpoolError(message: "\(tmp): \(msg)")
            }
            done += r
        }
        fsync(fd)
        close(fd)
        guard rename(tmp, dir + "/" + e.name) == 0 else {
            unlink(tmp)
            throw SpoolError(message: "\(dir)/\(e.name): \(String(cString: strerror(errno)))")
        }
        entries.append(e)
        totalBytes += e.bytes
        var dropped: [Entry] = []
        while totalBytes > maxBytes && count > 1 {
            let old = entries[head]
            removeHead()
            dropped.append(old)
        }
        return dropped
    }

    /// The oldest request, read back.
    func peek() -> (Entry, Payload)? {
        while !isEmpty {
            let e = entries[head]
            if let d = FileManager.default.contents(atPath: dir + "/" + e.name) {
                return (e, Payload(signal: e.signal, items: e.items, protobuf: [UInt8](d)))
            }
            removeHead() // vanished or unreadable: nothing to replay
        }
        return nil
    }

    func removeHead() {
        guard !isEmpty else { return }
        let e = entries[head]
        unlink(dir + "/" + e.name)
        totalBytes -= e.bytes
        head += 1
        if head > 1024 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}

struct SpoolError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
