import COllySupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors writing output.
public enum WriteFailure: Error, Sendable {
    /// The reader went away (EPIPE): the command ends quietly with status 0.
    case closed
    case io(errno: Int32)
}

/// Writes records to a file descriptor: per record when it is a terminal or `unbuffered`
/// is set, otherwise in blocks of `blockBytes`.
public final class RecordWriter {
    let fd: Int32
    public let perRecord: Bool
    let blockBytes: Int
    public let buffer: OutputBuffer
    // Touched once per record; no overlapping access is possible (see OutputBuffer).
    @exclusivity(unchecked) public var encoder: RecordEncoder
    /// Records written.
    @exclusivity(unchecked) public private(set) var records: Int64 = 0

    public init(fd: Int32, format: RecordFormat, unbuffered: Bool, blockBytes: Int = 1 << 18) {
        self.fd = fd
        self.perRecord = unbuffered || olly_isatty(fd) != 0
        self.blockBytes = blockBytes
        self.buffer = OutputBuffer(capacity: blockBytes + (1 << 16))
        self.encoder = RecordEncoder(format: format, out: buffer)
        if olly_is_fifo(fd) != 0 { _ = olly_set_pipe_size(fd, 1 << 20) }
    }

    public var format: RecordFormat { encoder.format }

    public func write(_ r: Record) throws(WriteFailure) {
        encoder.append(r)
        try recordDone()
    }

    /// Copies a record already in the output format.
    public func writeRaw(_ bytes: UnsafeRawBufferPointer) throws(WriteFailure) {
        encoder.appendRaw(bytes)
        try recordDone()
    }

    @usableFromInline @inline(__always)
    func recordDone() throws(WriteFailure) {
        records += 1
        if perRecord || buffer.count >= blockBytes { try flush() }
    }

    public func flush() throws(WriteFailure) {
        var done = 0
        let total = buffer.count
        defer { buffer.removeFirst(done) }
        let base = UnsafeRawPointer(buffer.base)
        while done < total {
            let r = Glibc.write(fd, base + done, total - done)
            if r >= 0 { done += r; continue }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, -1)
                continue
            }
            if e == EPIPE { throw .closed }
            throw .io(errno: e)
        }
    }
}
