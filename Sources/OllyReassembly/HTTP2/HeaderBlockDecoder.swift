import NIOCore
import NIOHPACK

/// HPACK (RFC 7541) of one direction of one connection, decoded by NIOHPACK's `HPACKDecoder`
/// in wire order (the dynamic table of each block depends on every block before it).
///
/// After a gap, or when the connection was not seen from its preface, the encoder's dynamic
/// table holds entries this decoder never saw. The decoder then starts again from an empty
/// table: HPACK inserts new entries at the lowest dynamic index and evicts the oldest first,
/// so an empty table that records every block from then on always holds exactly the newest
/// entries of the encoder's table, at the same indices. A block that only uses the static
/// table, literals and entries added since decodes exactly; a block that refers to an older
/// entry fails (index out of range), and is reported as undecodable — never guessed. Since a
/// failed block may have added entries after the failure point, the table is emptied again
/// after every failure, which keeps the invariant. For the same reason the table may be
/// kept smaller than the encoder's (`HTTP2.maxHeaderTable`): it then holds fewer of the
/// newest entries, and a block that needs one it dropped fails instead of being misread.
struct HeaderBlockDecoder {
    static let allocator = ByteBufferAllocator()
    /// A fresh decoder of the default table size. `HPACKDecoder.init` builds the static table
    /// anew each time; copies of this one share it (the static table is never written, and
    /// the dynamic table is copied on its first write), which keeps opening a connection and
    /// resetting after a gap cheap.
    static let fresh = HPACKDecoder(allocator: allocator, maxDynamicTableSize: HTTP2.defaultHeaderTableSize,
                                    maxHeaderListSize: HTTP2.maxHeaderBlock)
    /// A scratch buffer larger than this is not kept between blocks.
    static let scratchKept = 16384

    private var decoder: HPACKDecoder
    /// The block being decoded; reused so that a block costs no buffer allocation.
    private var scratch: ByteBuffer
    /// The largest table the peer allows this direction's encoder (SETTINGS_HEADER_TABLE_SIZE).
    private(set) var maxTableSize: Int
    /// The table is known to equal the encoder's: seen from the connection's start, no gap or
    /// failure since. When false, a failure is a desync rather than a malformed block.
    private(set) var exact: Bool

    init(exact: Bool, maxTableSize: Int = HTTP2.defaultHeaderTableSize) {
        self.maxTableSize = maxTableSize
        self.exact = exact
        decoder = Self.makeDecoder(maxTableSize)
        scratch = Self.allocator.buffer(capacity: 0)
    }

    static func makeDecoder(_ size: Int) -> HPACKDecoder {
        if size == HTTP2.defaultHeaderTableSize { return fresh }
        return HPACKDecoder(allocator: allocator, maxDynamicTableSize: size, maxHeaderListSize: HTTP2.maxHeaderBlock)
    }

    /// The state of the encoder's table is unknown from here on (a gap, a lost block).
    mutating func reset() {
        decoder = Self.makeDecoder(maxTableSize)
        exact = false
    }

    /// SETTINGS_HEADER_TABLE_SIZE acknowledged: the encoder may use up to `size` bytes.
    mutating func setMaxTableSize(_ size: Int) {
        let size = min(max(size, 0), HTTP2.maxHeaderTable)
        maxTableSize = size
        decoder.maxDynamicTableLength = size
    }

    /// Decodes one whole header block; nil when it cannot be decoded (then the table is
    /// emptied, see the type's comment). A dynamic table size update above the size the
    /// SETTINGS seen allow (a SETTINGS frame missed, or seen out of order) is taken as the
    /// encoder states it: it is a size, not a header.
    mutating func decode(_ block: Bytes) -> [HeaderField]? {
        scratch.clear()
        scratch.writeBytes(UnsafeRawBufferPointer(block))
        defer { if scratch.capacity > Self.scratchKept { scratch = Self.allocator.buffer(capacity: 0) } }
        for attempt in 0..<2 {
            do {
                let list = try decoder.decodeHeaders(from: &scratch)
                var out: [HeaderField] = []
                out.reserveCapacity(list.count)
                for h in list { out.append(HeaderField(h.name, h.value)) }
                return out
            } catch let e as NIOHPACKErrors.InvalidDynamicTableSize where attempt == 0 {
                // Nothing was added to the table yet: size updates come first in a block.
                setMaxTableSize(e.requestedSize)
            } catch {
                break
            }
        }
        reset()
        return nil
    }
}
