import CLibAIO
import Glibc
import GuestWire
import Histogram

// The guest side of a run: read the workload from the kernel command line,
// keep `iodepth` O_DIRECT random writes in flight with libaio (or run fio with
// the equivalent job, `drv=fio`), and print one result line on the console.
// stdout carries only the console protocol; diagnostics go to stderr.

func readCommandLine() -> String {
    guard let f = fopen("/proc/cmdline", "r") else { return "" }
    defer { fclose(f) }
    var buf = [CChar](repeating: 0, count: 4096)
    guard fgets(&buf, 4096, f) != nil else { return "" }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func emit(_ line: String) {
    print(line)
    fflush(nil)
}

func run() throws(GuestFailure) -> GuestResult {
    let commandLine = readCommandLine()
    let spec: WorkloadSpec
    do { spec = try WorkloadSpec(commandLine: commandLine) } catch { throw .spec(error.description) }
    switch spec.driver {
    case .native: return try runNative(spec)
    case .fio:
        let dump = commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains { $0 == ConsoleProtocol.dumpParameter }
        return try runFio(spec, dump: dump)
    }
}

/// The native libaio loop.
func runNative(_ spec: WorkloadSpec) throws(GuestFailure) -> GuestResult {
    let path = "/dev/\(spec.device)"
    let fd = open(path, O_RDWR | qcb_o_direct)
    guard fd >= 0 else { throw .syscall("open(\(path), O_RDWR|O_DIRECT)", errno) }
    defer { close(fd) }
    let deviceBytes = UInt64(max(0, lseek(fd, 0, SEEK_END)))
    let bs = UInt64(spec.blockSize)
    guard deviceBytes >= bs else { throw .spec("\(path) has \(deviceBytes) bytes, less than one block of \(bs)") }
    let span = spec.spanBytes == 0 ? deviceBytes : min(spec.spanBytes, deviceBytes)

    let depth = Int(spec.iodepth)
    let ctx = try AIOContext(depth: Int32(depth))

    // All memory for the I/O loop is allocated here, once.
    var raw: UnsafeMutableRawPointer? = nil
    guard posix_memalign(&raw, 4096, depth * Int(bs)) == 0, let buffers = raw else { throw .syscall("posix_memalign", ENOMEM) }
    defer { free(buffers) }
    var fill = OffsetGenerator(seed: spec.seed ^ 0xA5A5, spanBytes: .max, blockSize: 1)
    let words = buffers.bindMemory(to: UInt64.self, capacity: depth * Int(bs) / 8)
    for i in 0..<(depth * Int(bs) / 8) { words[i] = fill.next() }  // incompressible, non-zero data

    let iocbs = UnsafeMutablePointer<iocb>.allocate(capacity: depth)
    defer { iocbs.deallocate() }
    let pending = UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>.allocate(capacity: depth)
    defer { pending.deallocate() }
    let events = UnsafeMutablePointer<io_event>.allocate(capacity: depth)
    defer { events.deallocate() }
    let submittedAt = UnsafeMutablePointer<UInt64>.allocate(capacity: depth)
    defer { submittedAt.deallocate() }

    var offsets = OffsetGenerator(seed: spec.seed, spanBytes: span, blockSize: bs, distribution: spec.distribution)
    let phases = spec.effectivePhases
    // Per write phase: a histogram and whole-second counters, allocated
    // before the first I/O; `total` aggregates all write phases.
    var total = makeLatencyHistogram()
    var phaseHistograms = phases.map { _ in makeLatencyHistogram() }
    var phaseSeconds = phases.map { [UInt64](repeating: 0, count: max(1, Int((UInt64($0.millis) + 999) / 1000))) }
    var phaseOps = [UInt64](repeating: 0, count: phases.count)
    var errors = WriteErrors()

    @inline(__always) func prepare(_ slot: Int) {
        qcb_prep_pwrite(iocbs + slot, fd, buffers + slot * Int(bs), Int(bs), Int64(bitPattern: offsets.next()), nil)
    }

    emit("\(ConsoleProtocol.readyMarker) uptime_ms=\(uptimeMillis())")
    let bootToFirstIO = uptimeMillis()
    var cursor = monotonicNanos()

    for (p, phase) in phases.enumerated() {
        guard phase.isWrite else {
            // Idle: no I/O at all, so QEMU's cache-clean timer can act.
            emit("\(ConsoleProtocol.phaseMarker) idle-start \(p)")
            var request = timespec(tv_sec: Int(phase.millis / 1000), tv_nsec: Int(phase.millis % 1000) * 1_000_000)
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
            emit("\(ConsoleProtocol.phaseMarker) idle-end \(p)")
            cursor = monotonicNanos()
            continue
        }
        // The ramp precedes the first write phase only.
        let measureStart = cursor + (p == 0 ? UInt64(spec.rampMillis) * 1_000_000 : 0)
        let measureEnd = measureStart + UInt64(phase.millis) * 1_000_000
        for slot in 0..<depth {
            prepare(slot)
            submittedAt[slot] = cursor
            pending[slot] = iocbs + slot
        }
        try ctx.submit(pending, count: depth)

        var inFlight = depth
        var submitting = true
        while inFlight > 0 {
            var blocked = false
            let n = try ctx.poll(max: depth, into: events, inFlight: inFlight, since: monotonicNanos(), blocked: &blocked)
            let now = monotonicNanos()
            if now >= measureEnd { submitting = false }
            let measuring = now >= measureStart && now < measureEnd
            var resubmit = 0
            for i in 0..<n {
                let ev = events[i]
                guard let obj = ev.obj else { continue }
                let slot = obj - iocbs
                // A failed write is counted in `errors` and resubmitted like any other.
                let wrote = errors.completed(ev, blockSize: bs)
                if wrote, measuring {
                    phaseOps[p] += 1
                    let second = min(phaseSeconds[p].count - 1, Int((now - measureStart) / 1_000_000_000))
                    phaseSeconds[p][second] += 1
                    let latency = now - submittedAt[slot]
                    phaseHistograms[p].record(latency)
                    total.record(latency)
                }
                if submitting {
                    prepare(slot)
                    submittedAt[slot] = now
                    pending[resubmit] = obj
                    resubmit += 1
                } else {
                    inFlight -= 1
                }
            }
            if resubmit > 0 { try ctx.submit(batched: pending, count: resubmit) }
        }
        cursor = monotonicNanos()
    }

    let us = { (ns: UInt64) in Double(ns) / 1000 }
    let writeIndices = phases.indices.filter { phases[$0].isWrite }
    let ops = writeIndices.reduce(0) { $0 + phaseOps[$1] }
    let window = Double(writeIndices.reduce(0) { $0 + phases[$1].millis }) / 1000
    var result = GuestResult(
        driver: "native",
        ops: ops,
        seconds: window,
        iops: Double(ops) / window,
        mibPerSecond: Double(ops) * Double(bs) / 1_048_576 / window,
        latency: .init(
            meanUs: total.mean / 1000,
            p50Us: us(total.valueAtPercentile(50)),
            p99Us: us(total.valueAtPercentile(99)),
            p999Us: us(total.valueAtPercentile(99.9)),
            maxUs: us(total.max)),
        perSecondOps: writeIndices.flatMap { phaseSeconds[$0] },
        ioErrors: errors.count,
        firstError: errors.first,
        bootToFirstIOMillis: bootToFirstIO,
        deviceBytes: deviceBytes,
        spec: spec)
    if !spec.phases.isEmpty {
        result.phases = phases.indices.map { i in
            let seconds = Double(phases[i].millis) / 1000
            return PhaseResult(
                phase: phases[i], ops: phaseOps[i], iops: phases[i].isWrite ? Double(phaseOps[i]) / seconds : 0,
                perSecondOps: phases[i].isWrite ? phaseSeconds[i] : [],
                p50Us: phases[i].isWrite ? us(phaseHistograms[i].valueAtPercentile(50)) : 0,
                p99Us: phases[i].isWrite ? us(phaseHistograms[i].valueAtPercentile(99)) : 0)
        }
    }
    return result
}

do {
    let commandLine = readCommandLine()
    if let control = controlParameter(commandLine) {
        let spec: WorkloadSpec
        do { spec = try WorkloadSpec(commandLine: commandLine) } catch { throw GuestFailure.spec(error.description) }
        try serveSlots(spec: spec, port: control.port, expectedDisks: control.disks)
        exit(0)
    }
    let result = try run()
    emit("\(ConsoleProtocol.resultMarker) \(try JSONLine.encode(result))")
    exit(0)
} catch let failure as GuestFailure {
    emit("\(ConsoleProtocol.errorMarker) \(failure.description)")
    exit(1)
} catch {
    emit("\(ConsoleProtocol.errorMarker) \(error)")
    exit(1)
}
