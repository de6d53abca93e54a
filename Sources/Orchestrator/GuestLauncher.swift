import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Logging
import Subprocess
import Synchronization

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The outcome of one QEMU guest run, success or not. Failures are data
/// (they become failed records), not thrown errors.
public struct GuestRunOutcome: Sendable {
    public var result: GuestResult?
    public var failure: String?
    public var consoleTail: [String]
    public var stderrTail: [String]
    public var wallSeconds: Double
    /// True when the guest printed its ready marker.
    public var reachedDriver: Bool
    /// QEMU's VmRSS about every `rssIntervalMillis` from start (empty if never sampled).
    public var rss: [RSSSample] = []
    /// Host ms from QEMU start until the ready marker was seen on the console.
    public var hostBootMillis: Int?
    /// Phase markers seen on the console, with host ms from QEMU start.
    public var phaseMarks: [PhaseMark] = []
    /// Host noise and QEMU's CPU time from the ready marker (first I/O) to
    /// the result marker, as the console poll sees them.
    public var host: HostNoise?
}

/// Starts QEMU for one run, watches the console file, enforces a deadline
/// and always reaps the process.
public struct GuestLauncher: Sendable {
    public var logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// - Parameters:
    ///   - stopAtReady: end the run as soon as the driver reports ready (accel probe).
    public func run(_ command: QemuCommand, workDirectory: String, deadline: Duration, stopAtReady: Bool = false) async -> GuestRunOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        let stderrPath = workDirectory + "/qemu.stderr"
        // Private from the start; if this fails QEMU creates the file itself, inside the 0700 work directory.
        _ = FileManager.default.createFile(atPath: command.consolePath, contents: nil, attributes: [.posixPermissions: 0o600])
        let errFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard errFD >= 0 else {
            return GuestRunOutcome(
                result: nil, failure: "cannot create \(stderrPath): \(errnoText(errno))", consoleTail: [], stderrTail: [],
                wallSeconds: 0, reachedDriver: false)
        }
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))]

        enum Watch: Sendable { case exited, timedOut, ready, resultSeen }
        var watch: Watch = .exited
        var launchError: String?
        var status: TerminationStatus?
        let launched = Mutex<pid_t?>(nil)
        let samples = Mutex<(rss: [RSSSample], ready: Int?, marks: [PhaseMark])>(([], nil, []))
        // Host noise over the workload: from the guest's ready line to its
        // result line, or to the last sample taken while QEMU was alive (the
        // guest powers off right after its result, sometimes before the
        // console is read again).
        let window = Mutex<
            (start: (HostSample, ContinuousClock.Instant)?, last: (HostSample, ContinuousClock.Instant)?, noise: HostNoise?)
        >((nil, nil, nil))
        defer { if let pid = launched.withLock({ $0 }) { ActiveProcesses.unregister(pid) } }
        do {
            let argv = try command.spawnArgv()
            let r = try await Subprocess.run(
                .path(FilePath(argv[0])),
                arguments: Arguments(Array(argv.dropFirst())),
                platformOptions: options,
                input: .none,
                output: .discarded,
                error: .fileDescriptor(.init(rawValue: errFD), closeAfterSpawningProcess: true)
            ) { execution in
                let pid = execution.processIdentifier.value
                // Registered until reaped (below), not just until this body
                // returns: teardown continues after it, and an emergency exit
                // in between must still find QEMU to kill.
                ActiveProcesses.register(pid)
                launched.withLock { $0 = pid }
                logger.debug("qemu started", metadata: ["qemu.pid": "\(pid)"])
                let end = started.advanced(by: deadline)
                var tick = 0
                while true {
                    // Every 50 ms: liveness; every 100 ms: the console; RSS on a
                    // 250 ms grid from QEMU start (sample i at i * 250 ms, +-50 ms).
                    defer { tick += 1 }
                    let now = Self.millis(clock.now - started)
                    let due = (samples.withLock { $0.rss.last?.atMillis }).map { now - $0 >= Self.rssIntervalMillis } ?? true
                    if due, let kib = Self.residentKiB(pid) {
                        samples.withLock { $0.rss.append(RSSSample(atMillis: now, kib: kib)) }
                    }
                    if !Self.isRunning(pid) {
                        window.withLock { w in
                            if w.noise == nil, let (before, at) = w.start, let (after, end) = w.last {
                                w.noise = before.noise(until: after, seconds: (end - at).inSeconds)
                            }
                        }
                        return Watch.exited
                    }
                    if clock.now >= end {
                        await execution.teardown(using: [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))])
                        return Watch.timedOut
                    }
                    if tick % 2 == 0 {
                        // With the console's pace (100 ms), not every tick: these
                        // /proc reads compete with QEMU for the host's CPUs.
                        if window.withLock({ $0.start != nil && $0.noise == nil }) {
                            let sample = (HostSample.take(qemuPid: pid), clock.now)
                            window.withLock { $0.last = sample }
                        }
                        let console = (try? String(contentsOfFile: command.consolePath, encoding: .utf8)) ?? ""
                        if ConsoleTranscript.sawReady(console) {
                            let ms = Self.millis(clock.now - started)
                            samples.withLock { if $0.ready == nil { $0.ready = ms } }
                            if window.withLock({ $0.start == nil }) {
                                let first = (HostSample.take(qemuPid: pid), clock.now)
                                window.withLock { $0.start = first }
                            }
                        }
                        if console.contains(ConsoleProtocol.phaseMarker) {
                            let ms = Self.millis(clock.now - started)
                            let labels = ConsoleTranscript.phaseLabels(console)
                            samples.withLock { s in
                                for label in labels.dropFirst(s.marks.count) { s.marks.append(PhaseMark(label: label, atMillis: ms)) }
                            }
                        }
                        if stopAtReady, ConsoleTranscript.sawReady(console) {
                            await execution.teardown(using: [.gracefulShutDown(allowedDurationToNextStep: .seconds(1))])
                            return Watch.ready
                        }
                        if console.contains(ConsoleProtocol.resultMarker) || console.contains(ConsoleProtocol.errorMarker) {
                            logger.debug("guest reported", metadata: ["qemu.pid": "\(pid)"])
                            if let (before, at) = window.withLock({ $0.start }) {
                                let after = HostSample.take(qemuPid: pid)
                                let noise = before.noise(until: after, seconds: (clock.now - at).inSeconds)
                                window.withLock { $0.noise = noise }
                            }
                            // The guest powers off by itself; give it a moment, then insist.
                            let grace = clock.now.advanced(by: .seconds(5))
                            while Self.isRunning(pid), clock.now < grace { try await Task.sleep(for: .milliseconds(50)) }
                            if Self.isRunning(pid) { await execution.teardown(using: [.gracefulShutDown(allowedDurationToNextStep: .seconds(1))]) }
                            return Watch.resultSeen
                        }
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            logger.debug("qemu exited", metadata: ["qemu.status": "\(r.terminationStatus)"])
            watch = r.closureResult
            status = r.terminationStatus
        } catch is CancellationError {
            launchError = "interrupted"
        } catch {
            launchError = "could not run \(command.argv[0]): \(error)"
        }

        let wall = clock.now - started
        let console = (try? String(contentsOfFile: command.consolePath, encoding: .utf8)) ?? ""
        let stderrText = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        var outcome = GuestRunOutcome(
            result: nil, failure: nil,
            consoleTail: ConsoleTranscript.tail(console), stderrTail: ConsoleTranscript.tail(stderrText, lines: 10),
            wallSeconds: wall.inSeconds,
            reachedDriver: ConsoleTranscript.sawReady(console))
        (outcome.rss, outcome.hostBootMillis, outcome.phaseMarks) = samples.withLock { ($0.rss, $0.ready, $0.marks) }
        outcome.host = window.withLock { $0.noise }
        if let launchError {
            outcome.failure = launchError
            return outcome
        }
        if stopAtReady && watch == .ready { return outcome }
        switch ConsoleTranscript.parse(console) {
        case .result(let r):
            outcome.result = r
            if r.ioErrors > 0 { outcome.failure = "guest saw \(r.ioErrors) I/O errors; first: \(r.firstError ?? "?")" }
        case .guestError(let why):
            outcome.failure = "guest driver failed: \(why)"
        case .malformed(let why):
            outcome.failure = "guest output unusable: \(why)"
        case .silent:
            if watch == .timedOut {
                outcome.failure = "timed out after \(deadline) without a result (QEMU killed); guest \(outcome.reachedDriver ? "reached" : "never reached") the driver"
            } else {
                let st = status.map(Self.describe) ?? "unknown status"
                let hint = outcome.stderrTail.last.map { ": \($0)" } ?? ""
                outcome.failure = "QEMU exited (\(st)) before the guest reported a result\(hint)"
            }
        }
        return outcome
    }

    /// Sampling period of `GuestRunOutcome.rssKiB`.
    public static let rssIntervalMillis = 250

    /// VmRSS of `pid` in KiB, from /proc/PID/status.
    static func residentKiB(_ pid: pid_t) -> UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }
    }

    static func millis(_ d: Duration) -> Int {
        Int(d.components.seconds) * 1000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
    }

    /// `exit status 1`, `killed by signal 9`.
    static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case .exited(let code): return "exit status \(code)"
        case .signaled(let sig): return "killed by signal \(sig)"
        }
    }

    /// Whether `pid` is alive and not a zombie awaiting reaping.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        guard let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
        return !(rest.hasPrefix("Z") || rest.hasPrefix("X"))
    }
}
