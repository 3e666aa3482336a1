import Foundation

/// Where olly-export sends: parsed from `--to` or from the OTEL_EXPORTER_OTLP_* variables.
public enum Destination: Equatable, Sendable {
    case grpc(host: String, port: Int)
    /// `base` is `http://HOST:PORT` plus an optional path prefix.
    case http(base: String, json: Bool)
    case file(dir: String)
    case stdout
    case tree

    public var isNetwork: Bool {
        switch self {
        case .grpc, .http: true
        default: false
        }
    }

    public var name: String {
        switch self {
        case .grpc(let h, let p): "otlp-grpc://\(h):\(p)"
        case .http(let b, let j): (j ? "otlp-http+json://" : "otlp-http://") + b.dropFirst("http://".count)
        case .file(let d): "file:\(d)"
        case .stdout: "stdout"
        case .tree: "tree"
        }
    }

    /// Parses `otlp-grpc://HOST:PORT`, `otlp-http://HOST:PORT[/PREFIX]`,
    /// `otlp-http+json://HOST:PORT[/PREFIX]`, `file:DIR`, `stdout` or `tree`.
    public static func parse(_ s: String) throws(DestinationError) -> Destination {
        if s == "stdout" { return .stdout }
        if s == "tree" { return .tree }
        if s.hasPrefix("file:") {
            let d = String(s.dropFirst(5))
            guard !d.isEmpty else { throw DestinationError("\(s): file: needs a directory") }
            return .file(dir: d)
        }
        for (scheme, kind) in [("otlp-grpc://", 0), ("otlp-http://", 1), ("otlp-http+json://", 2)] where s.hasPrefix(scheme) {
            let rest = s.dropFirst(scheme.count)
            let hostPort = rest.prefix { $0 != "/" }
            var path = String(rest.dropFirst(hostPort.count))
            while path.hasSuffix("/") { path.removeLast() }
            let (host, port) = try splitHostPort(String(hostPort), in: s)
            if kind == 0 {
                guard path.isEmpty else { throw DestinationError("\(s): otlp-grpc takes no path") }
                return .grpc(host: host, port: port)
            }
            let h = host.contains(":") ? "[\(host)]" : host
            return .http(base: "http://\(h):\(port)\(path)", json: kind == 2)
        }
        throw DestinationError("\(s): unknown destination (expected otlp-grpc://HOST:PORT, otlp-http://HOST:PORT, otlp-http+json://HOST:PORT, file:DIR, stdout or tree)")
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

    /// The destination of OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL
    /// (`grpc`, `http/protobuf` (the default) or `http/json`), or nil when no endpoint is set.
    public static func fromEnvironment(_ env: [String: String]) throws(DestinationError) -> Destination? {
        guard let endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"], !endpoint.isEmpty else { return nil }
        let proto = env["OTEL_EXPORTER_OTLP_PROTOCOL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http/protobuf"
        var rest = Substring(endpoint)
        if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        else if rest.hasPrefix("https://") {
            throw DestinationError("OTEL_EXPORTER_OTLP_ENDPOINT=\(endpoint): https is not supported in this version")
        }
        switch proto {
        case "grpc": return try parse("otlp-grpc://" + rest.prefix { $0 != "/" })
        case "http/protobuf": return try parse("otlp-http://" + rest)
        case "http/json": return try parse("otlp-http+json://" + rest)
        default: throw DestinationError("OTEL_EXPORTER_OTLP_PROTOCOL=\(proto): expected grpc, http/protobuf or http/json")
        }
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

public struct DestinationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ d: String) { description = d }
}
