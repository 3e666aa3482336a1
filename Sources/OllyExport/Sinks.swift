import AsyncHTTPClient
import CompressNIO
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftProtobuf
import Synchronization

/// What a receiver said about one request.
public enum SendOutcome: Sendable, Equatable {
    /// Accepted; `rejected` items were refused (partial success) with `message`.
    case delivered(rejected: Int64, message: String)
    /// Try again later: after `after` seconds when the receiver said so.
    case retryable(message: String, after: Double?)
    /// The receiver will never accept this request.
    case permanent(message: String)
    /// The request was sent (or may have been) but no answer came: the attempt timed out,
    /// or the connection was lost after the request went out. Retried like `retryable`,
    /// but the receiver may already hold it, so a later delivery can be a duplicate.
    case unanswered(message: String)
}

/// A destination that takes one request at a time, blocking the calling thread.
public protocol Sink: AnyObject, Sendable {
    var name: String { get }
    func send(_ p: Payload) -> SendOutcome
    func close()
}

/// Runs async work to completion from a plain thread (never from the concurrency pool).
func blocking<T: Sendable>(_ op: @escaping @Sendable () async -> T) -> T {
    let result = Mutex<T?>(nil)
    let sem = DispatchSemaphore(value: 0)
    Task {
        let v = await op()
        result.withLock { $0 = v }
        sem.signal()
    }
    sem.wait()
    // The task stores a value before it signals, so the loop never spins.
    while true {
        if let v = result.withLock({ $0 }) { return v }
        sched_yield()
    }
}

/// Passes already serialized bytes through gRPC unchanged.
struct RawSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

/// OTLP/gRPC through grpc-swift (HTTP/2 over plaintext TCP).
public final class GRPCSink: Sink {
    public let name: String
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let headers: [(String, String)]
    let timeout: Duration
    let gzip: Bool

    public init(host: String, port: Int, tls: Bool = false, caFile: String? = nil, headers: [(String, String)], timeout: Duration, gzip: Bool) throws {
        name = Destination.grpc(host: host, port: port, tls: tls).name
        var config = HTTP2ClientTransport.Posix.Config.defaults
        if gzip { config.compression = .init(algorithm: .gzip, enabledAlgorithms: .all) }
        config.http2.maxFrameSize = 1 << 20
        config.backoff.max = .seconds(1)
        var security = HTTP2ClientTransport.Posix.TransportSecurity.plaintext
        if tls {
            // Read now, so that a bad file is a setup error, not a connection that never works.
            if let caFile { _ = try NIOSSLCertificate.fromPEMFile(caFile) }
            security = .tls { c in
                if let caFile { c.trustRoots = .certificates([.file(path: caFile, format: .pem)]) }
            }
        }
        let transport = try HTTP2ClientTransport.Posix(target: .dns(host: host, port: port), transportSecurity: security, config: config)
        client = GRPCClient(transport: transport)
        self.headers = headers
        self.timeout = timeout
        self.gzip = gzip
        let c = client
        Task.detached { try? await c.runConnections() }
    }

    public func send(_ p: Payload) -> SendOutcome {
        let client = self.client
        var md = Metadata()
        for (k, v) in headers { md.addString(v, forKey: k.lowercased()) }
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        options.maxResponseMessageBytes = 4 << 20
        if gzip { options.compression = .gzip }
        let request = ClientRequest(message: p.protobuf, metadata: md)
        let descriptor = MethodDescriptor(fullyQualifiedService: p.signal.grpcService, method: "Export")
        let signal = p.signal
        let opts = options
        return blocking {
            do {
                switch signal {
                case .traces:
                    let r = try await client.unary(request: request, descriptor: descriptor, serializer: RawSerializer(),
                                                   deserializer: ProtobufDeserializer<Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse>(),
                                                   options: opts) { try $0.message }
                    return .delivered(rejected: r.partialSuccess.rejectedSpans, message: r.partialSuccess.errorMessage)
                case .logs:
                    let r = try await client.unary(request: request, descriptor: descriptor, serializer: RawSerializer(),
                                                   deserializer: ProtobufDeserializer<Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse>(),
                                                   options: opts) { try $0.message }
                    return .delivered(rejected: r.partialSuccess.rejectedLogRecords, message: r.partialSuccess.errorMessage)
                case .metrics:
                    let r = try await client.unary(request: request, descriptor: descriptor, serializer: RawSerializer(),
                                                   deserializer: ProtobufDeserializer<Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse>(),
                                                   options: opts) { try $0.message }
                    return .delivered(rejected: r.partialSuccess.rejectedDataPoints, message: r.partialSuccess.errorMessage)
                }
            } catch let e as RPCError {
                return Self.classify(e)
            } catch {
                return .retryable(message: "\(error)", after: nil)
            }
        }
    }

