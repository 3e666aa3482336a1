// Decoding and encoding of each record kind, generic over the format. A decoder is entered
// after the record's opening brace; member 0 of every key table is `kind`, already known.

@inline(__always)
func bit(_ i: Int) -> UInt64 { i >= 0 ? 1 << UInt64(i) : 0 }

extension FieldEncoder {
    mutating func opt(_ k: StaticString, _ v: Int?) { if let v { key(k); int(Int64(v)) } }
    mutating func opt(_ k: StaticString, _ v: Int64?) { if let v { key(k); int(v) } }
    mutating func opt(_ k: StaticString, _ v: String?) { if let v { key(k); string(v) } }
    mutating func opt(_ k: StaticString, _ v: Double?) { if let v { key(k); double(v) } }
    mutating func extras(_ f: JSONFields) { for (k, v) in f { key(dynamic: k); value(v) } }
}

extension ProcRecord {
    static let keys = KeyTable(["kind", "ts", "pid", "ppid", "comm", "exe", "cmdline", "cgroup", "container_id", "service"])
    static let required: UInt64 = bit(1) | bit(2)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: ts = try d.readInt()
            case 2: pid = try d.readInt(in: 0...Int64(Int32.max))
            case 3: ppid = try d.readInt(in: 0...Int64(Int32.max))
            case 4: comm = try d.readString()
            case 5: exe = try d.readString()
            case 6: cmdline = try d.readStringArray()
            case 7: cgroup = try d.readString()
            case 8: containerID = try d.readString()
            case 9: service = try d.readString()
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "proc")
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("proc")
        e.key("ts"); e.int(ts)
        e.key("pid"); e.int(pid)
        e.opt("ppid", ppid)
        e.opt("comm", comm)
        e.opt("exe", exe)
        if let cmdline { e.key("cmdline"); e.stringArray(cmdline) }
        e.opt("cgroup", cgroup)
        e.opt("container_id", containerID)
        e.opt("service", service)
        e.extras(extra)
        e.endObject()
    }
}

extension ConnRecord {
    static let keys = KeyTable(["kind", "ev", "ts", "cid", "pid", "tid", "fd", "role", "family", "laddr", "raddr"])
    static let required: UInt64 = bit(1) | bit(2) | bit(3) | bit(4) | bit(7) | bit(8)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: ev = try d.readEnum(ConnEvent.self)
            case 2: ts = try d.readInt()
            case 3: cid = try d.readInt()
            case 4: pid = try d.readInt(in: 0...Int64(Int32.max))
            case 5: tid = try d.readInt(in: 0...Int64(Int32.max))
            case 6: fd = try d.readInt(in: -1...Int64(Int32.max))
            case 7: role = try d.readEnum(Role.self)
            case 8: family = try d.readEnum(Family.self)
            case 9: laddr = try d.readString()
            case 10: raddr = try d.readString()
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "conn")
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("conn")
        e.key("ev"); e.string(ev.rawValue)
        e.key("ts"); e.int(ts)
        e.key("cid"); e.int(cid)
        e.key("pid"); e.int(pid)
        e.opt("tid", tid)
        e.opt("fd", fd)
        e.key("role"); e.string(role.rawValue)
        e.key("family"); e.string(family.rawValue)
        e.opt("laddr", laddr)
        e.opt("raddr", raddr)
        e.extras(extra)
        e.endObject()
    }
}

extension DataRecord {
    static let keys = KeyTable(["kind", "ts", "cid", "pid", "tid", "dir", "off", "len", "data", "tls"])
    static let required: UInt64 = bit(1) | bit(2) | bit(3) | bit(5) | bit(6) | bit(7) | bit(8)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        var lenAt = 0
        let keys = Self.keys
        while let k = try d.nextKey() {
            let i = keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: ts = try d.readInt()
            case 2: cid = try d.readInt()
            case 3: pid = try d.readInt(in: 0...Int64(Int32.max))
            case 4: tid = try d.readInt(in: 0...Int64(Int32.max))
            case 5:
                let v = try d.readStringKey()
                if v.equals("out") { dir = .out } else if v.equals("in") { dir = .in } else {
                    throw d.error("\"\(v.string)\" is not one of out, in")
                }
            case 6:
                let at = d.position
                off = try d.readInt()
                if off < 0 { d.position = at; throw d.error("offset must not be negative") }
            case 7:
                lenAt = d.position
                len = try d.readInt()
                if len < 0 { d.position = lenAt; throw d.error("length must not be negative") }
            case 8: data = try d.readBytes()
            case 9: tls = try d.readBool()
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "data")
        if Int64(data.count) > len {
            throw DecodeError(offset: lenAt, "data record: \(data.count) captured bytes exceed len \(len)", field: "len")
        }
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("data")
        e.key("ts"); e.int(ts)
        e.key("cid"); e.int(cid)
        e.key("pid"); e.int(pid)
        e.opt("tid", tid)
        e.key("dir"); if dir == .out { e.literal("out") } else { e.literal("in") }
        e.key("off"); e.int(off)
        e.key("len"); e.int(len)
        e.key("data"); e.bytes(data)
        if tls { e.key("tls"); e.bool(true) }
        e.extras(extra)
        e.endObject()
    }
}

