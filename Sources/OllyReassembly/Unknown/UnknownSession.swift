import OllyNDJSON

/// Traffic of a protocol this build does not frame: a request is what one side sends until
/// the other side speaks, a response what the other side sends until the first speaks
/// again (`proto: unknown`). Each side's data is kept up to 64 KiB per exchange (flagged
/// `truncated` past it); `len` counts every byte.
public struct UnknownSession: Session {
    public var proto: Proto { .unknown }
    var pairer = OpaquePairer(proto: .unknown)
    public static let maxBytes = 65536
    var gapNext = [false, false]
    public init() {}

    public func frame(_ side: Side, _ b: Bytes) -> Frame { .complete(b.count) }
    public func boundary(_ side: Side, _ b: Bytes, from: Int) -> Int? { from < b.count ? from : nil }
    public mutating func message(_ side: Side, _ m: Message, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        var m = m
        if gapNext[side.rawValue] { m.gap = true; gapNext[side.rawValue] = false }
        pairer.add(side, m, maxBytes: Self.maxBytes, &out, &counters)
    }
    public mutating func lost(_ side: Side, partial: Bool, lastTS: Int64, _ out: inout Emitter, _ limits: Limits, _ counters: inout Counters) {
        gapNext[side.rawValue] = true
    }
    public mutating func close(_ out: inout Emitter, _ counters: inout Counters) {
        pairer.flush(&out, &counters)
    }
}
