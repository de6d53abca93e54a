import BenchResults
import BenchSpec
import Foundation
import GuestWire

/// Per-slot cache counters of a shared guest from QEMU's trace log.
///
/// QEMU starts with the cache events enabled (`CacheTraceOptions`, so the
/// log backend is active) and a QMP socket in the 0700 work directory; once
/// the guest is up the events are switched off, then switched on at each
/// traced slot's MEASURE and off at its END (`trace-event-set-state`), so
/// the log holds measured windows only. After each slot the new part of
/// the log is read from a kept byte offset, in 64 KiB chunks, and only
/// lines stamped inside the window count.
///
/// The log does not grow without bound: when it passes `rotateBytes` it is
/// switched to a fresh file with HMP `logfile` (QEMU opens `-D` with
/// `fopen("w")`, no `O_APPEND`, so truncating it under QEMU would leave a
/// hole the size of the old offset) and the old one is removed.
public actor SlotTracer {
    public nonisolated let qmpSocket: String
    /// Path prefix of the log files: `<prefix>.0`, `<prefix>.1`, …
    public nonisolated let logPrefix: String
    public var rotateBytes: UInt64
    private var generation = 0
    private var offset: UInt64 = 0
    private var qmp: QMPClient?
    private var start: Double?
    /// Why tracing stopped working, once (the slots go on untraced).
    public private(set) var problem: String?

    /// The event pattern `trace-event-set-state` switches (exactly the three
    /// `CacheTraceEvent`s; `qcow2_cache_get*` would add a fourth).
    static let pattern = "qcow2_cache_get_*"

    public init(workDirectory: String, name: String, rotateBytes: UInt64 = 32 << 20) {
        qmpSocket = "\(workDirectory)/\(name).qmp"
        logPrefix = "\(workDirectory)/\(name).trace"
        self.rotateBytes = rotateBytes
    }

    public var logFile: String { "\(logPrefix).\(generation)" }

    /// QEMU arguments: the trace options on the first log file and the QMP socket.
    public nonisolated var argv: [String] {
        CacheTraceOptions(logFile: "\(logPrefix).0").argv + ["-qmp", "unix:\(QemuCommand.escape(qmpSocket)),server=on,wait=off"]
    }

    /// After the guest said hello: connect and switch the events off.
    public func connect() async {
        do {
            let client = try await QMPClient.connect(path: qmpSocket)
            qmp = client
            try await setEvents(false)
        } catch {
            fail("QMP: \(error)")
        }
    }

    /// MEASURE: events on; the window starts when QEMU has them on.
    public func begin() async {
        guard qmp != nil, problem == nil else { return }
        do {
            try await setEvents(true)
            start = Date().timeIntervalSince1970
        } catch {
            fail("\(error)")
        }
    }

    /// END: the window ends now; events off. Then the new part of the log
    /// is counted. Nil when the slot was not traced or tracing failed.
    public func end() async -> SlotCacheCounters? {
        guard let start, qmp != nil, problem == nil else { return nil }
        self.start = nil
        let stop = Date().timeIntervalSince1970
        do {
            try await setEvents(false)
            let (summary, next) = try CacheTraceFile.summarize(
                path: logFile, from: offset, window: CacheTraceCounter(windowSeconds: start..<stop).window)
            offset = next
            if offset > rotateBytes { try await rotate() }
            return SlotCacheCounters(
                startSeconds: start, endSeconds: stop, l2Lookups: summary.l2Lookups, l2Misses: summary.l2Misses,
                refcountLookups: summary.refcountLookups, refcountMisses: summary.refcountMisses, timedReads: summary.timedReads,
                missReadMeanMicros: summary.missReadMeanMicros, missReadP50Micros: summary.missReadP50Micros,
                missReadP99Micros: summary.missReadP99Micros)
        } catch {
            fail("\(error)")
            return nil
        }
    }

    /// Removes every log file and closes QMP (QEMU has exited or is about to).
    public func finish() async {
        await qmp?.close()
        qmp = nil
        for g in 0...generation { try? FileManager.default.removeItem(atPath: "\(logPrefix).\(g)") }
        try? FileManager.default.removeItem(atPath: qmpSocket)
    }

    private func rotate() async throws {
        guard let qmp else { return }
        let old = logFile
        generation += 1
        _ = try await qmp.execute("human-monitor-command", arguments: .object(["command-line": .string("logfile \(logFile)")]))
        offset = 0
        try? FileManager.default.removeItem(atPath: old)
    }

    private func setEvents(_ on: Bool) async throws(QMPError) {
        guard let qmp else { return }
        _ = try await qmp.execute("trace-event-set-state", arguments: .object(["name": .string(Self.pattern), "enable": .bool(on)]))
    }

    private func fail(_ why: String) {
        if problem == nil { problem = why }
    }
}
