import Testing
@testable import OllyCLI

@Suite struct ConfigTests {
    func error(_ yaml: String) -> String? {
        do throws(ConfigError) {
            _ = try Config.parse(yaml, path: "c.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func validFileMergesCommonAndSection() throws {
        let c = try Config.parse("""
            common:
              strict: true
              max-warnings: 5
            parse:
              max-warnings: 7
              format: bin
            capture:
              replay: /tmp/x.ndjson
            export:
            """, path: "c.yaml")
        #expect(c.bool("parse", "strict") == true)
        #expect(c.int("parse", "max-warnings") == 7)
        #expect(c.int("stitch", "max-warnings") == 5)
        #expect(c.string("parse", "format") == "bin")
        #expect(c.string("capture", "replay") == "/tmp/x.ndjson")
    }

    @Test func emptyFileIsValid() throws {
        #expect(error("") == nil)
        #expect(error("# nothing\n") == nil)
    }

    @Test(arguments: [
        ("parsee:\n  strict: true\n", "c.yaml:1: unknown section \"parsee\""),
        ("parse:\n  strictt: true\n", "c.yaml:2: parse.strictt: unknown key"),
        ("parse:\n  strict: yes please\n", "c.yaml:2: parse.strict: expected true or false, found \"yes please\""),
        ("stitch:\n  max-warnings: lots\n", "c.yaml:2: stitch.max-warnings: expected an integer, found \"lots\""),
        ("stitch:\n  max-warnings: \"5\"\n", "c.yaml:2: stitch.max-warnings: expected an integer"),
        ("export:\n  format: xml\n", "c.yaml:2: export.format: \"xml\" is not one of ndjson, bin"),
        ("reassemble:\n  max-record-bytes: 10\n", "c.yaml:2: reassemble.max-record-bytes: 10 is out of range"),
        ("common:\n  stats-every: -1\n", "c.yaml:2: common.stats-every: -1 is out of range"),
        ("common:\n  replay: x\n", "c.yaml:2: common.replay: unknown key"),
        ("parse:\n  strict: true\n  strict: false\n", "duplicated key(s): 'strict'"),
        ("capture:\n  replay: ~\n", "c.yaml:2: capture.replay: expected a string, found null"),
        ("capture:\n  replay:\n", "capture.replay: expected a string, found null"),
        ("parse:\n  format: [a, b]\n", "c.yaml:2: parse.format: expected one of ndjson, bin, found a sequence"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("parse: 3\n", "parse: expected a mapping of options"),
        ("parse:\n  strict: [\n", "invalid YAML"),
    ])
    func rejected(_ yaml: String, _ message: String) {
        let e = error(yaml)
        #expect(e?.contains(message) == true, "got: \(e ?? "no error")")
    }
}
