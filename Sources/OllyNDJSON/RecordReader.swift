import COllySupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One record as read: its bytes (an NDJSON line without the newline, or a binary frame
/// body) valid until the next read, where it came from, and its format.
public struct RawRecord {
    public var bytes: UnsafeRawBufferPointer
    /// 1-based line number (NDJSON) or frame number (binary).
    public var number: Int
    /// Byte offset of the record in its input.
    public var offset: Int64
    public var format: RecordFormat
}

/// Something wrong with the input that the reader skipped past (it goes on reading).
public struct InputIssue: Error, Sendable {
    public var number: Int
    public var offset: Int64
    public var message: String
}

/// Errors that end reading an input.
public enum ReadFailure: Error, Sendable {
    /// read(2) failed.
    case io(errno: Int32)
    /// A binary frame cannot be delimited (its length is absurd): nothing after it can be read.
    case unframeable(InputIssue)
}

/// Limits of the reader.
public struct ReaderLimits: Sendable {
    /// Longest record accepted (NDJSON line or binary frame). Default 64 MiB.
    public var maxRecordBytes: Int = 64 << 20
    /// Size of each read(2). Default 1 MiB.
    public var blockBytes: Int = 1 << 20
    public init(maxRecordBytes: Int = 64 << 20, blockBytes: Int = 1 << 20) {
        self.maxRecordBytes = maxRecordBytes
        self.blockBytes = blockBytes
    }
}

/// Streams records from a file descriptor in large blocks. Detects the format from the
/// first bytes. NDJSON lines are found with memchr and never rescanned.
public final class RecordReader {
    public enum Item {
        case record(RawRecord)
        case issue(InputIssue)
    }

    let fd: Int32
    let limits: ReaderLimits
    @exclusivity(unchecked) var buf: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) var cap: Int
    @exclusivity(unchecked) var start = 0          // first unconsumed byte
    @exclusivity(unchecked) var end = 0            // one past the last byte read
    @exclusivity(unchecked) var scanned = 0        // bytes after `start` already searched for a newline
    @exclusivity(unchecked) var eof = false
    @exclusivity(unchecked) var consumedBefore: Int64 = 0   // input offset of buf[0]
    @exclusivity(unchecked) var number = 0
    /// Whether an NDJSON line longer than the limit is being skipped.
    @exclusivity(unchecked) var discarding = false
    @exclusivity(unchecked) var discardStartNumber = 0
    @exclusivity(unchecked) var discardStartOffset: Int64 = 0
    public private(set) var format: RecordFormat?
    /// Total bytes read.
    public private(set) var bytesRead: Int64 = 0
    /// Set when a read was interrupted by SIGINT/SIGTERM.
    public private(set) var interrupted = false

    public init(fd: Int32, limits: ReaderLimits = ReaderLimits()) {
        self.fd = fd
        self.limits = limits
        self.cap = max(limits.blockBytes * 2, 4096)
        self.buf = .allocate(capacity: cap)
        if olly_is_fifo(fd) != 0 { _ = olly_set_pipe_size(fd, 1 << 20) }
    }

    deinit { buf.deallocate() }

    /// Reads more bytes; false at EOF or on an interrupting signal.
    func fill() throws(ReadFailure) -> Bool {
        if eof { return false }
        if start > 0 && (cap - end < limits.blockBytes) {
            // Compact: move the unconsumed tail to the front.
            let n = end - start
            if n > 0 { buf.update(from: buf + start, count: n) }
            consumedBefore += Int64(start)
            end = n
            start = 0
        }
        if cap - end < limits.blockBytes {
            let newCap = max(cap * 2, end + limits.blockBytes)
            let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
            nb.update(from: buf, count: end)
            buf.deallocate()
            buf = nb
            cap = newCap
        }
        while true {
            let r = read(fd, buf + end, cap - end)
            if r > 0 {
                end += r
                bytesRead += Int64(r)
                return true
            }
            if r == 0 { eof = true; return false }
            let e = errno
            if e == EINTR {
                if olly_pending_signal() != 0 { interrupted = true; eof = true; return false }
                continue
            }
            if e == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, -1)
                continue
            }
            throw .io(errno: e)
        }
    }

    /// The next record or input issue, or nil at the end of input.
    public func next() throws(ReadFailure) -> Item? {
        if format == nil {
            while end - start < BinaryFormat.magic.count {
                if try !fill() { break }
            }
            if end == start { return nil }
            if buf[start] == 0 {
                // NUL cannot start JSON; only the binary magic may.
                let m = BinaryFormat.magic
                guard end - start >= m.count, memcmp(buf + start, m, m.count) == 0 else {
                    throw .unframeable(InputIssue(number: 1, offset: consumedBefore + Int64(start),
                        message: "input starts with a NUL byte but not with the Olly binary magic; it is neither NDJSON nor Olly binary"))
                }
                format = .bin
            } else {
                format = .ndjson
            }
        }
        return format == .bin ? try nextFrame() : try nextLine()
    }

    func nextLine() throws(ReadFailure) -> Item? {
        while true {
            let avail = end - start
            if avail > scanned {
                let from = buf + start + scanned
                if let nl = memchr(from, 0x0A, avail - scanned) {
                    let lineEnd = UnsafeMutablePointer<UInt8>(nl.assumingMemoryBound(to: UInt8.self)) - buf
                    let lineStart = start
                    let offset = consumedBefore + Int64(lineStart)
                    start = lineEnd + 1
                    scanned = 0
                    number += 1
                    if discarding {
                        discarding = false
                        let len = offset + Int64(lineEnd - lineStart) - discardStartOffset
                        return .issue(InputIssue(number: discardStartNumber, offset: discardStartOffset,
                                                 message: "line of \(len) bytes exceeds the limit of \(limits.maxRecordBytes) bytes (--max-record-bytes)"))
                    }
                    var len = lineEnd - lineStart
                    if len > limits.maxRecordBytes {
                        return .issue(InputIssue(number: number, offset: offset,
                                                 message: "line of \(len) bytes exceeds the limit of \(limits.maxRecordBytes) bytes (--max-record-bytes)"))
                    }
                    if len > 0 && buf[lineEnd - 1] == 0x0D { len -= 1 } // CRLF
                    if isBlank(lineStart, len) { continue }
                    return .record(RawRecord(bytes: UnsafeRawBufferPointer(start: buf + lineStart, count: len),
                                             number: number, offset: offset, format: .ndjson))
                }
                scanned = avail
            }
            if avail > limits.maxRecordBytes && !discarding {
                // Too long: drop what we have and skip to the next newline.
                discarding = true
                discardStartNumber = number + 1
                discardStartOffset = consumedBefore + Int64(start)
            }
            if discarding {
                consumedBefore += Int64(end)
                start = 0
                end = 0
                scanned = 0
            }
            if try !fill() {
                // End of input: a last line without newline is still a record.
                let avail = end - start
                if discarding {
                    discarding = false
                    number += 1
                    return .issue(InputIssue(number: discardStartNumber, offset: discardStartOffset,
                                             message: "line exceeds the limit of \(limits.maxRecordBytes) bytes (--max-record-bytes)"))
                }
                if avail == 0 { return nil }
                let lineStart = start
                start = end
                scanned = 0
                number += 1
                if isBlank(lineStart, avail) { return nil }
                return .record(RawRecord(bytes: UnsafeRawBufferPointer(start: buf + lineStart, count: avail),
                                         number: number, offset: consumedBefore + Int64(lineStart), format: .ndjson))
            }
        }
    }

    func isBlank(_ at: Int, _ len: Int) -> Bool {
        var i = at
        while i < at + len {
            let b = buf[i]
            if b != 0x20 && b != 0x09 && b != 0x0D { return false }
            i += 1
        }
        return true
    }

    func nextFrame() throws(ReadFailure) -> Item? {
        let magic = BinaryFormat.magic
        while true {
            // Need the 4-byte length (or a magic header, allowed again at any frame boundary
            // so that concatenated binary files read as one stream).
            while end - start < 4 {
                if try !fill() {
                    if end == start { return nil }
                    let got = end - start
                    let offset = consumedBefore + Int64(start)
                    start = end
                    number += 1
                    return .issue(InputIssue(number: number, offset: offset,
                                             message: "truncated frame at end of input: \(got) of 4 length bytes"))
                }
            }
            if buf[start] == 0 && end - start >= magic.count || buf[start] == 0 && eof == false && end - start < magic.count {
                while end - start < magic.count { if try !fill() { break } }
                if end - start >= magic.count && memcmp(buf + start, magic, magic.count) == 0 {
                    start += magic.count
                    continue
                }
            }
            let p = buf + start
            let len = Int(UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24)
            let offset = consumedBefore + Int64(start)
            if len > limits.maxRecordBytes {
                throw .unframeable(InputIssue(number: number + 1, offset: offset,
                    message: "binary frame length \(len) exceeds the limit of \(limits.maxRecordBytes) bytes (--max-record-bytes); the rest of the input cannot be framed"))
            }
            while end - start < 4 + len {
                if try !fill() {
                    let got = end - start - 4
                    start = end
                    number += 1
                    return .issue(InputIssue(number: number, offset: offset,
                                             message: "truncated frame at end of input: \(got) of \(len) bytes"))
                }
            }
            number += 1
            let body = UnsafeRawBufferPointer(start: buf + start + 4, count: len)
            start += 4 + len
            return .record(RawRecord(bytes: body, number: number, offset: offset, format: .bin))
        }
    }
}
