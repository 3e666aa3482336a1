/// Why a record could not be decoded, and where: `offset` is the byte offset within the
/// record (column - 1 for NDJSON), `field` the key being read when it happened.
public struct DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var field: String?

    public init(offset: Int, _ message: String, field: String? = nil) {
        self.offset = offset
        self.message = message
        self.field = field
    }

    public var description: String {
        if let field { return "field \"\(field)\": \(message)" }
        return message
    }
}