    /// OTLP specification, "Failures": the retryable gRPC codes; RESOURCE_EXHAUSTED only
    /// with RetryInfo. RetryInfo's delay is honoured.
    static func classify(_ e: RPCError) -> SendOutcome {
        var delay: Double?
        if let status = try? e.unpackGoogleRPCStatus() {
            for d in status.details {
                if let ri = d.retryInfo {
                    let c = ri.delay.components
                    delay = Double(c.seconds) + Double(c.attoseconds) / 1e18
                }
            }
        }
        let message = "\(e.code): \(e.message)"
        switch e.code {
        case .deadlineExceeded, .cancelled:
            return .unanswered(message: message)
        case .unavailable where e.message.hasPrefix("Stream unexpectedly closed") || e.message.hasPrefix("connection closed")
            || e.message.hasPrefix("The TCP connection was dropped"):
            // The stream was open, so the request may have been read before it closed.
            return .unanswered(message: message)
        case .unavailable, .aborted, .outOfRange, .dataLoss:
            return .retryable(message: message, after: delay)
        case .resourceExhausted:
            return delay != nil ? .retryable(message: message, after: delay) : .permanent(message: message)
        default:
            return .permanent(message: message)
        }
    }

    public func close() {
        client.beginGracefulShutdown()
    }
}

/// OTLP/HTTP through AsyncHTTPClient, protobuf or JSON bodies.
public final class HTTPSink: Sink {
    public let name: String
    let base: String
    /// `base` is the whole URL (a signal-specific endpoint), not a prefix for `/v1/SIGNAL`.
    let exact: Bool
    let json: Bool
    let headers: [(String, String)]
    let timeout: Duration
    let gzip: Bool
    let client: HTTPClient

