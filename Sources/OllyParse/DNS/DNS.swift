import OllyNDJSON

/// DNS messages (RFC 1035 §4) over UDP or TCP (2-byte length prefix, RFC 1035 §4.2.2).
enum DNSParser {
    static let types: [Int: String] = [1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
                                       33: "SRV", 35: "NAPTR", 43: "DS", 46: "RRSIG", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS",
                                       255: "ANY", 257: "CAA"]
    static let rcodes: [Int: String] = [0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
                                        6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"]

    struct Message {
        var id = 0
        var rcode = 0
        var qdcount = 0
        var ancount = 0
        var name: String?
        var qtype: Int?
    }

    /// Strips a TCP length prefix when the first two bytes give exactly the rest.
    static func body(_ b: [UInt8]) -> [UInt8] {
        if b.count >= 14, Int(b[0]) << 8 | Int(b[1]) == b.count - 2 { return Array(b[2...]) }
        return b
    }

    static func message(_ raw: [UInt8]) -> Message? {
        let b = body(raw)
        var r = ByteReader(b)
        guard let id = r.u16be(), let flags = r.u16be(), let qd = r.u16be(), let an = r.u16be(), r.u16be() != nil, r.u16be() != nil else { return nil }
        var m = Message(id: id, rcode: flags & 0xF, qdcount: qd, ancount: an)
        if qd > 0 {
            var labels: [String] = []
            var i = r.i
            var jumps = 0
            var end: Int?
            while i < b.count {
                let len = Int(b[i])
                if len == 0 { i += 1; break }
                if len & 0xC0 == 0xC0 { // compression pointer
                    guard i + 1 < b.count, jumps < 16 else { return m }
                    if end == nil { end = i + 2 }
                    i = (len & 0x3F) << 8 | Int(b[i + 1])
                    jumps += 1
                    continue
                }
                guard i + 1 + len <= b.count else { return m }
                labels.append(String(decoding: b[(i + 1)..<(i + 1 + len)], as: UTF8.self))
                i += 1 + len
            }
            m.name = labels.joined(separator: ".")
            var q = ByteReader(b, at: end ?? i)
            m.qtype = q.u16be()
        }
        return m
    }

    static func parse(_ c: ExchangeContext) -> SpanDraft {
        let q = c.req.flatMap { message($0.data) }
        let a = c.resp.flatMap { message($0.data) }
        let qtype = (q?.qtype ?? a?.qtype).map { types[$0] ?? "TYPE\($0)" }
        var d = SpanDraft(name: "DNS " + (qtype ?? "query"))
        d.malformed = (c.req != nil && q == nil) || (c.resp != nil && a == nil)
        d.set("dns.question.name", q?.name ?? a?.name)
        d.set("olly.dns.question.type", qtype)
        d.set("olly.dns.id", q?.id ?? a?.id)
        if let a {
            let rc = rcodes[a.rcode] ?? "RCODE\(a.rcode)"
            d.set("olly.dns.response_code", rc)
            d.set("olly.dns.answer_count", a.ancount)
            // NXDOMAIN is an answer, not a failure; SERVFAIL, REFUSED and the rest are.
            if a.rcode != 0 && a.rcode != 3 {
                d.error = true
                d.set("error.type", rc)
            }
        }
        addPeer(&d, c)
        return d
    }
}
