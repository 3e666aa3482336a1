// swift-tools-version:6.0
import PackageDescription

// Olly: composable commands that turn the traffic of unmodified Linux processes into
// OpenTelemetry data. Executables are thin `@main` declarations; every piece of logic
// lives in a library that the tests import.
let package = Package(
    name: "olly",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "olly-capture", targets: ["olly-capture"]),
        .executable(name: "olly-reassemble", targets: ["olly-reassemble"]),
        .executable(name: "olly-parse", targets: ["olly-parse"]),
        .executable(name: "olly-stitch", targets: ["olly-stitch"]),
        .executable(name: "olly-export", targets: ["olly-export"]),
        .library(name: "OllyNDJSON", targets: ["OllyNDJSON"]),
    ],
    dependencies: [
        // The standard Swift command-line parser: help text, validation, exit code 64.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // YAML for `--config FILE`; Yams keeps node marks, so config errors can name the line.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // OTLP export (olly-export): protobuf runtime for the generated OTLP types, gRPC client,
        // HTTP client, gzip.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        // TLS configuration of the OTLP/HTTP client (already used by async-http-client).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        // HTTP/2 reassembly: HPACK header blocks are decoded by NIOHPACK's decoder (dynamic
        // table, Huffman, size updates) rather than by a decoder of our own; NIOCore for the
        // ByteBuffer it reads. Both are already in the graph through the gRPC transport.
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.82.0"),
    ],
    targets: [
        // Small C helpers that Swift cannot express safely: async-signal-safe signal flags,
        // pipe sizing (F_SETPIPE_SZ) and isatty.
        .target(name: "COllySupport"),
        // Records, the NDJSON and binary codecs, streaming reader and writer. No Foundation.
        .target(name: "OllyNDJSON", dependencies: ["COllySupport"]),
        // Behaviour shared by all five commands: options, config files, diagnostics,
        // exit codes, signals, stats, the stage runner.
        .target(name: "OllyCLI", dependencies: [
            "OllyNDJSON", "COllySupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // libbpf loader for bpf/olly.bpf.c and the event structs shared with it.
        .target(name: "COllyBPF", linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]),
        // eBPF capture: events to proc/conn/data records, /proc scanning, the capture loop.
        .target(name: "OllyCapture", dependencies: ["OllyCLI", "OllyNDJSON", "COllyBPF", "COllySupport"]),
        // Exchanges into OpenTelemetry spans, per protocol.
        .target(name: "OllyParse", dependencies: ["OllyNDJSON", "OllyCLI"]),
        .executableTarget(name: "olly-capture", dependencies: ["OllyCLI", "OllyCapture", "OllyHook"]),
        // Test helper (not installed): start/stop cycles in a process of its own, fds and memory.
        .executableTarget(name: "olly-capture-cycles", dependencies: ["OllyCapture"]),
        // Reassembly: connection table, stream order, gaps, limits, protocol detection, and one
        // folder per protocol (framing and pairing) turning data records into exchanges.
        .target(name: "OllyReassembly", dependencies: [
            "OllyNDJSON",
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .executableTarget(name: "olly-reassemble", dependencies: ["OllyCLI", "OllyReassembly"]),
        .executableTarget(name: "olly-parse", dependencies: ["OllyCLI", "OllyParse"]),
        .executableTarget(name: "olly-stitch", dependencies: ["OllyCLI"]),
        // Export: records to OTLP (gRPC, HTTP), files, stdout and the tree view; batching,
        // retries, circuit breaker, spool, RED metrics. Generated OTLP types in OTLP/.
        .target(name: "OllyExport", dependencies: [
            "OllyNDJSON", "OllyCLI", "COllySupport",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "CompressNIO", package: "compress-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .executableTarget(name: "olly-export", dependencies: ["OllyCLI", "OllyExport"]),
        // LD_PRELOAD hook capture: the channel layout shared with hook/libolly.c, its reader.
        .target(name: "COllyHook"),
        .target(name: "OllyHook", dependencies: ["OllyCLI", "OllyNDJSON", "COllyHook", "COllySupport"]),
        // Benchmark driver for `make bench` (not installed).
        .executableTarget(name: "olly-bench", dependencies: ["OllyNDJSON", "COllySupport"]),
        .testTarget(name: "OllyNDJSONTests", dependencies: ["OllyNDJSON"]),
        .testTarget(name: "OllyCLITests", dependencies: ["OllyCLI", "OllyNDJSON"]),
        .testTarget(name: "OllyHookTests", dependencies: ["OllyHook", "OllyNDJSON", "COllyHook"]),
        .testTarget(name: "OllyReassemblyTests", dependencies: ["OllyReassembly", "OllyNDJSON"]),
        .testTarget(name: "OllyParseTests", dependencies: ["OllyParse", "OllyNDJSON", "OllyCLI"]),
        .testTarget(name: "OllyExportTests", dependencies: ["OllyExport", "OllyCLI", "OllyNDJSON"]),
        .testTarget(name: "OllyCaptureTests", dependencies: ["OllyCapture", "OllyNDJSON"], exclude: ["Scenarios"]),
    ],
    swiftLanguageModes: [.v6]
)
