/// A growable byte buffer for encoders: raw pointer writes, no per-byte bounds
/// bookkeeping beyond one capacity check per operation.
public final class OutputBuffer {
    // Exclusivity is checked statically for these; the dynamic checks Swift adds to class
    // properties cost ~20% of encoding time and cannot fail here (no overlapping accesses).
    @exclusivity(unchecked) var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) var capacity: Int
    /// Bytes written so far.
    @exclusivity(unchecked) public private(set) var count: Int = 0

    public init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 64)
        self.base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    public func reserve(_ n: Int) {
        if count &+ n > capacity { grow(count + n) }
    }

    func grow(_ needed: Int) {
        var newCap = capacity * 2
        while newCap < needed { newCap *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
        nb.update(from: base, count: count)
        base.deallocate()
        base = nb
        capacity = newCap
    }

    /// Pointer to the next free byte; valid until the next call that may grow the buffer.
    @inline(__always)
    public var cursor: UnsafeMutablePointer<UInt8> { base + count }

    @inline(__always)
    public func advance(_ n: Int) { count &+= n }

    @inline(__always)
    public func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count &+= 1
    }

    
    public func append(_ p: UnsafeRawBufferPointer) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        (base + count).update(from: src.assumingMemoryBound(to: UInt8.self), count: p.count)
        count &+= p.count
    }

    
    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    
    public func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Overwrites 4 bytes at `offset` with `v` little-endian (frame length patching).
    @inline(__always)
    public func patchUInt32LE(at offset: Int, _ v: UInt32) {
        base[offset] = UInt8(truncatingIfNeeded: v)
        base[offset + 1] = UInt8(truncatingIfNeeded: v >> 8)
        base[offset + 2] = UInt8(truncatingIfNeeded: v >> 16)
        base[offset + 3] = UInt8(truncatingIfNeeded: v >> 24)
    }

    /// Decimal representation of a signed integer.
    
    public func appendDecimal(_ v: Int64) {
        reserve(20)
        var u: UInt64
        if v < 0 {
            base[count] = UInt8(ascii: "-")
            count &+= 1
            u = UInt64(bitPattern: 0 &- v)
        } else {
            u = UInt64(v)
        }
        appendDecimal(u)
    }

    
    public func appendDecimal(_ v: UInt64) {
        reserve(20)
        if v < 10 {
            base[count] = 0x30 &+ UInt8(v)
            count &+= 1
            return
        }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes scratch
        var n = 0
        var x = v
        withUnsafeMutableBytes(of: &tmp) { t in
            while x > 0 {
                t[23 - n] = 0x30 &+ UInt8(x % 10)
                x /= 10
                n += 1
            }
            (base + count).update(from: t.baseAddress!.assumingMemoryBound(to: UInt8.self) + (24 - n), count: n)
        }
        count &+= n
    }

    public func removeAll() { count = 0 }

    /// Drops the first `n` bytes (after a partial write), keeping the rest.
    public func removeFirst(_ n: Int) {
        precondition(n <= count)
        if n < count { base.update(from: base + n, count: count - n) }
        count -= n
    }

    /// Shrinks the count back to `n` (undo a partially encoded record).
    public func truncate(to n: Int) { if n < count { count = n } }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}
