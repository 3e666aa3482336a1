/// The two wire forms of records.
public enum RecordFormat: String, CaseIterable, Sendable {
    /// One JSON object per line.
    case ndjson
    /// Length-prefixed frames (see `BinaryFormat`).
    case bin
}

extension Record {
    /// Decodes one NDJSON line (without its newline).
    public static func decodeNDJSON(_ line: UnsafeRawBufferPointer, cache: DecodeCache? = nil) throws(DecodeError) -> Record {
        if let d = DataRecord.decodeFastNDJSON(line) { return .data(d) }
        var s = JSONScanner(line, cache: cache)
        return try decode(&s)
    }

    /// Decodes one binary frame body (without its length prefix).
    public static func decodeBinary(_ frame: UnsafeRawBufferPointer, cache: DecodeCache? = nil) throws(DecodeError) -> Record {
        if let d = DataRecord.decodeFastBinary(frame) { return .data(d) }
        var s = BinaryScanner(frame, cache: cache)
        return try decode(&s)
    }

    /// `cache`: a reader's `DecodeCache`, so that a span resource repeated from record to
    /// record is decoded once.
    public static func decode(_ bytes: UnsafeRawBufferPointer, format: RecordFormat,
                              cache: DecodeCache? = nil) throws(DecodeError) -> Record {
        format == .ndjson ? try decodeNDJSON(bytes, cache: cache) : try decodeBinary(bytes, cache: cache)
    }

    /// Convenience for tests and small tools.
    public static func decodeNDJSON(_ line: String) throws(DecodeError) -> Record {
        var line = line
        let r = line.withUTF8 { u -> Result<Record, DecodeError> in
            do throws(DecodeError) { return .success(try decodeNDJSON(UnsafeRawBufferPointer(u))) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// The record's NDJSON line, without the newline.
    public var ndjson: String {
        let out = OutputBuffer(capacity: 256)
        var w = JSONWriter(out)
        encode(to: &w)
        return out.withBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The time the record is about, when it has one (used to stamp `stats`).
    public var timestamp: Int64? {
        switch self {
        case .proc(let r): r.ts
        case .conn(let r): r.ts
        case .data(let r): r.ts
        case .log(let r): r.ts
        case .exchange(let r): r.resp?.end ?? r.req?.end
        case .span(let r): r.end
        case .metric(let r): r.ts
        case .stats(let r): r.ts
        case .other(let o): o.fields.first { $0.0 == "ts" }?.1.intValue
        }
    }
}

/// Appends records in one format to an `OutputBuffer`; writes the binary magic first.
public struct RecordEncoder {
    public let format: RecordFormat
    public let out: OutputBuffer
    var wroteMagic = false
    /// Span resources repeat record after record: their bytes are written once.
    let cache = EncodeCache()
    /// The connection fields and timestamp digits of `data` records written before.
    let dataText = DataTextCache()

    public init(format: RecordFormat, out: OutputBuffer) {
        self.format = format
        self.out = out
    }

    mutating func header() {
        if format == .bin && !wroteMagic {
            out.append(BinaryFormat.magic)
            wroteMagic = true
        }
    }

    public mutating func append(_ r: Record) {
        switch format {
        case .ndjson:
            var w = JSONWriter(out, cache: cache)
            r.encode(to: &w)
            out.append(UInt8(ascii: "\n"))
        case .bin:
            header()
            let at = out.count
            out.reserve(4)
            out.advance(4)
            var w = BinaryWriter(out, cache: cache)
            r.encode(to: &w)
            out.patchUInt32LE(at: at, UInt32(truncatingIfNeeded: out.count - at - 4))
        }
    }

    /// Copies a record that is already in this encoder's format (a line without its
    /// newline, or a frame body without its length).
    public mutating func appendRaw(_ bytes: UnsafeRawBufferPointer) {
        switch format {
        case .ndjson:
            out.reserve(bytes.count + 1)
            out.append(bytes)
            out.append(UInt8(ascii: "\n"))
        case .bin:
            header()
            out.reserve(bytes.count + 4)
            out.patchUInt32LE(at: out.count, UInt32(truncatingIfNeeded: bytes.count))
            out.advance(4)
            out.append(bytes)
        }
    }
}
