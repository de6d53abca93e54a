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

/// One slot as the guest and the host saw it.
public struct SlotOutcome: Sendable {
    public var command: SlotCommand
    public var result: SlotResult?
    /// Why the slot has no usable result (the guest's error, I/O errors).
    public var failure: String?
    /// Host load and QEMU CPU time between the guest's MEASURE and END.
    public var noise: HostNoise?
    /// QEMU's cache counters over the same window (nil: not traced).
    public var cache: SlotCacheCounters? = nil
}

/// How a shared guest ended.
public struct SharedGuestOutcome: Sendable {
    /// Why the guest ended before it was told to quit (nil: it finished).
    public var failure: String?
    /// The slot that was running when it failed, if any.
    public var interruptedSlot: SlotCommand?
    public var consoleTail: [String] = []
    public var stderrTail: [String] = []
    /// QEMU start to exit.
    public var wallSeconds: Double = 0
    /// QEMU start to the guest's hello on the control port.
    public var hostBootMillis: Int?
    public var slots = 0
}

/// Boots one guest holding every disk of a group and drives its slots over
/// the control port: it asks `next` for a slot, sends it, samples the host at
/// the guest's MEASURE and END, and hands each outcome to `record` before
/// asking for the next (so a finished slot is on disk before another starts).
public struct SharedGuestLauncher: Sendable {
    public var logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Time allowed after a slot's warm-up cap and window for draining and answering.
    public static let slotGrace = Duration.seconds(15)

