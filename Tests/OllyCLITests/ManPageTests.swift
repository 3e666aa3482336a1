import Foundation
import Testing

/// Long options named in a text.
func longOptions(_ text: String) -> Set<String> {
    let re = try! NSRegularExpression(pattern: #"(?<![\w-])--[a-z][a-z0-9-]*"#)
    let ns = text as NSString
    return Set(re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range) })
}

/// The OPTIONS part of `--help` output.
func helpOptions(_ help: String) -> Set<String> {
    guard let r = help.range(of: "\nOPTIONS:\n") else { return [] }
    let lines = help[r.upperBound...].split(separator: "\n")
    return longOptions(lines.filter { $0.hasPrefix("  -") }.joined(separator: "\n"))
}

/// The OPTIONS section of a rendered man page: option tags only (indented 7).
func manOptions(_ rendered: String) -> Set<String> {
    guard let start = rendered.range(of: "\nOPTIONS\n") else { return [] }
    let rest = rendered[start.upperBound...]
    let end = rest.range(of: #"\n[A-Z][A-Z ]+\n"#, options: .regularExpression)?.lowerBound ?? rest.endIndex
    let tags = rest[..<end].split(separator: "\n").filter { $0.hasPrefix("       -") }
    return longOptions(tags.joined(separator: "\n"))
}

func render(_ page: String) throws -> RunResult {
    try run("/bin/sh", ["-c", "MANWIDTH=100 man -l '\(packageRoot)/man/\(page)' | col -b"])
}

@Suite struct ManPageTests {
    @Test(arguments: allCommands)
    func optionsMatchHelp(_ cmd: String) throws {
        let help = try run(cmd, ["--help"])
        #expect(help.status == 0)
        let page = try render("\(cmd).1")
        #expect(page.status == 0)
        let fromHelp = helpOptions(help.out), fromMan = manOptions(page.out)
        #expect(!fromHelp.isEmpty)
        #expect(fromHelp.subtracting(fromMan).isEmpty, "in --help, not in the man page: \(fromHelp.subtracting(fromMan))")
        #expect(fromMan.subtracting(fromHelp).isEmpty, "in the man page, not in --help: \(fromMan.subtracting(fromHelp))")
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES"] {
            #expect(page.out.contains("\n\(section)\n"), "\(cmd).1 lacks \(section)")
        }
    }

    @Test(arguments: allCommands.map { "\($0).1" } + ["olly-records.7"])
    func rendersWithoutWarnings(_ page: String) throws {
        let r = try run("/bin/sh", ["-c", "groff -man -ww -z -Tutf8 '\(packageRoot)/man/\(page)' 2>&1"])
        #expect(r.status == 0)
        #expect(r.out == "", "groff warnings: \(r.out)")
    }

    /// Every member of every record kind in the model is documented.
    @Test func recordsPageNamesEveryField() throws {
        let page = try render("olly-records.7").out
        let fields = ["kind", "ts", "pid", "ppid", "comm", "exe", "cmdline", "cgroup", "container_id", "service",
                      "ev", "cid", "tid", "fd", "role", "family", "laddr", "raddr", "dir", "off", "len", "data", "tls",
                      "source", "body", "severity", "attrs", "trace_id", "span_id", "proto", "req", "resp", "stream",
                      "flags", "end", "headers", "messages", "parent_span_id", "name", "span_kind", "start", "status",
                      "status_message", "resource", "events", "links", "olly", "unit", "type", "start_ts", "value",
                      "count", "sum", "bounds", "counts", "stage", "final", "counters", "records_in", "records_out",
                      "bad_records", "bytes_in"]
        for f in fields { #expect(page.contains(f), "olly-records.7 does not mention \(f)") }
        for kind in ["proc", "conn", "data", "log", "exchange", "span", "metric", "stats"] {
            #expect(page.contains("\"kind\":\"\(kind)\""), "no example \(kind) record")
        }
    }
}
