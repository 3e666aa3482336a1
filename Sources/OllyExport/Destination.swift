import Foundation

/// Where olly-export sends: parsed from `--to` or from the OTEL_EXPORTER_OTLP_* variables.
public enum Destination: Equatable, Sendable {
    /// OTLP/gRPC; `tls` secures the connection.
    case grpc(host: String, port: Int, tls: Bool)
    /// `base` is `http://HOST:PORT` or `https://HOST:PORT` plus an optional path prefix;
    /// each signal is posted to `base/v1/SIGNAL`.
    case http(base: String, json: Bool)
    /// A signal-specific OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ...): the URL
    /// is used as it is, no path added.
    case httpURL(url: String, json: Bool)
    case file(dir: String)
    case stdout
    case tree

    public var isNetwork: Bool {
        switch self {
        case .grpc, .http, .httpURL: true
        default: false
        }
    }

    public var name: String {
        switch self {
        case .grpc(let h, let p, let tls): (tls ? "otlp-grpcs://" : "otlp-grpc://") + "\(h.contains(":") ? "[\(h)]" : h):\(p)"
        case .http(let b, let j): Self.httpName(b, json: j)
        case .httpURL(let u, let j): Self.httpName(u, json: j) + " (as is)"
        case .file(let d): "file:\(d)"
        case .stdout: "stdout"
        case .tree: "tree"
        }
    }

    static func httpName(_ url: String, json: Bool) -> String {
        let tls = url.hasPrefix("https://")
        let rest = url.dropFirst(tls ? 8 : 7)
        return "otlp-http" + (tls ? "s" : "") + (json ? "+json" : "") + "://" + rest
    }

    /// Parses `otlp-grpc://HOST:PORT`, `otlp-grpcs://HOST:PORT` (TLS),
    /// `otlp-http[s][+json]://HOST:PORT[/PREFIX]`, `file:DIR`, `stdout` or `tree`.
    public static func parse(_ s: String) throws(DestinationError) -> Destination {
        if s == "stdout" { return .stdout }
        if s == "tree" { return .tree }
        if s.hasPrefix("file:") {
            let d = String(s.dropFirst(5))
            guard !d.isEmpty else { throw DestinationError("\(s): file: needs a directory") }
            return .file(dir: d)
        }
        let schemes: [(String, grpc: Bool, tls: Bool, json: Bool)] = [
            ("otlp-grpc://", true, false, false), ("otlp-grpcs://", true, true, false),
            ("otlp-http://", false, false, false), ("otlp-http+json://", false, false, true),
            ("otlp-https://", false, true, false), ("otlp-https+json://", false, true, true),
        ]
        for (scheme, grpc, tls, json) in schemes where s.hasPrefix(scheme) {
            let rest = s.dropFirst(scheme.count)
            let hostPort = rest.prefix { $0 != "/" }
            var path = String(rest.dropFirst(hostPort.count))
            while path.hasSuffix("/") { path.removeLast() }
            let (host, port) = try splitHostPort(String(hostPort), in: s)
            if grpc {
                guard path.isEmpty else { throw DestinationError("\(s): otlp-grpc takes no path") }
                return .grpc(host: host, port: port, tls: tls)
            }
            let h = host.contains(":") ? "[\(host)]" : host
            return .http(base: (tls ? "https://" : "http://") + "\(h):\(port)\(path)", json: json)
        }
        throw DestinationError("\(s): unknown destination (expected otlp-grpc://HOST:PORT, otlp-grpcs://HOST:PORT, otlp-http://HOST:PORT, otlp-https://HOST:PORT, otlp-http+json://HOST:PORT, otlp-https+json://HOST:PORT, file:DIR, stdout or tree)")
    }

    static func splitHostPort(_ hp: String, in s: String) throws(DestinationError) -> (String, Int) {
        var host: Substring
        var portText: Substring
        if hp.hasPrefix("[") {
            guard let close = hp.firstIndex(of: "]") else { throw DestinationError("\(s): bad IPv6 address") }
            host = hp[hp.index(after: hp.startIndex)..<close]
            let after = hp[hp.index(after: close)...]
            guard after.hasPrefix(":") else { throw DestinationError("\(s): a port is required") }
            portText = after.dropFirst()
        } else {
            guard let colon = hp.lastIndex(of: ":") else { throw DestinationError("\(s): a port is required (HOST:PORT)") }
            host = hp[..<colon]
            portText = hp[hp.index(after: colon)...]
        }
        guard !host.isEmpty else { throw DestinationError("\(s): a host is required") }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw DestinationError("\(s): \"\(portText)\" is not a port (1-65535)")
        }
        return (String(host), port)
    }

    /// The destination of OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL alone
    /// (no per-signal variables), or nil when no endpoint is set.
    public static func fromEnvironment(_ env: [String: String]) throws(DestinationError) -> Destination? {
        guard OTLPEnvironment.configured(env) else { return nil }
        return try OTLPEnvironment.destination(.traces, env)
    }

    /// `key=value,key2=value2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS).
    public static func parseHeaders(_ s: String) throws(DestinationError) -> [(String, String)] {
        var out: [(String, String)] = []
        for part in s.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw DestinationError("header \"\(part)\": expected key=value") }
            let k = kv[0].trimmingCharacters(in: .whitespaces)
            let v = kv[1].trimmingCharacters(in: .whitespaces)
            guard !k.isEmpty else { throw DestinationError("header \"\(part)\": empty key") }
            out.append((k, v.removingPercentEncoding ?? v))
        }
        return out
    }
}