extension LogRecord {
    static let keys = KeyTable(["kind", "ts", "pid", "tid", "source", "body", "severity", "attrs", "trace_id", "span_id"])
    static let required: UInt64 = bit(1) | bit(4) | bit(5)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: ts = try d.readInt()
            case 2: pid = try d.readInt(in: 0...Int64(Int32.max))
            case 3: tid = try d.readInt(in: 0...Int64(Int32.max))
            case 4: source = try d.readString()
            case 5: body = try d.readString()
            case 6: severity = try d.readString()
            case 7: attrs = try d.readFields()
            case 8: traceID = try d.readString()
            case 9: spanID = try d.readString()
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "log")
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("log")
        e.key("ts"); e.int(ts)
        e.opt("pid", pid)
        e.opt("tid", tid)
        e.key("source"); e.string(source)
        e.key("body"); e.string(body)
        e.opt("severity", severity)
        if !attrs.isEmpty { e.key("attrs"); e.fields(attrs) }
        e.opt("trace_id", traceID)
        e.opt("span_id", spanID)
        e.extras(extra)
        e.endObject()
    }
}

extension ExchangeMessage {
    static let keys = KeyTable(["ts", "end", "len", "data", "headers", "messages"])
    static let required: UInt64 = bit(0) | bit(1) | bit(2)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        try d.beginObject()
        var seen: UInt64 = 0, hint = 0
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: ts = try d.readInt()
            case 1: end = try d.readInt()
            case 2:
                let at = d.position
                len = try d.readInt()
                if len < 0 { d.position = at; throw d.error("length must not be negative") }
            case 3: data = try d.readBytes()
            case 4:
                try d.beginArray()
                var hs: [(String, String)] = []
                while try d.nextElement() {
                    try d.beginArray()
                    guard try d.nextElement() else { throw d.error("a header must be [name, value]") }
                    let name = try d.readString()
                    guard try d.nextElement() else { throw d.error("a header must be [name, value]") }
                    let value = try d.readString()
                    guard try !d.nextElement() else { throw d.error("a header must be [name, value]") }
                    hs.append((name, value))
                }
                headers = hs
            case 5:
                let at = d.position
                messages = try d.readInt()
                if let n = messages, n < 0 { d.position = at; throw d.error("count must not be negative") }
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "exchange message")
        if Int64(data.count) > len {
            throw DecodeError(offset: d.position, "exchange message: \(data.count) captured bytes exceed len \(len)")
        }
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("ts"); e.int(ts)
        e.key("end"); e.int(end)
        e.key("len"); e.int(len)
        e.key("data"); e.bytes(data)
        if let headers {
            e.key("headers")
            e.beginArray()
            for (n, v) in headers {
                e.element()
                e.beginArray()
                e.element(); e.string(n)
                e.element(); e.string(v)
                e.endArray()
            }
            e.endArray()
        }
        e.opt("messages", messages)
        e.extras(extra)
        e.endObject()
    }
}

extension ExchangeRecord {
    static let keys = KeyTable(["kind", "proto", "cid", "pid", "tid", "role", "laddr", "raddr", "req", "resp", "stream", "flags"])
    static let required: UInt64 = bit(1) | bit(2)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: proto = try d.readEnum(Proto.self)
            case 2: cid = try d.readInt()
            case 3: pid = try d.readInt(in: 0...Int64(Int32.max))
            case 4: tid = try d.readInt(in: 0...Int64(Int32.max))
            case 5: role = try d.readEnum(Role.self)
            case 6: laddr = try d.readString()
            case 7: raddr = try d.readString()
            case 8: req = try d.readNull() ? nil : try ExchangeMessage(from: &d)
            case 9: resp = try d.readNull() ? nil : try ExchangeMessage(from: &d)
            case 10: stream = try d.readInt()
            case 11: flags = try d.readStringArray()
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "exchange")
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("exchange")
        e.key("proto"); e.string(proto.rawValue)
        e.key("cid"); e.int(cid)
        e.opt("pid", pid)
        e.opt("tid", tid)
        if let role { e.key("role"); e.string(role.rawValue) }
        e.opt("laddr", laddr)
        e.opt("raddr", raddr)
        if let req { e.key("req"); req.encode(to: &e) }
        if let resp { e.key("resp"); resp.encode(to: &e) }
        e.opt("stream", stream)
        if !flags.isEmpty { e.key("flags"); e.stringArray(flags) }
        e.extras(extra)
        e.endObject()
    }
}

