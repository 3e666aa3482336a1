import Foundation
import Testing
@testable import OllyNDJSON

@Suite struct RecordReaderTests {
    @Test func linesBlankCRLFAndNoFinalNewline() throws {
        let items = try readAll(Array("{\"a\":1}\r\n\n   \n{\"b\":2}\n{\"c\":3}".utf8))
        #expect(items.compactMap(\.text) == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
        let numbers = items.compactMap { if case .record(let r) = $0 { return r.number } else { return nil } }
        #expect(numbers == [1, 4, 5])
    }

    @Test func emptyInputHasNoRecords() throws {
        #expect(try readAll([]).isEmpty)
    }

    @Test func overlongLineIsAnIssueAndReadingGoesOn() throws {
        let long = "{\"x\":\"" + String(repeating: "a", count: 5000) + "\"}"
        for block in [1024, 4096, 1 << 20] {
            let items = try readAll(Array("{\"a\":1}\n\(long)\n{\"b\":2}\n\(long)".utf8),
                                    limits: ReaderLimits(maxRecordBytes: 2048, blockBytes: block))
            #expect(items.count == 4, "block \(block)")
            #expect(items[0].text == "{\"a\":1}")
            #expect(items[1].issue?.number == 2)
            #expect(items[1].issue?.message.contains("exceeds the limit of 2048 bytes") == true)
            #expect(items[2].text == "{\"b\":2}")
            #expect(items[3].issue?.number == 4)
        }
    }

    @Test func binaryStreamsConcatenateAndDetect() throws {
        let rs = sampleRecords()
        let one = encodeStream(Array(rs[0..<3]), .bin)
        let two = encodeStream(Array(rs[3...]), .bin)
        #expect(one.starts(with: BinaryFormat.magic))
        let items = try readAll(one + two)
        let decoded = items.compactMap { item -> Record? in
            guard case .record(let raw) = item else { return nil }
            return try? Record.decode(raw.bytes, format: raw.format)
        }
        #expect(decoded == rs)
    }

    @Test func truncatedFrameAtEnd() throws {
        let s = encodeStream([sampleRecords()[2]], .bin)
        for cut in 1..<(s.count - BinaryFormat.magic.count) {
            let items = try readAll(Array(s[0..<(s.count - cut)]))
            #expect(items.count == 1 && items[0].issue?.message.contains("truncated frame") == true, "cut \(cut)")
        }
    }

    @Test func absurdFrameLengthCannotBeFramed() throws {
        let s = BinaryFormat.magic + [0xFF, 0xFF, 0xFF, 0x7F] + [1, 2, 3]
        #expect(throws: ReadFailure.self) { _ = try readAll(s) }
        do {
            _ = try readAll(s)
        } catch let ReadFailure.unframeable(issue) {
            #expect(issue.message.contains("binary frame length 2147483647 exceeds the limit"))
            #expect(issue.offset == 8)
        }
    }

    /// One byte per write through a pipe: the reader must assemble the same records.
    @Test func dripFeedThroughAPipe() throws {
        let rs = sampleRecords()
        for format in RecordFormat.allCases {
            let bytes = encodeStream(rs, format)
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            let (rfd, wfd) = (fds[0], fds[1])
            let writer = Thread {
                for b in bytes {
                    var b = b
                    _ = write(wfd, &b, 1)
                }
                close(wfd)
            }
            writer.start()
            let items = try readItems(fd: rfd, limits: ReaderLimits(blockBytes: 4096))
            close(rfd)
            let decoded = items.compactMap { item -> Record? in
                guard case .record(let raw) = item else { return nil }
                return try? Record.decode(raw.bytes, format: raw.format)
            }
            #expect(decoded == rs, "\(format)")
        }
    }
}