/// One place requests go: a destination, the signals it takes, and how requests are made.
public struct Target: Sendable {
    public var destination: Destination
    public var signals: Set<Signal> = Set(Signal.allCases)
    public var headers: [(String, String)] = []
    /// Seconds one request may take.
    public var timeout = 10
    public var gzip = false
    /// PEM file of the certificates that verify a TLS receiver, instead of the system's.
    public var caFile: String?

    public init(destination: Destination) { self.destination = destination }

    /// Targets that differ only in their signals are one target.
    func sameRequests(_ o: Target) -> Bool {
        destination.name == o.destination.name && timeout == o.timeout && gzip == o.gzip && caFile == o.caFile
            && headers.count == o.headers.count && zip(headers, o.headers).allSatisfy { $0 == $1 }
    }
}

/// The OTEL_EXPORTER_OTLP_* variables (OpenTelemetry specification, "OTLP Exporter
/// Configuration"): a signal-specific variable (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
/// OTEL_EXPORTER_OTLP_METRICS_HEADERS, ...) wins over the general one for its signal.
public enum OTLPEnvironment {
    static let prefix = "OTEL_EXPORTER_OTLP_"

    static func word(_ s: Signal) -> String { s.rawValue.uppercased() }

    static func nonEmpty(_ v: String?) -> String? { v.flatMap { $0.isEmpty ? nil : $0 } }

    /// The variable that applies to `signal` for `option` (ENDPOINT, HEADERS, ...), with
    /// its name: the signal-specific one when set, else the general one.
    static func lookup(_ option: String, _ signal: Signal, _ env: [String: String]) -> (name: String, value: String)? {
        let specific = prefix + word(signal) + "_" + option
        if let v = nonEmpty(env[specific]) { return (specific, v) }
        if let v = nonEmpty(env[prefix + option]) { return (prefix + option, v) }
        return nil
    }

    /// True when an endpoint variable, general or for a signal, is set.
    public static func configured(_ env: [String: String]) -> Bool {
        nonEmpty(env[prefix + "ENDPOINT"]) != nil || Signal.allCases.contains { nonEmpty(env[prefix + word($0) + "_ENDPOINT"]) != nil }
    }

    /// The destination of one signal. gRPC: the endpoint's host and port; `https://` means
    /// TLS, `http://` plaintext, and no scheme TLS unless OTEL_EXPORTER_OTLP[_SIGNAL]_INSECURE
    /// is true. HTTP: a signal-specific URL as it is (`/` when it has no path), else the
    /// general one with `/v1/SIGNAL` added. Without an endpoint for the signal, the
    /// specification's defaults: http://localhost:4317 (gRPC), http://localhost:4318.
    static func destination(_ signal: Signal, _ env: [String: String]) throws(DestinationError) -> Destination {
        let proto = lookup("PROTOCOL", signal, env)
        let protocolName = proto?.value ?? "http/protobuf"
        let specificName = prefix + word(signal) + "_ENDPOINT"
        let specific = nonEmpty(env[specificName])
        let general = nonEmpty(env[prefix + "ENDPOINT"])
        let varName = specific != nil ? specificName : prefix + "ENDPOINT"
        switch protocolName {
        case "grpc":
            let endpoint = specific ?? general ?? "http://localhost:4317"
            var rest = Substring(endpoint)
            var tls: Bool
            if rest.hasPrefix("http://") { rest = rest.dropFirst(7); tls = false }
            else if rest.hasPrefix("https://") { rest = rest.dropFirst(8); tls = true }
            else {
                let insecure = lookup("INSECURE", signal, env)
                switch insecure?.value.lowercased() {
                case nil, "false": tls = true
                case "true": tls = false
                default: throw DestinationError("\(insecure?.name ?? "")=\(insecure?.value ?? ""): expected true or false")
                }
            }
            let (host, port) = try Destination.splitHostPort(String(rest.prefix { $0 != "/" }), in: "\(varName)=\(endpoint)")
            return .grpc(host: host, port: port, tls: tls)
        case "http/protobuf", "http/json":
            let json = protocolName == "http/json"
            if let url = specific {
                return .httpURL(url: try httpURL(url, name: specificName, keepPath: true), json: json)
            }
            let base = try httpURL(general ?? "http://localhost:4318", name: prefix + "ENDPOINT", keepPath: false)
            return .http(base: base, json: json)
        default:
            throw DestinationError("\(proto?.name ?? "")=\(protocolName): expected grpc, http/protobuf or http/json")
        }
    }