extension SpanOrigin {
    static let keys = KeyTable(["cid", "pid", "tid", "role", "laddr", "raddr"])

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        try d.beginObject()
        var hint = 0
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            switch i {
            case 0: cid = try d.readInt()
            case 1: pid = try d.readInt(in: 0...Int64(Int32.max))
            case 2: tid = try d.readInt(in: 0...Int64(Int32.max))
            case 3: role = try d.readEnum(Role.self)
            case 4: laddr = try d.readString()
            case 5: raddr = try d.readString()
            default: extra.append((k.string, try d.readValue()))
            }
        }
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.opt("cid", cid)
        e.opt("pid", pid)
        e.opt("tid", tid)
        if let role { e.key("role"); e.string(role.rawValue) }
        e.opt("laddr", laddr)
        e.opt("raddr", raddr)
        e.extras(extra)
        e.endObject()
    }
}

extension SpanRecord {
    static let keys = KeyTable(["kind", "trace_id", "span_id", "parent_span_id", "name", "span_kind", "start", "end",
                                "status", "status_message", "attrs", "resource", "events", "links", "olly"])
    static let required: UInt64 = bit(1) | bit(2) | bit(4) | bit(5) | bit(6) | bit(7)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: traceID = try d.readString()
            case 2: spanID = try d.readString()
            case 3: parentSpanID = try d.readNull() ? nil : try d.readString()
            case 4: name = try d.readString()
            case 5: spanKind = try d.readEnum(SpanKind.self)
            case 6: start = try d.readInt()
            case 7: end = try d.readInt()
            case 8: status = try d.readEnum(SpanStatus.self)
            case 9: statusMessage = try d.readString()
            case 10: attrs = try d.readFields()
            case 11: resource = try d.readRepeatedFields()
            case 12: events = try d.readValueArray()
            case 13: links = try d.readValueArray()
            case 14: olly = try SpanOrigin(from: &d)
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "span")
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("span")
        e.key("trace_id"); e.string(traceID)
        e.key("span_id"); e.string(spanID)
        e.opt("parent_span_id", parentSpanID)
        e.key("name"); e.string(name)
        e.key("span_kind"); e.string(spanKind.rawValue)
        e.key("start"); e.int(start)
        e.key("end"); e.int(end)
        e.key("status"); e.string(status.rawValue)
        e.opt("status_message", statusMessage)
        if !attrs.isEmpty { e.key("attrs"); e.fields(attrs) }
        if !resource.isEmpty { e.key("resource"); e.sharedFields(resource) }
        if !events.isEmpty { e.key("events"); e.value(.array(events)) }
        if !links.isEmpty { e.key("links"); e.value(.array(links)) }
        if let olly { e.key("olly"); olly.encode(to: &e) }
        e.extras(extra)
        e.endObject()
    }
}

extension MetricRecord {
    static let keys = KeyTable(["kind", "name", "unit", "type", "ts", "start_ts", "attrs", "value", "count", "sum", "bounds", "counts"])
    static let required: UInt64 = bit(1) | bit(3) | bit(4)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: name = try d.readString()
            case 2: unit = try d.readString()
            case 3: type = try d.readEnum(MetricType.self)
            case 4: ts = try d.readInt()
            case 5: startTS = try d.readInt()
            case 6: attrs = try d.readFields()
            case 7: value = try d.readDouble()
            case 8: count = try d.readInt()
            case 9: sum = try d.readDouble()
            case 10: bounds = try d.readDoubleArray()
            case 11: counts = try d.readIntArray()
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "metric")
        switch type {
        case .gauge, .sum:
            if value == nil { throw DecodeError(offset: d.position, "metric record: a \(type.rawValue) needs \"value\"") }
        case .histogram:
            guard let bounds, let counts, count != nil else {
                throw DecodeError(offset: d.position, "metric record: a histogram needs \"count\", \"bounds\" and \"counts\"")
            }
            if counts.count != bounds.count + 1 {
                throw DecodeError(offset: d.position, "metric record: \"counts\" must have one more entry than \"bounds\" (\(counts.count) vs \(bounds.count))")
            }
        }
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("metric")
        e.key("name"); e.string(name)
        e.opt("unit", unit)
        e.key("type"); e.string(type.rawValue)
        e.key("ts"); e.int(ts)
        e.opt("start_ts", startTS)
        if !attrs.isEmpty { e.key("attrs"); e.fields(attrs) }
        e.opt("value", value)
        e.opt("count", count)
        e.opt("sum", sum)
        if let bounds { e.key("bounds"); e.beginArray(); for b in bounds { e.element(); e.double(b) }; e.endArray() }
        if let counts { e.key("counts"); e.beginArray(); for c in counts { e.element(); e.int(c) }; e.endArray() }
        e.extras(extra)
        e.endObject()
    }
}

