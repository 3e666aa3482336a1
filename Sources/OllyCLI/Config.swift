import Yams

/// The type and valid values of one configuration key.
public enum ConfigType: Sendable {
    case bool
    case int(ClosedRange<Int64>)
    case string
    case choice([String])
}

/// One key of a config section; the same name as the command's long option.
public struct ConfigKey: Sendable {
    public let name: String
    public let type: ConfigType
    public init(_ name: String, _ type: ConfigType) {
        self.name = name
        self.type = type
    }
}

public enum ConfigValue: Equatable, Sendable {
    case bool(Bool)
    case int(Int64)
    case string(String)
}

/// A problem in a config file, naming the file, line and key.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
}

/// Every section and key a config file may hold. Every command validates the whole file
/// against this schema at start, whichever sections it uses, so a mistake in a section
/// for another command is found the first time any command reads the file.
public enum ConfigSchema {
    /// Keys valid in `common:` and in every command's section.
    public static let common: [ConfigKey] = [
        ConfigKey("strict", .bool),
        ConfigKey("unbuffered", .bool),
        ConfigKey("format", .choice(["ndjson", "bin"])),
        ConfigKey("max-record-bytes", .int(1024...(1 << 31))),
        ConfigKey("max-warnings", .int(0...Int64(Int32.max))),
        ConfigKey("stats-every", .int(0...Int64.max)),
    ]

    /// Keys of each command's own section (besides the common ones).
    public static let sections: [(String, [ConfigKey])] = [
        ("capture", [
            ConfigKey("replay", .string),
            ConfigKey("pid", .string),
            ConfigKey("comm", .string),
            ConfigKey("cgroup", .string),
            ConfigKey("port", .string),
            ConfigKey("budget", .int(1...262_144)),
            ConfigKey("ring-bytes", .int(65536...(1 << 30))),
            ConfigKey("unix", .bool),
            ConfigKey("bpf-object", .string),
            ConfigKey("stats-interval", .int(0...86400)),
            ConfigKey("idle-timeout", .int(0...86400)),
            ConfigKey("verbose", .bool),
            ConfigKey("preload", .bool),
            ConfigKey("attach", .int(1...Int64(Int32.max))),
            ConfigKey("hook-library", .string),
        ]),
        ("reassemble", [
            ConfigKey("proto", .string),
            ConfigKey("max-buffer-bytes", .int(4096...(1 << 32))),
            ConfigKey("max-pending", .int(1...(1 << 20))),
            ConfigKey("max-conns", .int(1...(1 << 24))),
            ConfigKey("idle-timeout", .int(1...(1 << 31))),
            ConfigKey("reorder-window", .int(0...(1 << 16))),
            ConfigKey("max-stream-bytes", .int(0...(1 << 32))),
        ]),
        ("parse", [ConfigKey("no-redact", .bool), ConfigKey("host-name", .string)]),
        ("stitch", []),
        ("export", [
            ConfigKey("to", .string), ConfigKey("headers", .string), ConfigKey("compression", .choice(["gzip", "none"])),
            ConfigKey("timeout", .int(1...3600)), ConfigKey("ca-file", .string), ConfigKey("batch-size", .int(1...1_000_000)),
            ConfigKey("batch-bytes", .int(1024...(1 << 30))), ConfigKey("batch-delay-ms", .int(1...3_600_000)),
            ConfigKey("retry-max-seconds", .int(0...86400)), ConfigKey("drain-seconds", .int(0...3600)),
            ConfigKey("spool", .string), ConfigKey("spool-max-bytes", .int(1024...Int64.max)),
            ConfigKey("file-max-bytes", .int(1024...Int64.max)), ConfigKey("no-red", .bool), ConfigKey("no-stats-metrics", .bool),
        ]),
    ]

    public static func keys(of section: String) -> [ConfigKey]? {
        if section == "common" { return common }
        return sections.first { $0.0 == section }.map { common + $0.1 }
    }
}

/// A validated config file.
public struct Config: Sendable {
    public let path: String
    var values: [String: [String: ConfigValue]] = [:]

    /// The value of `key` for `section`, falling back to `common:`.
    public func value(_ section: String, _ key: String) -> ConfigValue? {
        values[section]?[key] ?? values["common"]?[key]
    }

    public func bool(_ section: String, _ key: String) -> Bool? {
        if case .bool(let b) = value(section, key) { return b }
        return nil
    }

