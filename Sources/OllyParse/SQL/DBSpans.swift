import OllyNDJSON

/// Attributes every database span shares (semantic conventions for database spans).
func dbDraft(_ c: ExchangeContext, system: String, namespace: String?, query: String?, summary fallback: String) -> SpanDraft {
    var op: String?
    var coll: String?
    if let query { (op, coll) = SQLText.operationAndCollection(query) }
    var d = SpanDraft(name: [op, coll].compactMap { $0 }.joined(separator: " "))
    if d.name.isEmpty { d.name = fallback }
    d.set("db.system.name", system)
    d.set("db.namespace", namespace)
    if let query { d.set("db.query.text", c.redact ? SQLText.normalize(query) : query) }
    d.set("db.operation.name", op)
    d.set("db.collection.name", coll)
    addPeer(&d, c)
    return d
}

/// server.address/port (the server's side of the connection) and network.peer.*.
func addPeer(_ d: inout SpanDraft, _ c: ExchangeContext) {
    let ex = c.exchange
    if let server = (c.isServer ? ex.laddr : ex.raddr).map(splitHostPort) {
        d.set("server.address", server.0)
        d.set("server.port", server.1)
    }
    if let peer = ex.raddr.map(splitHostPort) {
        d.set("network.peer.address", peer.0)
        d.set("network.peer.port", peer.1)
    }
}