extension StatsRecord {
    static let keys = KeyTable(["kind", "stage", "ts", "final", "counters"])
    static let required: UInt64 = bit(1) | bit(2) | bit(4)

    public init<D: FieldDecoder>(from d: inout D) throws(DecodeError) {
        self.init()
        var seen: UInt64 = 0, hint = 1
        while let k = try d.nextKey() {
            let i = Self.keys.index(of: k, hint: hint)
            hint = i + 1
            if seen & bit(i) != 0 { throw d.error("member given twice") }
            seen |= bit(i)
            switch i {
            case 0: try d.skipValue()
            case 1: stage = try d.readString()
            case 2: ts = try d.readInt()
            case 3: final = try d.readBool()
            case 4:
                try d.beginObject()
                while let c = try d.nextKey() { counters.append((c.string, try d.readInt())) }
            default: extra.append((k.string, try d.readValue()))
            }
        }
        try d.require(seen, Self.required, Self.keys, kind: "stats")
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        e.beginObject()
        e.key("kind"); e.literal("stats")
        e.key("stage"); e.string(stage)
        e.key("ts"); e.int(ts)
        if final { e.key("final"); e.bool(true) }
        e.key("counters")
        e.beginObject()
        for (k, v) in counters { e.key(dynamic: k); e.int(v) }
        e.endObject()
        e.extras(extra)
        e.endObject()
    }
}

extension Record {
    /// Decodes one record whose first byte is at the decoder's position, and checks
    /// nothing follows it.
    public static func decode<D: FieldDecoder>(_ d: inout D) throws(DecodeError) -> Record {
        try d.beginObject()
        let start = d.mark()
        var kindKey: Key? = nil
        var kindAt = 0
        while let k = try d.nextKey() {
            if k.equals("kind") {
                kindAt = d.position
                kindKey = try d.readStringKey()
                break
            }
            try d.skipValue()
        }
        guard let kindKey else {
            throw DecodeError(offset: d.position, "missing required field \"kind\"")
        }
        d.reset(to: start)
        let r: Record
        switch kindKey.count {
        case 4 where kindKey.equals("data"): r = .data(try DataRecord(from: &d))
        case 4 where kindKey.equals("conn"): r = .conn(try ConnRecord(from: &d))
        case 4 where kindKey.equals("proc"): r = .proc(try ProcRecord(from: &d))
        case 4 where kindKey.equals("span"): r = .span(try SpanRecord(from: &d))
        case 3 where kindKey.equals("log"): r = .log(try LogRecord(from: &d))
        case 8 where kindKey.equals("exchange"): r = .exchange(try ExchangeRecord(from: &d))
        case 6 where kindKey.equals("metric"): r = .metric(try MetricRecord(from: &d))
        case 5 where kindKey.equals("stats"): r = .stats(try StatsRecord(from: &d))
        default:
            let kind = kindKey.string
            if kind.isEmpty { throw DecodeError(offset: kindAt, "\"kind\" must not be empty", field: "kind") }
            var fields: JSONFields = []
            while let k = try d.nextKey() {
                if k.equals("kind") { try d.skipValue(); continue }
                fields.append((k.string, try d.readValue()))
            }
            r = .other(OtherRecord(kind: kind, fields: fields))
        }
        try d.finish()
        return r
    }

    /// Checks a record for validity without building it (records passed through unread).
    public static func validate<D: FieldDecoder>(_ d: inout D) throws(DecodeError) {
        _ = try decode(&d)
    }

    public func encode<E: FieldEncoder>(to e: inout E) {
        switch self {
        case .proc(let r): r.encode(to: &e)
        case .conn(let r): r.encode(to: &e)
        case .data(let r): r.encode(to: &e)
        case .log(let r): r.encode(to: &e)
        case .exchange(let r): r.encode(to: &e)
        case .span(let r): r.encode(to: &e)
        case .metric(let r): r.encode(to: &e)
        case .stats(let r): r.encode(to: &e)
        case .other(let o):
            e.beginObject()
            e.key("kind"); e.string(o.kind)
            e.extras(o.fields)
            e.endObject()
        }
    }
}
