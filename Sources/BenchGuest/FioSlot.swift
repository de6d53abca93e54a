import Glibc
import GuestWire

// A fio slot in shared mode (`SLOT … drv=fio`): fio runs the slot's job on
// its disk, in the same guest as the native driver's slots, so the two
// drivers are compared block by block instead of across boots.
//
// fio cannot be told to start measuring once IOPS are steady, so its
// warm-up is a fixed `ramp_time` of the slot's warm-up cap. The guest
// watches the disk's own write counter during it, in `SteadyState`'s
// buckets, and reports whether the ramp ended steady. MEASURE and END are
// sent by the clock, from fio's first write: fio's own window starts at its
// first I/O plus the ramp, so the host's samples cover the same window to
// within a few milliseconds.

/// Runs one fio slot on `/dev/<device>` and reads fio's report into the
/// slot's result.
func runFioSlot(
    _ command: SlotCommand, device: String, interrupts: DiskInterrupts, spec: WorkloadSpec, port: borrowing ControlPort
) throws(GuestFailure) -> SlotResult {
    var job = spec
    job.device = device
    job.driver = .fio
    job.seed = command.seed
    job.spanBytes = command.spanBytes
    job.rampMillis = command.warmupCapMillis
    job.runtimeMillis = command.measureMillis
    job.phases = []
    let deviceBytes = try fioPreconditions(device: device, blockSize: job.blockSize)
    // A report left by the previous slot must not be read as this one's.
    unlink(FioJob.reportPath)
    unlink(FioJob.iopsLogPath)
    let messagesPath = "/tmp/qcb-fio.messages"

    let stat = DiskStat(device: device)
    let writesBefore = stat.read()?.writes ?? 0
    let pid = try spawn(
        FioJob.executable, arguments: FioJob.arguments(spec: job, deviceBytes: deviceBytes),
        environment: ["LD_LIBRARY_PATH=\(FioJob.libraryDirectory)", "PATH=/bin"], output: messagesPath)
    // fio's messages go to a file, so a failure's reason reaches the host
    // in the slot's error line (the console is not read between slots).
    func failure(_ what: String) -> GuestFailure {
        let last = readText(messagesPath)?.split(whereSeparator: \.isNewline).last.map { String($0.prefix(200)) }
        return .spec(what + (last.map { ": fio said \"\($0)\"" } ?? ""))
    }
    var status: Int32 = 0
    var firstIO: UInt64 = 0
    while firstIO == 0 {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { throw failure("fio ended before its first write (\(fioExitText(status) ?? "exit status 0"))") }
        if r < 0, errno != EINTR { throw .syscall("waitpid(fio)", errno) }
        if let s = stat.read(), s.inFlight > 0 || s.writes > writesBefore {
            firstIO = monotonicNanos()
        } else {
            usleep(2000)
        }
    }

    // The ramp, in the warm-up's buckets of completed writes.
    let bucketNanos = SteadyState.bucketMillis * 1_000_000
    let rampEnd = firstIO + UInt64(job.rampMillis) * 1_000_000
    var buckets: [UInt64] = []
    var last = stat.read()?.writes ?? writesBefore
    var next = firstIO + bucketNanos
    while next <= rampEnd {
        sleep(until: next)
        let w = stat.read()?.writes ?? last
        buckets.append(w >= last ? w - last : 0)
        last = w
        next += bucketNanos
    }
    sleep(until: rampEnd)
    let settled = SteadyState.isSteady(buckets, elapsedMillis: UInt64(job.rampMillis))
    let interruptsAtStart = interrupts.read()
    port.send(ControlProtocol.measure)
    let windowEnd = rampEnd + UInt64(job.runtimeMillis) * 1_000_000
    sleep(until: windowEnd)
    let interruptsAtEnd = interrupts.read()
    port.send(ControlProtocol.end)

    while true {
        let r = waitpid(pid, &status, 0)
        if r == pid { break }
        if errno != EINTR { throw .syscall("waitpid(fio)", errno) }
    }
    let exited = monotonicNanos()
    if let problem = fioExitText(status) { throw failure(problem) }
    guard let report = readText(FioJob.reportPath) else { throw .syscall("read(\(FioJob.reportPath))", errno) }
    let g: GuestResult
    do {
        g = try FioJob.result(
            report: report, iopsLog: readText(FioJob.iopsLogPath), spec: job, bootToFirstIOMillis: 0, deviceBytes: deviceBytes)
    } catch {
        throw .spec(error.description)
    }
    var result = SlotResult(
        id: command.id, disk: command.disk, ops: g.ops, seconds: g.seconds, iops: g.iops, latency: g.latency,
        perSecondOps: g.perSecondOps, warmupMillis: UInt64(job.rampMillis), settled: settled, ioErrors: g.ioErrors,
        firstError: g.firstError, submitCalls: nil, submitted: nil)
    let ms = { (from: UInt64, to: UInt64) in to >= from ? Double(to - from) / 1e6 : 0 }
    result.drainMillis = ms(windowEnd, exited)
    result.interrupts = DiskInterrupts.taken(from: interruptsAtStart, to: interruptsAtEnd)
    result.summaryMillis = ms(exited, monotonicNanos())
    return result
}

/// Why fio's wait status is a failure, or nil for a clean exit.
/// (WIFEXITED / WEXITSTATUS are macros the importer does not carry.)
func fioExitText(_ status: Int32) -> String? {
    let signal = status & 0x7f
    let code = (status >> 8) & 0xff
    if signal != 0 { return "fio was killed by signal \(signal)" }
    if code != 0 { return "fio exited with status \(code)" }
    return nil
}

/// Sleeps until the monotonic clock reads `nanos`.
func sleep(until nanos: UInt64) {
    var ts = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}