    /// Runs host work inside a slot (switching the trace over QMP, reading
    /// it) and returns how long it took, which the slot's deadline then
    /// grants again: the deadline is for the guest's answer, and it expired
    /// once in a CI run on a slot whose guest may have answered in time.
    /// A step over a second is logged.
    func hostStep(_ what: String, _ body: () async -> Void) async -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        await body()
        let took = clock.now - start
        if took > .seconds(1) {
            logger.warning("slow host step in a slot", metadata: ["step": "\(what)", "ms": "\(GuestLauncher.millis(took))"])
        }
        return took
    }

    public func run(
        _ command: QemuCommand, workDirectory: String, bootDeadline: Duration,
        booted: @Sendable (Int) async -> Void = { _ in },
        tracer: SlotTracer? = nil, traced: @Sendable (SlotCommand) async -> Bool = { _ in true },
        next: @Sendable () async -> SlotCommand?,
        record: @Sendable (SlotOutcome) async throws -> Void
    ) async -> SharedGuestOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        let stderrPath = workDirectory + "/qemu-shared.stderr"
        _ = FileManager.default.createFile(atPath: command.consolePath, contents: nil, attributes: [.posixPermissions: 0o600])
        var outcome = SharedGuestOutcome()
        guard let socketPath = command.controlSocket else {
            outcome.failure = "internal: a shared guest needs a control socket"
            return outcome
        }
        let errFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard errFD >= 0 else {
            outcome.failure = "cannot create \(stderrPath): \(errnoText(errno))"
            return outcome
        }
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))]
        let launched = Mutex<pid_t?>(nil)
        defer { if let pid = launched.withLock({ $0 }) { ActiveProcesses.unregister(pid) } }
        let state = GuestState()
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
                ActiveProcesses.register(pid)
                launched.withLock { $0 = pid }
                func fail(_ why: String, slot: SlotCommand? = nil) async {
                    state.value.withLock { $0.failure = $0.failure ?? why; $0.slot = slot }
                    await execution.teardown(using: [.gracefulShutDown(allowedDurationToNextStep: .seconds(1))])
                }
                let bootEnd = started.advanced(by: bootDeadline)
                let channel: ControlChannel
                do {
                    channel = try await ControlChannel(path: socketPath, until: bootEnd)
                } catch {
                    await fail(Task.isCancelled ? "interrupted" : "\(error)")
                    return
                }
                // Hello: the guest booted and found its disks.
                let hello = channel.readLine(until: bootEnd)
                guard let line = hello.line, line.hasPrefix(ControlProtocol.hello) else {
                    await fail(
                        Task.isCancelled ? "interrupted"
                            : hello.closed ? "QEMU exited before the guest came up" : "guest did not come up within \(bootDeadline)")
                    return
                }
                let ms = GuestLauncher.millis(clock.now - started)
                state.value.withLock { $0.boot = ms }
                await booted(ms)
                let expected = command.disks.indices.map { QemuCommand.serial($0) }
                let found = Set(line.split(separator: " ").compactMap { $0.split(separator: "=").first.map(String.init) })
                if let missing = expected.first(where: { !found.contains($0) }) {
                    await fail("the guest does not see disk \(missing) (hello: \(line))")
                    return
                }
                logger.debug("shared guest up", metadata: ["qemu.pid": "\(pid)", "guest.boot_ms": "\(ms)"])
                await tracer?.connect()

                var lastAnswer = clock.now
                while let slot = await next() {
                    if Task.isCancelled { await fail("interrupted"); return }
                    let sentAt = clock.now
                    do { try channel.send(slot.line) } catch {
                        await fail("cannot send slot to the guest: \(error)", slot: slot)
                        return
                    }
                    var slotEnd = clock.now.advanced(by: .milliseconds(Int(slot.warmupCapMillis) + Int(slot.measureMillis))) + Self.slotGrace
                    var before: HostSample?
                    var measureAt: ContinuousClock.Instant?
                    var noise: HostNoise?
                    var answered: SlotOutcome?
                    var cache: SlotCacheCounters?
                    let tracing = tracer != nil ? await traced(slot) : false
                    while answered == nil {
                        let read = channel.readLine(until: slotEnd)
                        guard let text = read.line else {
                            let why = Task.isCancelled ? "interrupted"
                                : read.closed ? "QEMU exited during slot \(slot.id)" : "slot \(slot.id) timed out (no answer within its deadline; QEMU killed)"
                            await fail(why, slot: slot)
                            return
                        }
                        if text == ControlProtocol.measure {
                            before = HostSample.take(qemuPid: pid)
                            measureAt = clock.now
                            if tracing { slotEnd = slotEnd + (await hostStep("trace on") { await tracer?.begin() }) }
                        } else if text == ControlProtocol.end {
                            if let before, let measureAt {
                                let after = HostSample.take(qemuPid: pid)
                                let d = clock.now - measureAt
                                noise = before.noise(until: after, seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
                            }
                            if tracing {
                                var counters: SlotCacheCounters?
                                slotEnd = slotEnd + (await hostStep("trace off and read") { counters = await tracer?.end() })
                                cache = counters
                            }
                        } else if text.hasPrefix(ControlProtocol.error + " ") {
                            let why = text.dropFirst(ControlProtocol.error.count + 1).split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? text
                            answered = SlotOutcome(command: slot, result: nil, failure: "guest driver failed: \(why)", noise: nil)
                        } else if text.hasPrefix(ControlProtocol.result + " ") {
                            let json = text.dropFirst(ControlProtocol.result.count + 1)
                            do {
                                let result = try JSONDecoder().decode(SlotResult.self, from: Data(json.utf8))
                                let failure = result.ioErrors > 0 ? "guest saw \(result.ioErrors) I/O errors; first: \(result.firstError ?? "?")" : nil
                                answered = SlotOutcome(command: slot, result: result, failure: failure, noise: noise)
                            } catch {
                                answered = SlotOutcome(command: slot, result: nil, failure: "guest output unusable: slot result does not decode (\(json.prefix(80))…): \(error)", noise: nil)
                            }
                        }
                    }
                    // A slot that failed between MEASURE and END leaves events on.
                    if tracing, cache == nil { _ = await tracer?.end() }
                    // Where a slot's time goes besides its window: the host
                    // between slots, the warm-up, the drain and the answer.
                    let answeredAt = clock.now
                    logger.debug(
                        "slot timing",
                        metadata: [
                            "slot.id": "\(slot.id)", "slot.host_gap_ms": "\(GuestLauncher.millis(sentAt - lastAnswer))",
                            "slot.to_measure_ms": "\(measureAt.map { GuestLauncher.millis($0 - sentAt) } ?? -1)",
                            "slot.after_window_ms": "\(measureAt.map { GuestLauncher.millis(answeredAt - $0) - Int(slot.measureMillis) } ?? -1)",
                            "slot.traced": "\(tracing)",
                            "slot.guest_drain_ms": "\(answered?.result?.drainMillis.map { String(format: "%.1f", $0) } ?? "-")",
                            "slot.guest_summary_ms": "\(answered?.result?.summaryMillis.map { String(format: "%.1f", $0) } ?? "-")",
                        ])
                    lastAnswer = answeredAt
                    state.value.withLock { $0.slots += 1 }
                    if var answered {
                        if answered.result != nil { answered.cache = cache }
                        do { try await record(answered) } catch {
                            await fail("\(error)")
                            return
                        }
                    }
                }
                // Done: let the guest power off, then insist.
                try? channel.send(ControlProtocol.quit)
                let grace = clock.now.advanced(by: .seconds(5))
                while GuestLauncher.isRunning(pid), clock.now < grace { try? await Task.sleep(for: .milliseconds(50)) }
                if GuestLauncher.isRunning(pid) { await execution.teardown(using: [.gracefulShutDown(allowedDurationToNextStep: .seconds(1))]) }
            }
            if state.value.withLock({ $0.failure }) == nil, case .signaled(let sig) = r.terminationStatus {
                state.value.withLock { $0.failure = "QEMU exited (killed by signal \(sig))" }
            }
        } catch is CancellationError {
            state.value.withLock { $0.failure = $0.failure ?? "interrupted" }
        } catch {
            state.value.withLock { $0.failure = $0.failure ?? "could not run \(command.argv[0]): \(error)" }
        }
        let wall = clock.now - started
        (outcome.failure, outcome.interruptedSlot, outcome.hostBootMillis, outcome.slots) = state.value.withLock { ($0.failure, $0.slot, $0.boot, $0.slots) }
        outcome.wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        if outcome.failure != nil {
            let console = (try? String(contentsOfFile: command.consolePath, encoding: .utf8)) ?? ""
            let stderrText = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            outcome.consoleTail = ConsoleTranscript.tail(console)
            outcome.stderrTail = ConsoleTranscript.tail(stderrText, lines: 10)
            if let last = outcome.stderrTail.last, outcome.failure?.hasPrefix("QEMU exited") == true {
                outcome.failure = (outcome.failure ?? "") + ": \(last)"
            }
        }
        return outcome
    }
}

/// What the launcher's body reports back, shared with its nested helpers.
private final class GuestState: Sendable {
    let value = Mutex<(failure: String?, slot: SlotCommand?, boot: Int?, slots: Int)>((nil, nil, nil, 0))
}
