import OllyNDJSON

/// `tree`: each trace as an indented waterfall: name, service, duration and a bar placed
/// on the trace's time line (ANSI colour on a terminal, errors in red). A trace is drawn
/// when no span of it has arrived for `idle` nanoseconds of span time, and at the end.
struct TreeView {
    var traces: [String: [SpanRecord]] = [:]
    var order: [String] = []
    var lastEnd: [String: Int64] = [:]
    var latest: Int64 = 0
    let idle: Int64 = 5_000_000_000
    let width = 40
    let colour: Bool
    /// Bound on spans held; the oldest trace is drawn early past it.
    let maxSpans = 100_000
    var held = 0

    init(colour: Bool) { self.colour = colour }

    /// Adds a span; returns the lines of traces now complete.
    mutating func add(_ s: SpanRecord) -> [String] {
        if traces[s.traceID] == nil { order.append(s.traceID) }
        traces[s.traceID, default: []].append(s)
        held += 1
        lastEnd[s.traceID] = max(lastEnd[s.traceID] ?? 0, s.end)
        latest = max(latest, s.end)
        var out: [String] = []
        while let first = order.first, held > maxSpans || (lastEnd[first] ?? 0) + idle < latest {
            out += draw(first)
        }
        return out
    }

    mutating func finish() -> [String] {
        var out: [String] = []
        while let first = order.first { out += draw(first) }
        return out
    }

    static func duration(_ ns: Int64) -> String {
        let d = Double(ns)
        if d >= 1e9 { return String(Int((d / 1e7).rounded())).withDecimals(2) + "s" }
        if d >= 1e6 { return String(Int((d / 1e4).rounded())).withDecimals(2) + "ms" }
        if d >= 1e3 { return String(Int((d / 10).rounded())).withDecimals(2) + "µs" }
        return "\(ns)ns"
    }

    mutating func draw(_ id: String) -> [String] {
        order.removeFirst()
        let spans = traces.removeValue(forKey: id) ?? []
        lastEnd[id] = nil
        held -= spans.count
        guard !spans.isEmpty else { return [] }
        let t0 = spans.map(\.start).min() ?? 0
        let t1 = max(spans.map(\.end).max() ?? 0, t0 + 1)
        let ids = Set(spans.map(\.spanID))
        var children: [String: [SpanRecord]] = [:]
        var roots: [SpanRecord] = []
        for s in spans {
            if let p = s.parentSpanID, ids.contains(p), p != s.spanID { children[p, default: []].append(s) } else { roots.append(s) }
        }
        var lines = ["trace \(id) \(Self.duration(t1 - t0)) \(spans.count) span\(spans.count == 1 ? "" : "s")"]
        var seen = Set<String>()
        func walk(_ s: SpanRecord, _ depth: Int) {
            guard seen.insert(s.spanID).inserted else { return }
            let service = s.resource.first { $0.0 == "service.name" }?.1.stringValue
            var label = String(repeating: "  ", count: depth + 1) + s.name
            if let service { label += " [\(service)]" }
            let a = Int(Double(s.start - t0) / Double(t1 - t0) * Double(width))
            let b = max(a + 1, Int((Double(s.end - t0) / Double(t1 - t0) * Double(width)).rounded()))
            let bar = String(repeating: " ", count: min(a, width)) + String(repeating: "█", count: max(1, min(b, width) - min(a, width)))
            let pad = String(repeating: " ", count: max(1, 48 - label.count))
            var line = label + pad + Self.duration(s.end - s.start).leftPad(9) + " |" + bar.rightPad(width) + "|"
            if s.status == .error { line += " ERROR" + (s.statusMessage.map { " " + $0 } ?? "") }
            if colour { line = (s.status == .error ? "\u{1B}[31m" : "\u{1B}[36m") + line + "\u{1B}[0m" }
            lines.append(line)
            for c in (children[s.spanID] ?? []).sorted(by: { $0.start < $1.start }) { walk(c, depth + 1) }
        }
        for r in roots.sorted(by: { $0.start < $1.start }) { walk(r, 0) }
        return lines
    }
}

extension String {
    func withDecimals(_ n: Int) -> String {
        var s = self
        let neg = s.hasPrefix("-")
        if neg { s.removeFirst() }
        while s.count <= n { s = "0" + s }
        let i = s.index(s.endIndex, offsetBy: -n)
        return (neg ? "-" : "") + s[..<i] + "." + s[i...]
    }
    func leftPad(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
    func rightPad(_ n: Int) -> String { self + String(repeating: " ", count: max(0, n - count)) }
}
