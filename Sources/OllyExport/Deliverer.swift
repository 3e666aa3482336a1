import Foundation
import Synchronization

/// Counters shared by the export threads, reported in the stage's `stats` record.
public final class ExportCounters: Sendable {
    public static let names = [
        "spans_in", "logs_in", "metrics_in", "stats_in", "unexportable",
        "sent_batches", "sent_spans", "sent_logs", "sent_points",
        "rejected_spans", "rejected_logs", "rejected_points",
        "retries", "permanent_errors", "permanent_items", "breaker_opens",
        "retried_after_timeout_batches", "retried_after_timeout_items",
        "spooled_batches", "spool_replayed_batches", "spool_dropped_batches", "spool_dropped_items",
        "lost_batches", "lost_items",
    ]
    let values = Mutex<[String: Int64]>([:])
    public init() {}
    public func add(_ name: String, _ n: Int64 = 1) { values.withLock { $0[name, default: 0] += n } }
    public subscript(_ name: String) -> Int64 { values.withLock { $0[name, default: 0] } }
    public var all: [(String, Int64)] { let v = values.withLock { $0 }; return Self.names.map { ($0, v[$0, default: 0]) } }
}

/// Diagnostics on stderr, one line each, from any thread.
final class Warn: Sendable {
    let lock = Mutex(())
    func say(_ s: String) {
        lock.withLock { _ in
            let line = "olly-export: " + s + "\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// Retry, breaker and queue settings (olly-export(1), "Delivery").
public struct DeliveryPolicy: Sendable {
    /// First retry delay; doubled per attempt up to `maxBackoff`, with full jitter.
    public var initialBackoff = 0.2
    public var maxBackoff = 5.0
    /// How long one request is retried before it is spooled (or, without a spool, lost).
    public var maxElapsed = 300.0
    /// Consecutive failures that open the breaker; while open, one probe per `probeInterval`.
    public var breakerThreshold = 5
    public var probeInterval = 1.0
    public var maxProbeInterval = 10.0
    /// Requests waiting in memory before the reader is held back.
    public var maxQueued = 8
    /// At exit, how long to keep delivering before the rest goes to the spool.
    public var drainSeconds = 10.0
    public init() {}
}

/// Delivers requests to one sink from its own thread, in order: retries with exponential
/// backoff and jitter, honours Retry-After/RetryInfo, stops on permanent errors, opens a
/// circuit breaker after repeated failures (probing, not hammering), and spools what it
/// cannot deliver. The spool is always older than the queue, so replay keeps the order.
final class Deliverer: @unchecked Sendable {
    let sink: Sink
    /// The signals this destination takes.
    let signals: Set<Signal>
    let spool: Spool?
    let policy: DeliveryPolicy
    let counters: ExportCounters
    let warn: Warn
    let cond = NSCondition()
    // Guarded by cond:
    var queue: [Payload] = []
    var closing = false
    var closeDeadline = Double.infinity
    var finished = false
    // Deliverer thread only:
    var consecutiveFailures = 0
    var breakerOpenUntil = 0.0
    var probeDelay: Double
    var breakerOpen = false

    init(sink: Sink, signals: Set<Signal> = Set(Signal.allCases), spool: Spool?, policy: DeliveryPolicy, counters: ExportCounters, warn: Warn) {
        self.sink = sink
        self.signals = signals
        self.spool = spool
        self.policy = policy
        self.counters = counters
        self.warn = warn
        self.probeDelay = policy.probeInterval
        if let s = spool, !s.isEmpty {
            warn.say("\(sink.name): \(s.count) spooled requests to replay from \(s.dir)")
        }
        let t = Thread { [self] in self.loop() }
        t.name = "olly-export " + sink.name
        t.start()
    }

    static func now() -> Double { Date().timeIntervalSinceReferenceDate }

    /// Queues a request; holds the caller while too many wait (unless `interrupted` says
    /// to stop waiting: a signal arrived).
    func submit(_ p: Payload, interrupted: () -> Bool) {
        cond.lock()
        while queue.count >= policy.maxQueued && !closing && !interrupted() {
            _ = cond.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
        queue.append(p)
        cond.signal()
        cond.unlock()
    }

    /// Ends delivery: what is not delivered within the drain time is spooled (or counted
    /// lost without a spool). Returns when the thread is done.
    func beginClose(drain: Double) {
        cond.lock()
        closing = true
        closeDeadline = Self.now() + drain
        cond.broadcast()
        cond.unlock()
    }

    func waitClosed() {
        cond.lock()
        while !finished { cond.wait() }
        cond.unlock()
        sink.close()
    }

    var isClosing: Bool {
        cond.lock(); defer { cond.unlock() }
        return closing
    }

    var pastDeadline: Bool {
        cond.lock(); defer { cond.unlock() }
        return closing && Self.now() >= closeDeadline
    }

    /// Sleeps until `t`, waking early when closing passes its deadline.
    func sleep(until t: Double) {
        cond.lock()
        while Self.now() < t && !(closing && Self.now() >= closeDeadline) {
            _ = cond.wait(until: Date(timeIntervalSinceReferenceDate: min(t, closing ? closeDeadline : t)))
        }
        cond.unlock()
    }

    func loop() {
        run: while true {
            // Replay the spool first: it holds the oldest requests.
            if let spool, !spool.isEmpty {
                if breakerOpen && Self.now() < breakerOpenUntil {
                    moveQueueToSpool()
                    if isClosing { break run }
                    sleep(until: breakerOpenUntil)
                    continue
                }
                if let (_, p) = spool.peek() {
                    switch attempt(p, replay: true) {
                    case .done:
                        spool.removeHead()
                        counters.add("spool_replayed_batches")
                    case .keep:
                        if pastDeadline || isClosing && breakerOpen { moveQueueToSpool(); break run }
                    }
                    continue
                }
            }
            cond.lock()
            while queue.isEmpty && !closing { cond.wait() }
            if queue.isEmpty && closing { cond.unlock(); break }
            let p = queue.removeFirst()
            cond.broadcast()
            cond.unlock()
            switch attempt(p, replay: false) {
            case .done: break
            case .keep: park(p)
            }
        }
        cond.lock()
        finished = true
        cond.broadcast()
        cond.unlock()
    }

    /// A request that could not be delivered now: to the spool, or lost (counted, said).
    func park(_ p: Payload) {
        if let spool {
            do {
                let dropped = try spool.append(p)
                counters.add("spooled_batches")
                for d in dropped {
                    counters.add("spool_dropped_batches")
                    counters.add("spool_dropped_items", Int64(d.items))
                    warn.say("\(sink.name): spool over its bound: dropped the oldest request (\(d.items) \(d.signal.itemName))")
                }
                return
            } catch {
                warn.say("\(sink.name): cannot spool: \(error)")
            }
        }
        counters.add("lost_batches")
        counters.add("lost_items", Int64(p.items))
        warn.say("\(sink.name): \(p.items) \(p.signal.itemName) not delivered" + (spool == nil ? " (no --spool)" : ""))
    }

    func moveQueueToSpool() {
        guard spool != nil else { return }
        cond.lock()
        let items = queue
        queue.removeAll()
        cond.broadcast()
        cond.unlock()
        for p in items { park(p) }
    }

    enum Result { case done, keep }

    /// Sends one request until it is delivered, refused for good, or must be parked.
    func attempt(_ p: Payload, replay: Bool) -> Result {
        let start = Self.now()
        var tries = 0
        while true {
            if breakerOpen && Self.now() < breakerOpenUntil {
                if spool != nil || pastDeadline || Self.now() - start > policy.maxElapsed { return .keep }
                sleep(until: breakerOpenUntil)
                continue
            }
            let outcome = sink.send(p)
            switch outcome {
            case .delivered(let rejected, let message):
                if breakerOpen { warn.say("\(sink.name): receiver is back") }
                breakerOpen = false
                consecutiveFailures = 0
                probeDelay = policy.probeInterval
                counters.add("sent_batches")
                counters.add("sent_" + p.signal.itemName, Int64(p.items) - rejected)
                if rejected > 0 {
                    counters.add("rejected_" + p.signal.itemName, rejected)
                    warn.say("\(sink.name): partial success: \(rejected) of \(p.items) \(p.signal.itemName) rejected: \(message)")
                }
                return .done
            case .permanent(let message):
                consecutiveFailures = 0
                counters.add("permanent_errors")
                counters.add("permanent_items", Int64(p.items))
                warn.say("\(sink.name): \(p.items) \(p.signal.itemName) refused, not retried: \(message)")
                return .done
            case .retryable, .unanswered:
                var message = "", after: Double?
                switch outcome {
                case .retryable(let m, let a): message = m; after = a
                case .unanswered(let m):
                    message = m
                    // The receiver may hold this copy: whether the request is retried now
                    // or replayed from the spool, one more copy can arrive (at least once
                    // delivery). Counted per unanswered attempt, so the counters bound the
                    // duplicates.
                    counters.add("retried_after_timeout_batches")
                    counters.add("retried_after_timeout_items", Int64(p.items))
                default: break
                }
                tries += 1
                consecutiveFailures += 1
                counters.add("retries")
                if consecutiveFailures >= policy.breakerThreshold {
                    if !breakerOpen {
                        counters.add("breaker_opens")
                        warn.say("\(sink.name): receiver unavailable (\(message)); probing every \(probeDelay)s" + (spool != nil ? ", spooling" : ""))
                    }
                    breakerOpen = true
                    breakerOpenUntil = Self.now() + max(after ?? 0, probeDelay)
                    probeDelay = min(probeDelay * 2, policy.maxProbeInterval)
                    continue
                }
                if pastDeadline { return .keep }
                if Self.now() - start > policy.maxElapsed {
                    return .keep
                }
                let backoff = min(policy.maxBackoff, policy.initialBackoff * pow(2, Double(tries - 1)))
                let delay = after ?? Double.random(in: 0...backoff)
                sleep(until: Self.now() + delay)
                _ = replay
            }
        }
    }
}
