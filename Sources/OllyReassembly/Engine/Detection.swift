import OllyNDJSON

/// What one protocol's detector says about the first bytes of a connection.
public enum Detection: Equatable, Sendable {
    /// The content is this protocol; bytes of `requestDir` carry the requests.
    case yes(requestDir: Direction, datagram: Bool)
    /// Plausible, but only a matching port makes it so.
    case weak(requestDir: Direction)
    case needMore
    case no
}

/// Well-known server ports, used only to break ties between detectors.
let wellKnownPorts: [Int: Proto] = [
    80: .http1, 8080: .http1, 8000: .http1, 6379: .redis, 53: .dns, 5353: .dns, 5432: .postgres,
    3306: .mysql, 27017: .mongodb,
]

/// Protocols this build frames, in detection priority order. HTTP/2 comes last: its preface
/// is no other protocol's first bytes, and frames found in the middle of a connection are
/// the weakest evidence of all.
let framedProtocols: [Proto] = [.http1, .postgres, .redis, .dns, .mysql, .mongodb, .http2]

/// Creates the session of a protocol (every protocol is framed now).
func makeSession(_ p: Proto, datagram: Bool) -> any Session {
    switch p {
    case .http1: return HTTP1Session()
    case .redis: return RedisSession()
    case .dns: return DNSSession(datagram: datagram)
    case .postgres: return PostgresSession()
    case .mysql: return MySQLSession()
    case .mongodb: return MongoSession()
    case .http2, .grpc: return HTTP2Session()
    case .unknown: return UnknownSession()
    }
}

/// Runs the detector of `p` on the first bytes of each direction.
func detect(_ p: Proto, first: Direction, out: Bytes, in inb: Bytes, firstChunk: Bytes) -> Detection {
    switch p {
    case .http1: return HTTP1Session.detect(first: first, out: out, in: inb)
    case .redis: return RedisSession.detect(first: first, out: out, in: inb)
    case .dns: return DNSSession.detect(first: first, firstChunk: firstChunk, out: out, in: inb)
    case .postgres: return PostgresSession.detect(first: first, out: out, in: inb)
    case .mysql: return MySQLSession.detect(first: first, out: out, in: inb)
    case .mongodb: return MongoSession.detect(first: first, out: out, in: inb)
    case .http2, .grpc: return HTTP2Session.detect(first: first, out: out, in: inb)
    default: return .no
    }
}

/// The port of an address `host:port` or `[v6]:port`.
func port(of addr: String?) -> Int? {
    guard let addr, let colon = addr.lastIndex(of: ":") else { return nil }
    return Int(addr[addr.index(after: colon)...])
}

/// Parses `PORT=NAME` (for `--proto`).
public func parseProtoOverride(_ s: String) -> (Int, Proto)? {
    let parts = s.split(separator: "=", maxSplits: 1).map(String.init)
    guard parts.count == 2, let p = Int(parts[0]), (1...65535).contains(p), let proto = Proto(rawValue: parts[1]) else { return nil }
    return (p, proto)
}