    public init(url: String, exact: Bool = false, json: Bool, caFile: String? = nil, headers: [(String, String)], timeout: Duration, gzip: Bool) throws {
        self.base = url
        self.exact = exact
        self.json = json
        self.name = exact ? Destination.httpURL(url: url, json: json).name : Destination.http(base: url, json: json).name
        self.headers = headers
        self.timeout = timeout
        self.gzip = gzip
        var config = HTTPClient.Configuration()
        config.decompression = .enabled(limit: .ratio(100))
        config.connectionPool = .init(idleTimeout: .seconds(30))
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            config.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    public func send(_ p: Payload) -> SendOutcome {
        var body: [UInt8]
        if json {
            do { body = try p.json() } catch { return .permanent(message: "cannot encode JSON: \(error)") }
        } else {
            body = p.protobuf
        }
        var request = HTTPClientRequest(url: exact ? base : base + p.signal.httpPath)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: json ? "application/json" : "application/x-protobuf")
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if gzip {
            var buf = ByteBuffer(bytes: body)
            if let z = try? buf.compress(with: .gzip()) {
                body = Array(z.readableBytesView)
                request.headers.add(name: "Content-Encoding", value: "gzip")
            }
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let req = request
        let client = self.client
        let timeout = self.timeout
        let json = self.json
        let signal = p.signal
        return blocking {
            do {
                let response = try await client.execute(req, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
                let data = try await response.body.collect(upTo: 4 << 20)
                let bytes = Array(data.readableBytesView)
                return Self.classify(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"),
                                     body: bytes, json: json, signal: signal)
            } catch {
                return Self.classify(error)
            }
        }
    }

    /// OTLP/HTTP "Failures": 429, 502, 503 and 504 are retryable (honouring Retry-After,
    /// in seconds or as an HTTP date); other 4xx and 5xx are permanent.
    static func classify(status: Int, retryAfter: String?, body: [UInt8], json: Bool, signal: Signal) -> SendOutcome {
        if (200..<300).contains(status) {
            return partialSuccess(body: body, json: json, signal: signal)
        }
        let message = "HTTP \(status)" + (statusMessage(body).map { ": " + $0 } ?? "")
        if [429, 502, 503, 504].contains(status) {
            return .retryable(message: message, after: retryAfter.flatMap(parseRetryAfter))
        }
        return .permanent(message: message)
    }

    /// A request that failed without an answer: unanswered when it may have reached the
    /// receiver (the deadline passed, or the connection closed while it was in flight),
    /// else retryable (it could not be sent: no connection).
    static func classify(_ error: any Error) -> SendOutcome {
        if let e = error as? HTTPClientError,
           [.deadlineExceeded, .readTimeout, .writeTimeout, .remoteConnectionClosed, .cancelled].contains(e) {
            return .unanswered(message: "\(error)")
        }
        return .retryable(message: "\(error)", after: nil)
    }

    static func parseRetryAfter(_ s: String) -> Double? {
        let t = s.trimmingCharacters(in: .whitespaces)
        if let n = Double(t), n >= 0 { return n }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let d = f.date(from: t) { return max(0, d.timeIntervalSinceNow) }
        return nil
    }

    /// The message of a google.rpc.Status body, or the body as text.
    static func statusMessage(_ body: [UInt8]) -> String? {
        if body.isEmpty { return nil }
        if let s = try? GoogleRPCStatus(serializedBytes: body), !s.message.isEmpty { return s.message }
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func partialSuccess(body: [UInt8], json: Bool, signal: Signal) -> SendOutcome {
        if body.isEmpty { return .delivered(rejected: 0, message: "") }
        var opts = JSONDecodingOptions()
        opts.ignoreUnknownFields = true
        switch signal {
        case .traces:
            let r = json ? try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse(jsonUTF8Bytes: body, options: opts)
                : try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse(serializedBytes: body)
            return .delivered(rejected: r?.partialSuccess.rejectedSpans ?? 0, message: r?.partialSuccess.errorMessage ?? "")
        case .logs:
            let r = json ? try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse(jsonUTF8Bytes: body, options: opts)
                : try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse(serializedBytes: body)
            return .delivered(rejected: r?.partialSuccess.rejectedLogRecords ?? 0, message: r?.partialSuccess.errorMessage ?? "")
        case .metrics:
            let r = json ? try? Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse(jsonUTF8Bytes: body, options: opts)
                : try? Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse(serializedBytes: body)
            return .delivered(rejected: r?.partialSuccess.rejectedDataPoints ?? 0, message: r?.partialSuccess.errorMessage ?? "")
        }
    }

    public func close() {
        let c = client
        blocking { try? await c.shutdown() }
    }
}

/// `file:DIR`: one OTLP JSON request per line, in files `otlp-NNNNNN.jsonl` that rotate
/// when they reach `maxBytes`; numbering continues after the files already there.
public final class FileSink: Sink, @unchecked Sendable {
    public let name: String
    let dir: String
    let maxBytes: Int
    var fd: Int32 = -1
    var written = 0
    var number = 0

    public init(dir: String, maxBytes: Int) throws {
        self.name = "file:" + dir
        self.dir = dir
        self.maxBytes = maxBytes
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        number = existing.compactMap { n -> Int? in
            guard n.hasPrefix("otlp-"), n.hasSuffix(".jsonl") else { return nil }
            return Int(n.dropFirst(5).dropLast(6))
        }.max() ?? 0
    }

    var path: String { dir + "/" + "otlp-" + String(repeating: "0", count: max(0, 6 - String(number).count)) + String(number) + ".jsonl" }

    public func send(_ p: Payload) -> SendOutcome {
        var line: [UInt8]
        do { line = try p.json() } catch { return .permanent(message: "cannot encode JSON: \(error)") }
        line.append(UInt8(ascii: "\n"))
        if fd < 0 || (written > 0 && written + line.count > maxBytes) {
            if fd >= 0 { Foundation.close(fd) }
            number += 1
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            written = 0
            if fd < 0 { return .retryable(message: "\(path): \(String(cString: strerror(errno)))", after: nil) }
        }
        var done = 0
        while done < line.count {
            let r = line.withUnsafeBytes { b in Foundation.write(fd, b.baseAddress.map { $0 + done }, b.count - done) }
            if r < 0 {
                if errno == EINTR { continue }
                let e = String(cString: strerror(errno))
                _ = ftruncate(fd, off_t(written))
                return .retryable(message: "\(path): \(e)", after: nil)
            }
            done += r
        }
        written += line.count
        return .delivered(rejected: 0, message: "")
    }

    public func close() {
        if fd >= 0 { Foundation.close(fd); fd = -1 }
    }
}
