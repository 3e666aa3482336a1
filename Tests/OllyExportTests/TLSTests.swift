import Foundation
import Testing

/// A self-signed certificate for localhost and 127.0.0.1, made by openssl(1) for the test.
struct SelfSigned {
    let dir: String
    var cert: String { dir + "/cert.pem" }
    var key: String { dir + "/key.pem" }

    init() throws {
        dir = tempDir()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem",
                       "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0, FileManager.default.fileExists(atPath: dir + "/cert.pem") else {
            throw TestError(description: "openssl req failed (is openssl installed? scripts/setup.sh test)")
        }
    }
}

/// OTLP over TLS (gRPC and HTTP) to the Python receiver serving a self-signed certificate.
@Suite struct TLSTests {
    /// With the certificate as --ca-file, or as OTEL_EXPORTER_OTLP_CERTIFICATE: every span
    /// arrives, over TLS.
    @Test(arguments: ["grpc", "http"])
    func deliversOverTLSWithTheCAFile(_ transport: String) throws {
        let cert = try SelfSigned()
        let rx = try Receiver(tls: cert)
        defer { rx.stop() }
        let dest = transport == "grpc" ? "otlp-grpcs://localhost:\(rx.grpcPort)" : "otlp-https://127.0.0.1:\(rx.httpPort)"
        let r = try runExport(["--to", dest, "--ca-file", cert.cert, "--no-red", "--batch-size", "50"], input: spans(120))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.counters["sent_spans"] == 120 && r.counters["lost_items"] == 0, "\(r.counters) \(r.stderr)")

        // The same through the standard variables: an https endpoint and the certificate.
        let env = transport == "grpc"
            ? ["OTEL_EXPORTER_OTLP_ENDPOINT": "https://localhost:\(rx.grpcPort)", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
               "OTEL_EXPORTER_OTLP_CERTIFICATE": cert.cert]
            : ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://localhost:\(rx.httpPort)/v1/traces", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": cert.cert]
        let e = try runExport(["--no-red", "--batch-size", "50"], input: spans(80, from: 120), env: env)
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.counters["sent_spans"] == 80 && e.counters["lost_items"] == 0, "\(e.counters) \(e.stderr)")
        rx.stop()
        #expect(Set(receivedSpanIDs(rx)) == Set((1...200).map { String(format: "%016llx", UInt64($0)) }))
    }

    /// Without the CA file the self-signed certificate is not trusted: nothing is sent in
    /// the clear, the request is not delivered and is counted lost (no spool).
    @Test(arguments: ["grpc", "http"])
    func refusesAnUntrustedCertificate(_ transport: String) throws {
        let cert = try SelfSigned()
        let rx = try Receiver(tls: cert)
        defer { rx.stop() }
        let dest = transport == "grpc" ? "otlp-grpcs://localhost:\(rx.grpcPort)" : "otlp-https://127.0.0.1:\(rx.httpPort)"
        let r = try runExport(["--to", dest, "--no-red", "--retry-max-seconds", "0", "--timeout", "5"], input: spans(10))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.counters["sent_spans"] == 0 && r.counters["lost_items"] == 10, "\(r.counters) \(r.stderr)")
        rx.stop()
        #expect(rx.requests.isEmpty)
    }

    /// A CA file that cannot be read is a usage error, said before any input is read.
    @Test func unreadableCAFileIsAUsageError() throws {
        let r = try runExport(["--to", "otlp-grpcs://localhost:1", "--ca-file", "/nonexistent/ca.pem"], input: "")
        #expect(r.status == 64)
        #expect(r.stderr.contains("/nonexistent/ca.pem"), "\(r.stderr)")
    }
}