    /// An http:// or https:// URL checked for its host and port (added: 80 or 443 when
    /// absent). With `keepPath` an empty path becomes `/`; without it a trailing `/` is
    /// dropped (a base to add `/v1/SIGNAL` to).
    static func httpURL(_ url: String, name: String, keepPath: Bool) throws(DestinationError) -> String {
        let tls: Bool
        var rest: Substring
        if url.hasPrefix("https://") { tls = true; rest = url.dropFirst(8) }
        else if url.hasPrefix("http://") { tls = false; rest = url.dropFirst(7) }
        else { throw DestinationError("\(name)=\(url): expected an http:// or https:// URL") }
        var hostPort = String(rest.prefix { $0 != "/" })
        rest = rest.dropFirst(hostPort.count)
        let hasPort = hostPort.hasPrefix("[") ? hostPort.contains("]:") : hostPort.contains(":")
        if !hasPort { hostPort += tls ? ":443" : ":80" }
        let (host, port) = try Destination.splitHostPort(hostPort, in: "\(name)=\(url)")
        var path = String(rest)
        if keepPath {
            if path.isEmpty { path = "/" }
        } else {
            while path.hasSuffix("/") { path.removeLast() }
        }
        let h = host.contains(":") ? "[\(host)]" : host
        return (tls ? "https://" : "http://") + "\(h):\(port)" + path
    }

    /// The targets of the variables, one per distinct destination and settings (the three
    /// signals share one when nothing signal-specific is set). Options given on the command
    /// line (`cli`) win over the variables; `config` fills what neither sets.
    static func targets(_ env: [String: String], cli: TargetOptions, config: TargetOptions) throws(DestinationError) -> [Target] {
        var out: [Target] = []
        for signal in Signal.allCases {
            var t = Target(destination: try destination(signal, env))
            t.signals = [signal]
            try apply(cli: cli, env: env, signal: signal, config: config, to: &t)
            if let i = out.firstIndex(where: { $0.sameRequests(t) }) {
                out[i].signals.insert(signal)
            } else {
                out.append(t)
            }
        }
        return out
    }

    /// Headers, timeout, compression and CA file of a target: the command line, else the
    /// variable for `signal` (or the general one when `signal` is nil), else the config file.
    static func apply(cli: TargetOptions, env: [String: String], signal: Signal?, config: TargetOptions, to t: inout Target) throws(DestinationError) {
        func variable(_ option: String) -> (name: String, value: String)? {
            if let signal { return lookup(option, signal, env) }
            return nonEmpty(env[prefix + option]).map { (prefix + option, $0) }
        }
        if let h = cli.headers {
            t.headers = try Destination.parseHeaders(h)
        } else if let v = variable("HEADERS") {
            do throws(DestinationError) { t.headers = try Destination.parseHeaders(v.value) } catch {
                throw DestinationError("\(v.name): \(error.description)")
            }
        } else if let h = config.headers {
            t.headers = try Destination.parseHeaders(h)
        }
        if let s = cli.timeout {
            t.timeout = s
        } else if let v = variable("TIMEOUT") {
            guard let ms = Int(v.value), ms > 0 else { throw DestinationError("\(v.name)=\(v.value): expected milliseconds") }
            t.timeout = max(1, (ms + 999) / 1000)
        } else if let s = config.timeout {
            t.timeout = s
        }
        let comp: String
        if let c = cli.compression { comp = c }
        else if let v = variable("COMPRESSION") {
            guard v.value == "gzip" || v.value == "none" else { throw DestinationError("\(v.name)=\(v.value): expected gzip or none") }
            comp = v.value
        } else { comp = config.compression ?? "none" }
        guard comp == "gzip" || comp == "none" else { throw DestinationError("compression \(comp): expected gzip or none") }
        t.gzip = comp == "gzip"
        t.caFile = cli.caFile ?? variable("CERTIFICATE")?.value ?? config.caFile
    }
}

/// The request settings a target can take from the command line or the config file.
struct TargetOptions {
    var headers: String?
    var timeout: Int?
    var compression: String?
    var caFile: String?
}

public struct DestinationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}
