import Foundation
import Testing

/// What /proc says of a process: open fds and resident memory.
struct ProcessSample {
    let seconds: Double
    let fds: Int
    let rssKiB: Int

    /// Reads /proc/PID/fd and /proc/PID/status of another process; nil once it is gone.
    static func take(_ pid: Int32, at seconds: Double) -> ProcessSample? {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return nil }
        return ProcessSample(seconds: seconds, fds: fds.count, rssKiB: kib)
    }
}

/// The feeder thread's state.
final class Feed: @unchecked Sendable {
    private let lock = NSLock()
    private var _stopped = false
    private var _fed = 0
    var stopped: Bool { lock.withLock { _stopped } }
    var fed: Int { lock.withLock { _fed } }
    func stop() { lock.withLock { _stopped = true } }
    func set(fed n: Int) { lock.withLock { _fed = n } }
}

/// fds and memory of olly-export stay flat over a long run with the receiver flapping.
///
/// olly-export sends a steady stream of spans to two destinations (gRPC and HTTP) of one
/// receiver, with a spool, while the receiver is up for 20 s and down for 10 s, again and
/// again. The test samples olly-export's open fds (/proc/PID/fd) and resident memory
/// (VmRSS in /proc/PID/status) from outside every 2 s. The run is OLLY_SOAK_SECONDS long
/// (600, the default, in CI; shorter only for local tries). The first fifth of the run
/// (at least 30 s) is warm-up: connections, thread pools and malloc arenas reach their size.
/// Tolerance, comparing the first and the last quarter of the samples after warm-up:
///   fds: the most in the last quarter exceed the most in the first by at most 8 (the
///     connections and spool files of the moment);
///   memory: the median RSS of the last quarter exceeds the median of the first by at most
///     16 MiB and 25 %.
/// A leak of an fd per request, or of a few kilobytes per request, fails it.
/// At the end the receiver is up: nothing is lost and the spool is empty.
@Suite struct SoakTests {
    static let seconds: Double = {
        if let s = ProcessInfo.processInfo.environment["OLLY_SOAK_SECONDS"], let v = Double(s), v >= 60 { return v }
        return 600
    }()

    @Test(.timeLimit(.minutes(20)))
    func fdsAndMemoryFlatWithReceiverFlapping() throws {
        let duration = Self.seconds
        var rx = try Receiver(countOnly: true)
        let (g, h) = (rx.grpcPort, rx.httpPort)
        var receivers: [Receiver] = [rx]
        let spool = tempDir()
        let p = try ExportProcess(["--to", "otlp-grpc://127.0.0.1:\(g)", "--to", "otlp-http://127.0.0.1:\(h)",
                                   "--spool", spool, "--batch-size", "200", "--batch-delay-ms", "100", "--timeout", "2",
                                   "--drain-seconds", "60", "--no-red"])
        let pid = p.process.processIdentifier

        // The feeder: 100 spans every 100 ms (1000 spans/s), until told to stop.
        let feed = Feed()
        let feeder = Thread {
            var i = 0
            while !feed.stopped {
                p.write(spans(100, from: i))
                i += 100
                feed.set(fed: i)
                usleep(100_000)
            }
        }
        feeder.start()

        let t0 = Date()
        var samples: [ProcessSample] = []
        var up = true
        var lastFlip = 0.0
        while true {
            let now = Date().timeIntervalSince(t0)
            if now >= duration { break }
            if let s = ProcessSample.take(pid, at: now) { samples.append(s) }
            // Flap: 20 s up, 10 s down.
            if up && now - lastFlip >= 20 {
                rx.stop()
                up = false
                lastFlip = now
            } else if !up && now - lastFlip >= 10 {
                rx = try Receiver(grpcPort: g, httpPort: h, countOnly: true)
                receivers.append(rx)
                up = true
                lastFlip = now
            }
            Thread.sleep(forTimeInterval: 2)
        }
        feed.stop()
        while !feeder.isFinished { usleep(20_000) }
        if !up {
            rx = try Receiver(grpcPort: g, httpPort: h, countOnly: true)
            receivers.append(rx)
        }
        p.closeInput()
        let r = try p.wait(timeout: 180)
        for x in receivers { x.stop() }
        let n = feed.fed

        let warm = max(30, duration / 5)
        let steady = samples.filter { $0.seconds >= warm }
        print("soak: samples (s fds RSS-KiB): " + samples.enumerated().filter { $0.offset % 15 == 0 }
            .map { "\(Int($0.element.seconds)) \($0.element.fds) \($0.element.rssKiB)" }.joined(separator: ", "))
        try #require(steady.count >= 8, "too few samples: \(samples.count)")
        let q = steady.count / 4
        let first = steady.prefix(q), last = steady.suffix(q)
        let fdsFirst = first.map(\.fds).max() ?? 0, fdsLast = last.map(\.fds).max() ?? 0
        func median(_ xs: some Collection<ProcessSample>) -> Int { xs.map(\.rssKiB).sorted()[xs.count / 2] }
        let rssFirst = median(first), rssLast = median(last)
        let report = "fds \(fdsFirst) -> \(fdsLast), RSS \(rssFirst) KiB -> \(rssLast) KiB over \(Int(duration)) s, \(samples.count) samples, \(receivers.count) receiver runs, \(n) spans"
        print("soak: " + report)
        #expect(fdsLast <= fdsFirst + 8, "fds grew: \(report)")
        #expect(rssLast <= rssFirst + 16 * 1024 && Double(rssLast) <= Double(rssFirst) * 1.25, "memory grew: \(report)")

        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        let c = r.counters
        #expect(c["spans_in"] == n, "\(c)")
        #expect(c["sent_spans"] == 2 * n && c["lost_items"] == 0 && c["spool_dropped_items"] == 0, "\(c)")
        #expect(c["breaker_opens"] ?? 0 >= 2, "the receiver was down several times: \(c)")
        var received = 0
        for x in receivers { received += (x.counts?["counts"] as? [String: Int])?["traces"] ?? 0 }
        #expect(received >= 2 * n, "every span reached the receiver: \(received) of \(2 * n)")
        #expect(received - 2 * n <= c["retried_after_timeout_items"] ?? 0, "duplicates only as counted: \(received - 2 * n) \(c)")
        let left = (try? FileManager.default.subpathsOfDirectory(atPath: spool))?.filter { $0.hasSuffix(".pb") } ?? []
        #expect(left.isEmpty, "spool empty at the end: \(left.count) files")
    }
}
