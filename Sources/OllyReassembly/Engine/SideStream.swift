/// Where a record's bytes start in the stream, for message times and pid/tid.
struct Mark {
    var pos: Int64
    var ts: Int64
    var pid: Int
    var tid: Int?
}

/// The bytes of one side of a connection that are not framed yet.
struct SideStream {
    var buf: [UInt8] = []
    var start = 0
    /// Stream position of `buf[start]`.
    var base: Int64 = 0
    var marks: [Mark] = []
    /// Gap bytes filled with zeros inside a message of known length.
    var holes: [Range<Int64>] = []
    /// Framing is not tried again until this many bytes are buffered.
    var needAtLeast = 0
    /// The total length of the message in progress, when the framer knows it.
    var exactTotal: Int?
    var resync = false
    var untilClose = false
    /// A message larger than the buffer limit, counted but not kept past its head.
    var skipHead: Message?
    var skipRemaining: Int64 = 0
    var lastTS: Int64 = 0

    var count: Int { buf.count - start }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>, ts: Int64, pid: Int, tid: Int?) {
        if count == 0 {
            buf.removeAll(keepingCapacity: true)
            start = 0
        }
        let pos = base + Int64(count)
        if marks.last.map({ $0.pos == pos }) ?? false { marks.removeLast() }
        marks.append(Mark(pos: pos, ts: ts, pid: pid, tid: tid))
        buf.append(contentsOf: bytes)
        lastTS = ts
    }

    /// `n` bytes of a record went by framed in place, nothing being buffered: the same state
    /// as after appending and consuming them.
    mutating func passed(_ n: Int, ts: Int64, pid: Int, tid: Int?) {
        guard n > 0 else { return }
        marks = [Mark(pos: base, ts: ts, pid: pid, tid: tid)]
        base += Int64(n)
        lastTS = ts
    }

    mutating func appendHole(_ n: Int, ts: Int64) {
        let pos = base + Int64(count)
        holes.append(pos..<(pos + Int64(n)))
        buf.append(contentsOf: repeatElement(0, count: n))
        lastTS = ts
    }

    /// Drops `n` bytes from the front.
    mutating func consume(_ n: Int) {
        start += n
        base += Int64(n)
        if start == buf.count {
            buf.removeAll(keepingCapacity: buf.capacity <= 1 << 20)
            start = 0
        } else if start > 1 << 16 && start * 2 > buf.count {
            buf.removeFirst(start)
            start = 0
        }
        var keep = 0
        while keep + 1 < marks.count && marks[keep + 1].pos <= base { keep += 1 }
        if keep > 0 { marks.removeFirst(keep) }
        while let h = holes.first, h.upperBound <= base { holes.removeFirst() }
        needAtLeast = 0
        exactTotal = nil
    }

    /// Moves the start to `pos` with nothing buffered (after a gap that is not kept).
    mutating func reset(to pos: Int64) {
        buf.removeAll(keepingCapacity: true)
        start = 0
        base = pos
        holes.removeAll()
        if let last = marks.last { marks = [Mark(pos: pos, ts: last.ts, pid: last.pid, tid: last.tid)] }
        needAtLeast = 0
        exactTotal = nil
        untilClose = false
    }

    func mark(at pos: Int64) -> Mark? {
        var found: Mark? = marks.first
        for m in marks {
            if m.pos <= pos { found = m } else { break }
        }
        return found
    }

    /// The first `n` buffered bytes as a message without its data: times, pid, tid, length.
    func head(_ n: Int) -> Message {
        var m = Message()
        let first = mark(at: base), last = mark(at: base + Int64(max(n, 1) - 1))
        m.ts = first?.ts ?? lastTS
        m.end = last?.ts ?? lastTS
        m.pid = first?.pid
        m.tid = first?.tid
        m.len = Int64(n)
        return m
    }

    /// Whether the first `n` buffered bytes hold no gap bytes.
    func whole(_ n: Int) -> Bool {
        let range = base..<(base + Int64(n))
        return !holes.contains { $0.overlaps(range) }
    }

    /// The first `n` buffered bytes as a message (gap bytes left out of its data).
    func message(_ n: Int) -> Message {
        var m = head(n)
        let range = base..<(base + Int64(n))
        let hit = holes.filter { $0.overlaps(range) }
        if hit.isEmpty {
            m.data = Array(buf[start..<(start + n)])
        } else {
            m.gap = true
            var pos = base
            m.data.reserveCapacity(n)
            for h in hit {
                let a = max(pos, range.lowerBound), b = min(h.lowerBound, range.upperBound)
                if b > a { m.data += buf[(start + Int(a - base))..<(start + Int(b - base))] }
                pos = max(pos, h.upperBound)
            }
            if pos < range.upperBound { m.data += buf[(start + Int(pos - base))..<(start + n)] }
        }
        return m
    }

    func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        buf.withUnsafeBufferPointer { p in
            body(UnsafeBufferPointer(rebasing: p[start..<p.count]))
        }
    }
}
