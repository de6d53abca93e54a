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
    return String(cString: buf)
}

func emit(_ line: String) {
    print(line)
    fflush(nil)
}

func run() throws(GuestFailure) -> GuestResult {
    let spec: WorkloadSpec
    do { spec = try WorkloadSpec(commandLine: readCommandLine()) } catch { throw .spec(error.description) }
    switch spec.driver {
    case .native: return try runNative(spec)
    case .fio: return try runFio(spec)
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

    var offsets = OffsetGenerator(seed: spec.seed, spanBytes: span, blockSize: bs)
    var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
    let seconds = Int((UInt64(spec.runtimeMillis) + 999) / 1000)
    var perSecond = [UInt64](repeating: 0, count: max(1, seconds))
    var ioErrors: UInt64 = 0
    var firstError: String? = nil

    @inline(__always) func prepare(_ slot: Int) {
        qcb_prep_pwrite(iocbs + slot, fd, buffers + slot * Int(bs), Int(bs), Int64(bitPattern: offsets.next()), nil)
    }

    emit("\(ConsoleProtocol.readyMarker) uptime_ms=\(uptimeMillis())")
    let bootToFirstIO = uptimeMillis()
    let start = monotonicNanos()
    let measureStart = start + UInt64(spec.rampMillis) * 1_000_000
    let measureEnd = measureStart + UInt64(spec.runtimeMillis) * 1_000_000

    for slot in 0..<depth {
        prepare(slot)
        submittedAt[slot] = start
        pending[slot] = iocbs + slot
    }
    try ctx.submit(pending, count: depth)

    var inFlight = depth
    var ops: UInt64 = 0
    var submitting = true
    while inFlight > 0 {
        let n = try ctx.reap(min: 1, max: depth, into: events)
        let now = monotonicNanos()
        if now >= measureEnd { submitting = false }
        let measuring = now >= measureStart && now < measureEnd
        var resubmit = 0
        for i in 0..<n {
            let ev = events[i]
            guard let obj = ev.obj else { continue }
            let slot = obj - iocbs
            let res = Int(bitPattern: ev.res)
            if res != Int(bs) {
                ioErrors += 1
                if firstError == nil {
                    firstError = res < 0
                        ? "pwrite at \(obj.pointee.u.c.offset): \(String(cString: strerror(Int32(-res))))"
                        : "short write at \(obj.pointee.u.c.offset): \(res) of \(bs) bytes"
                }
            } else if measuring {
                ops += 1
                perSecond[min(perSecond.count - 1, Int((now - measureStart) / 1_000_000_000))] += 1
                histogram.record(now - submittedAt[slot])
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
        if resubmit > 0 { try ctx.submit(pending, count: resubmit) }
    }

    let window = Double(spec.runtimeMillis) / 1000
    let us = { (ns: UInt64) in Double(ns) / 1000 }
    return GuestResult(
        driver: "native",
        ops: ops,
        seconds: window,
        iops: Double(ops) / window,
        mibPerSecond: Double(ops) * Double(bs) / 1_048_576 / window,
        latency: .init(
            meanUs: histogram.mean / 1000,
            p50Us: us(histogram.valueAtPercentile(50)),
            p99Us: us(histogram.valueAtPercentile(99)),
            p999Us: us(histogram.valueAtPercentile(99.9)),
            maxUs: us(histogram.max)),
        perSecondOps: perSecond,
        ioErrors: ioErrors,
        firstError: firstError,
        bootToFirstIOMillis: bootToFirstIO,
        deviceBytes: deviceBytes,
        spec: spec)
}

do {
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