    public func int(_ section: String, _ key: String) -> Int64? {
        if case .int(let i) = value(section, key) { return i }
        return nil
    }

    public func string(_ section: String, _ key: String) -> String? {
        if case .string(let s) = value(section, key) { return s }
        return nil
    }

    public static let empty = Config(path: "")

    init(path: String) { self.path = path }

    /// Parses and validates YAML text completely.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> Config {
        var config = Config(path: path)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw ConfigError(description: "\(path): invalid YAML: \(Self.describe(e))")
        } catch {
            throw ConfigError(description: "\(path): invalid YAML: \(error)")
        }
        guard let root else { return config }
        if isNull(root) { return config }
        guard case .mapping(let sections) = root else {
            throw ConfigError(description: "\(path):\(line(root)): the top level must be a mapping of sections (common, \(ConfigSchema.sections.map(\.0).joined(separator: ", ")))")
        }
        for (k, v) in sections {
            guard case .scalar(let ks) = k else {
                throw ConfigError(description: "\(path):\(line(k)): section names must be plain strings")
            }
            let section = ks.string
            guard let keys = ConfigSchema.keys(of: section) else {
                let known = (["common"] + ConfigSchema.sections.map(\.0)).joined(separator: ", ")
                throw ConfigError(description: "\(path):\(line(k)): unknown section \"\(section)\" (known: \(known))")
            }
            if isNull(v) { continue }
            guard case .mapping(let entries) = v else {
                throw ConfigError(description: "\(path):\(line(v)): \(section): expected a mapping of options")
            }
            var values: [String: ConfigValue] = [:]
            for (kn, vn) in entries {
                guard case .scalar(let kss) = kn else {
                    throw ConfigError(description: "\(path):\(line(kn)): \(section): keys must be plain strings")
                }
                let name = kss.string
                guard let key = keys.first(where: { $0.name == name }) else {
                    throw ConfigError(description: "\(path):\(line(kn)): \(section).\(name): unknown key (valid keys: \(keys.map(\.name).joined(separator: ", ")))")
                }
                values[name] = try convert(vn, key, "\(path):\(line(vn)): \(section).\(name)")
            }
            config.values[section] = values
        }
        return config
    }

    /// A plain scalar that YAML reads as null: empty, `~` or `null`.
    static func isNull(_ n: Node) -> Bool {
        guard case .scalar(let s) = n, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    static func line(_ n: Node) -> Int { (n.mark?.line ?? 0) }

    static func describe(_ e: YamlError) -> String {
        let s = "\(e)"
        return s.split(separator: "\n").first.map(String.init) ?? s
    }

    static func convert(_ n: Node, _ key: ConfigKey, _ at: String) throws(ConfigError) -> ConfigValue {
        guard case .scalar(let s) = n else {
            throw ConfigError(description: "\(at): expected \(expected(key.type)), found a \(n.isMapping ? "mapping" : "sequence")")
        }
        let text = s.string
        let quoted = s.style == .singleQuoted || s.style == .doubleQuoted
        switch key.type {
        case .bool:
            if !quoted, let b = n.bool { return .bool(b) }
            throw ConfigError(description: "\(at): expected true or false, found \"\(text)\"")
        case .int(let range):
            guard !quoted, let i = Int64(text) else {
                throw ConfigError(description: "\(at): expected an integer, found \"\(text)\"")
            }
            guard range.contains(i) else {
                throw ConfigError(description: "\(at): \(i) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
            return .int(i)
        case .string:
            if isNull(n) { throw ConfigError(description: "\(at): expected a string, found null") }
            return .string(text)
        case .choice(let values):
            guard values.contains(text) else {
                throw ConfigError(description: "\(at): \"\(text)\" is not one of \(values.joined(separator: ", "))")
            }
            return .string(text)
        }
    }

    static func expected(_ t: ConfigType) -> String {
        switch t {
        case .bool: "true or false"
        case .int: "an integer"
        case .string: "a string"
        case .choice(let v): "one of \(v.joined(separator: ", "))"
        }
    }

    /// Reads and validates a config file.
    public static func load(path: String) throws(ConfigError) -> Config {
        guard let text = readFile(path) else {
            throw ConfigError(description: "\(path): cannot read the config file")
        }
        return try parse(text, path: path)
    }
}

extension Node {
    var isMapping: Bool { if case .mapping = self { return true }; return false }
}
