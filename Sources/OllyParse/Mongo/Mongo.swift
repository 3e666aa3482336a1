import OllyNDJSON

/// MongoDB wire protocol (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/):
/// OP_MSG (2013) and the legacy OP_QUERY (2004) / OP_REPLY (1), with just enough BSON.
enum MongoParser {
    /// A BSON element value, as far as spans need it.
    enum Value {
        case string(String)
        case number(Double)
        case int(Int)
        case other
    }

    /// The top-level elements of a BSON document at `r` (name, value), in order.
    static func document(_ r: inout ByteReader) -> [(String, Value)]? {
        let start = r.i
        guard let len = r.u32le(), len >= 5, start + len <= r.b.count else { return nil }
        let end = start + len - 1
        var out: [(String, Value)] = []
        while r.i < end, let type = r.u8(), type != 0, let name = r.cString() {
            var v = Value.other
            switch type {
            case 0x01: // double
                guard let bytes = r.bytes(8) else { return out }
                var bits: UInt64 = 0
                for (k, b) in bytes.enumerated() { bits |= UInt64(b) << (8 * UInt64(k)) }
                v = .number(Double(bitPattern: bits))
            case 0x02, 0x0D, 0x0E: // string, code, symbol
                guard let n = r.u32le(), n >= 1, let s = r.bytes(n) else { return out }
                v = .string(String(decoding: s.dropLast(), as: UTF8.self))
            case 0x03, 0x04: // document, array
                let at = r.i
                guard let n = r.u32le(), n >= 5, at + n <= r.b.count else { return out }
                r.i = at + n
            case 0x05: // binary
                guard let n = r.u32le(), r.bytes(n + 1) != nil else { return out }
            case 0x06, 0x0A, 0x7F, 0xFF: break // undefined, null, max/min key
            case 0x07: guard r.bytes(12) != nil else { return out } // ObjectId
            case 0x08: guard r.u8() != nil else { return out }
            case 0x09, 0x11, 0x12: // datetime, timestamp, int64
                guard let bytes = r.bytes(8) else { return out }
                if type == 0x12 {
                    var x: UInt64 = 0
                    for (k, b) in bytes.enumerated() { x |= UInt64(b) << (8 * UInt64(k)) }
                    v = .int(Int(Int64(bitPattern: x)))
                }
            case 0x0B: guard r.cString() != nil, r.cString() != nil else { return out } // regex
            case 0x10: // int32
                guard let x = r.u32le() else { return out }
                v = .int(Int(Int32(truncatingIfNeeded: x)))
            case 0x13: guard r.bytes(16) != nil else { return out } // decimal128
            default: return out
            }
            out.append((name, v))
        }
        r.i = start + len
        return out
    }

    /// The command document of a request, or the reply document of a response.
    static func body(_ b: [UInt8]) -> (opcode: Int, doc: [(String, Value)], collection: String?)? {
        var r = ByteReader(b)
        guard let len = r.u32le(), len >= 16, r.u32le() != nil, r.u32le() != nil, let opcode = r.u32le() else { return nil }
        switch opcode {
        case 2013: // OP_MSG: flags, sections; kind 0 = the body document
            guard r.u32le() != nil else { return nil }
            while let kind = r.u8() {
                if kind == 0 { return document(&r).map { (opcode, $0, nil) } }
                // kind 1: size, identifier, documents — skip
                let at = r.i
                guard let n = r.u32le(), n >= 4 else { return nil }
                r.i = at + n
            }
            return nil
        case 2004: // OP_QUERY: flags, fullCollectionName, skip, return, query
            guard r.u32le() != nil, let full = r.cString(), r.u32le() != nil, r.u32le() != nil else { return nil }
            return document(&r).map { (opcode, $0, full) }
        case 1: // OP_REPLY: flags, cursorID, startingFrom, numberReturned, documents
            guard r.u32le() != nil, r.bytes(8) != nil, r.u32le() != nil, r.u32le() != nil else { return nil }
            return document(&r).map { (opcode, $0, nil) }
        case 2012: // OP_COMPRESSED: originalOpcode, uncompressedSize, compressorId, message
            guard let original = r.u32le(), original != 2012, r.u32le() != nil, let compressor = r.u8() else { return nil }
            // Uncompressed (noop, 0): the original message behind its own header. Snappy, zlib
            // and zstd are not decompressed: the command stays unknown.
            guard compressor == 0 else { return (opcode, [], nil) }
            var inner: [UInt8] = []
            inner.reserveCapacity(b.count - 9)
            inner += b[0..<12]
            inner += [UInt8(original & 0xFF), UInt8((original >> 8) & 0xFF), UInt8((original >> 16) & 0xFF), UInt8((original >> 24) & 0xFF)]
            inner += b[25...]
            return body(inner)
        default:
            return nil
        }
    }

    static func parse(_ c: ExchangeContext) -> SpanDraft {
        let req = c.req.flatMap { body($0.data) }
        let resp = c.resp.flatMap { body($0.data) }
        var command: String?
        var collection: String?
        var database: String?
        if let req, let first = req.doc.first {
            command = first.0
            if case .string(let s) = first.1 { collection = s }
            for (k, v) in req.doc where k == "$db" { if case .string(let s) = v { database = s } }
            if database == nil, let full = req.collection, let dot = full.firstIndex(of: ".") {
                database = String(full[..<dot]) // OP_QUERY "db.$cmd"
            }
        }
        var d = SpanDraft(name: [command, collection].compactMap { $0 }.joined(separator: " "))
        if d.name.isEmpty { d.name = "mongodb" }
        d.malformed = (c.req != nil && req == nil) || (c.resp != nil && resp == nil)
        d.set("db.system.name", "mongodb")
        d.set("db.namespace", database)
        d.set("db.operation.name", command)
        d.set("db.collection.name", collection)
        addPeer(&d, c)
        if let resp {
            var ok = true
            var code: Int?
            var message: String?
            for (k, v) in resp.doc {
                if k == "ok" {
                    switch v {
                    case .number(let x): ok = x == 1
                    case .int(let x): ok = x == 1
                    default: break
                    }
                }
                if k == "code", case .int(let x) = v { code = x }
                if k == "errmsg", case .string(let s) = v { message = s }
            }
            if !ok {
                d.error = true
                d.statusMessage = message
                d.set("db.response.status_code", code.map(String.init))
                d.set("error.type", code.map(String.init) ?? "error")
            }
        }
        return d
    }
}
