import Foundation
@testable import OllyExport
import OllyCLI
import Testing

/// The OTEL_EXPORTER_OTLP_* variables, general and per signal (OpenTelemetry
/// specification, "OTLP Exporter Configuration").
@Suite struct OTLPEnvironmentTests {
    func targets(_ env: [String: String], cli: TargetOptions = TargetOptions()) throws -> [Target] {
        try OTLPEnvironment.targets(env, cli: cli, config: TargetOptions())
    }

    func target(_ ts: [Target], _ s: Signal) -> Target? { ts.first { $0.signals.contains(s) } }

    @Test func generalEndpointIsOneTargetForAllSignals() throws {
        let ts = try targets(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/", "OTEL_EXPORTER_OTLP_HEADERS": "a=1"])
        #expect(ts.count == 1)
        #expect(ts.first?.destination == .http(base: "http://c:4318", json: false))
        #expect(ts.first?.signals == Set(Signal.allCases))
        #expect(ts.first?.headers.map(\.0) == ["a"])
    }

    @Test func signalEndpointsAreUsedAsTheyAre() throws {
        let ts = try targets([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://t:9000/my/traces",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:9001",
        ])
        #expect(target(ts, .traces)?.destination == .httpURL(url: "https://t:9000/my/traces", json: false))
        #expect(target(ts, .metrics)?.destination == .httpURL(url: "http://m:9001/", json: false), "no path: the root")
        #expect(target(ts, .logs)?.destination == .http(base: "http://c:4318", json: false))
        #expect(ts.count == 3)
    }

    @Test func onlyASignalEndpointLeavesTheOthersAtTheDefaults() throws {
        let ts = try targets(["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://l:1/v1/logs"])
        #expect(target(ts, .logs)?.destination == .httpURL(url: "http://l:1/v1/logs", json: false))
        #expect(target(ts, .traces)?.destination == .http(base: "http://localhost:4318", json: false))
        #expect(target(ts, .traces)?.signals == [.traces, .metrics])
    }

    @Test func perSignalOptionsWinOverGeneralOnes() throws {
        let ts = try targets([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://c:4318/v1/logs",
            "OTEL_EXPORTER_OTLP_HEADERS": "k=general", "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "k=metrics",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "100",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "none", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_CERTIFICATE": "/general.pem", "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE": "/metrics.pem",
        ])
        let t = try #require(target(ts, .traces)), m = try #require(target(ts, .metrics)), l = try #require(target(ts, .logs))
        #expect(t.destination == .grpc(host: "c", port: 4317, tls: false))
        #expect(t.timeout == 1 && t.gzip && t.headers.first?.1 == "general" && t.caFile == "/general.pem")
        #expect(m.destination == .grpc(host: "c", port: 4317, tls: false))
        #expect(m.timeout == 3 && !m.gzip && m.headers.first?.1 == "metrics" && m.caFile == "/metrics.pem")
        #expect(l.destination == .httpURL(url: "http://c:4318/v1/logs", json: true))
        #expect(ts.count == 3, "traces and metrics differ in their settings")
    }

    @Test func commandLineWinsOverVariables() throws {
        let ts = try targets(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "k=t",
                              "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "5000"],
                             cli: TargetOptions(headers: "k=cli", timeout: 7, compression: "gzip", caFile: "/cli.pem"))
        #expect(ts.count == 1)
        #expect(ts.first?.headers.first?.1 == "cli" && ts.first?.timeout == 7 && ts.first?.gzip == true && ts.first?.caFile == "/cli.pem")
    }

    /// gRPC: https:// is TLS, http:// plaintext, no scheme TLS unless INSECURE is true.
    @Test func grpcSecurityFollowsTheSchemeAndInsecure() throws {
        func dest(_ env: [String: String]) throws -> Destination? {
            try targets(env.merging(["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]) { a, _ in a }).first?.destination
        }
        #expect(try dest(["OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4317"]) == .grpc(host: "c", port: 4317, tls: true))
        #expect(try dest(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"]) == .grpc(host: "c", port: 4317, tls: false))
        #expect(try dest(["OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317"]) == .grpc(host: "c", port: 4317, tls: true))
        #expect(try dest(["OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317", "OTEL_EXPORTER_OTLP_INSECURE": "true"]) == .grpc(host: "c", port: 4317, tls: false))
        let ts = try targets(["OTEL_EXPORTER_OTLP_ENDPOINT": "c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_INSECURE": "true"])
        #expect(target(ts, .traces)?.destination == .grpc(host: "c", port: 4317, tls: false))
        #expect(target(ts, .logs)?.destination == .grpc(host: "c", port: 4317, tls: true))
    }

    @Test func badValuesNameTheVariable() {
        for (env, variable) in [
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "kafka"], "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
            (["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "ftp://m:1"], "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "soon"], "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"),
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"], "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"),
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:1", "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "novalue"], "OTEL_EXPORTER_OTLP_METRICS_HEADERS"),
            (["OTEL_EXPORTER_OTLP_ENDPOINT": "c:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_INSECURE": "maybe"], "OTEL_EXPORTER_OTLP_INSECURE"),
        ] {
            do {
                _ = try targets(env)
                Issue.record("\(env) accepted")
            } catch {
                #expect("\(error)".contains(variable), "\(error)")
            }
        }
    }
}

/// The per-signal variables against the real receiver: each signal reaches its own
/// endpoint, with its own protocol, headers and compression.
@Suite struct OTLPEnvironmentLiveTests {
    @Test func eachSignalGoesWhereItsVariablesSay() throws {
        let rx = try Receiver()
        defer { rx.stop() }
        let input = String(decoding: FileManager.default.contents(atPath: fixturePath) ?? Data(), as: UTF8.self)
        let r = try runExport(["--no-red", "--no-stats-metrics"], input: input, env: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(rx.httpPort)",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-signal=general",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:\(rx.httpPort)/custom/traces",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:\(rx.grpcPort)",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-signal=logs",
            "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let c = r.counters
        #expect(c["sent_spans"] == 3 && c["sent_logs"] == 2 && c["sent_points"] == 3 && c["lost_items"] == 0, "\(c) \(r.stderr)")
        rx.stop()
        let reqs = rx.requests
        let traces = reqs.filter { $0["signal"] as? String == "traces" }
        #expect(traces.count == 1)
        #expect(traces.allSatisfy { $0["transport"] as? String == "http" && $0["path"] as? String == "/custom/traces" }, "\(traces.map { $0["path"] ?? "" })")
        #expect(traces.allSatisfy { $0["gzip"] as? Bool == true && at($0, "headers", "x-signal") as? String == "general" })
        let metrics = reqs.filter { $0["signal"] as? String == "metrics" }
        #expect(!metrics.isEmpty && metrics.allSatisfy { $0["transport"] as? String == "grpc" && $0["gzip"] as? Bool == false })
        #expect(metrics.allSatisfy { at($0, "headers", "x-signal") as? String == "general" })
        let logs = reqs.filter { $0["signal"] as? String == "logs" }
        #expect(!logs.isEmpty && logs.allSatisfy { $0["transport"] as? String == "http" && $0["encoding"] as? String == "json" && $0["path"] as? String == "/v1/logs" })
        #expect(logs.allSatisfy { at($0, "headers", "x-signal") as? String == "logs" })
    }

    /// A variable that is not valid: said, with its name, and status 64.
    @Test func badVariableIsAUsageError() throws {
        let r = try runExport([], input: "", env: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=thrift"), "\(r.stderr)")
    }
}
