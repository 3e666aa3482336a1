import OllyNDJSON

/// Attributes every database span shares (semantic conventions for database spans).
func dbDraft(_ c: ExchangeContext, system: String, namespace: String?, query: String?, summary fallback: String) -> SpanDraft {
    var op: String?
    var coll: String?
    var text: String?
    if let query {
        let a = c.sql.analysis(query)
        (op, coll, text) = (a.operation, a.collection, a.text)
    }
    var d = SpanDraft(name: op.map { o in coll.map { "\(o) \($0)" } ?? o } ?? coll ?? "")
    if d.name.isEmpty { d.name = fallback }
    d.set("db.system.name", system)
    d.set("db.namespace", namespace)
    d.set("db.query.text", text)
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

/// What a statement's text gives a span (operation, table, the text as reported), kept
/// per distinct statement: applications send the same statements over and over (prepared
/// or not), and normalising one costs more than a lookup. Bounded: emptied when full.
final class SQLCache {
    struct Analysis {
        var operation: String?
        var collection: String?
        var text: String
    }
    var analyses: [String: Analysis] = [:]
    /// Literals replaced in `text` (the stage's redaction, fixed for its life).
    let redact: Bool
    let capacity: Int

    init(redact: Bool, capacity: Int = 4096) {
        self.redact = redact
        self.capacity = capacity
    }

    func analysis(_ query: String) -> Analysis {
        if let a = analyses[query] { return a }
        let (op, coll) = SQLText.operationAndCollection(query)
        let a = Analysis(operation: op, collection: coll, text: redact ? SQLText.normalize(query) : query)
        // Statements longer than this are rarely repeated verbatim; not worth keeping.
        guard query.utf8.count <= 4096 else { return a }
        if analyses.count >= capacity { analyses.removeAll(keepingCapacity: true) }
        analyses[query] = a
        return a
    }
}
