import CLibAIO
import Glibc
import GuestWire
import Histogram

/// Shared-guest mode (`qcb.ctl=ttyS1:N` on the kernel command line): the
/// guest opens every disk once and runs slots on the host's request until
/// told to quit. Each slot warms up until IOPS are steady (`SteadyState`)
/// or the cap, then measures a fixed window on one disk.
struct ControlPort: ~Copyable {
    let fd: Int32
    private var pending: [UInt8] = []

    init(device: String) throws(GuestFailure) {
        let path = "/dev/\(device)"
        let fd = open(path, O_RDWR | O_NOCTTY)
        guard fd >= 0 else { throw .syscall("open(\(path))", errno) }
        var t = termios()
        if tcgetattr(fd, &t) == 0 {
            cfmakeraw(&t)
            _ = tcsetattr(fd, TCSANOW, &t)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    func send(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            off += n
        }
    }

    /// The next line from the host, without its newline; nil at end of input.
    mutating func readLine() -> String? {
        var buf = [UInt8](repeating: 0, count: 512)
        while true {
            if let nl = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<nl].filter { $0 != 0x0D }, as: UTF8.self)
                pending.removeSubrange(...nl)
                return line
            }
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            pending += buf[0..<n]
        }
    }
}

/// The disks this guest sees, by virtio serial: `/sys/block/vdX/serial`.
func disksBySerial() -> [String: String] {
    var map: [String: String] = [:]
    guard let dir = opendir("/sys/block") else { return map }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard name.hasPrefix("vd"), let f = fopen("/sys/block/\(name)/serial", "r") else { continue }
        var buf = [CChar](repeating: 0, count: 64)
        if fgets(&buf, 64, f) != nil {
            let serial = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
            if !serial.isEmpty { map[serial] = name }
        }
        fclose(f)
    }
    return map
}

/// The `qcb.ctl=PORT:DISKS` token, if the guest is in shared mode.
func controlParameter(_ commandLine: String) -> (port: String, disks: Int)? {
    let prefix = "qcb.ctl="
    guard let token = commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" }).first(where: { $0.hasPrefix(prefix) }) else {
        return nil
    }
    let parts = token.dropFirst(prefix.count).split(separator: ":")
    guard parts.count == 2, let n = Int(parts[1]), n > 0 else { return nil }
    return (String(parts[0]), n)
}

/// Serves slots until `QUIT` or the host goes away. Errors in one slot are
/// reported and the loop goes on; only a broken port ends it.
func serveSlots(spec: WorkloadSpec, port portName: String, expectedDisks: Int) throws(GuestFailure) {
    var port = try ControlPort(device: portName)
    // Disks appear as their drivers probe them; wait up to 5 s for all.
    var disks = disksBySerial()
    var waited = 0
    while disks.count < expectedDisks && waited < 250 {
        usleep(20_000)
        waited += 1
        disks = disksBySerial()
    }
    let hello = disks.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    port.send("\(ControlProtocol.hello) uptime_ms=\(uptimeMillis()) \(hello)")

    let bs = Int(spec.blockSize)
    let depth = Int(spec.iodepth)
    var raw: UnsafeMutableRawPointer? = nil
    guard posix_memalign(&raw, 4096, depth * bs) == 0, let buffers = raw else { throw .syscall("posix_memalign", ENOMEM) }
    defer { free(buffers) }
    var fill = OffsetGenerator(seed: spec.seed ^ 0xA5A5, spanBytes: .max, blockSize: 1)
    let words = buffers.bindMemory(to: UInt64.self, capacity: depth * bs / 8)
    for i in 0..<(depth * bs / 8) { words[i] = fill.next() }
    var fds: [String: Int32] = [:]
    // Each disk's virtio device, resolved once (a readlink in sysfs).
    var interruptsOf: [String: DiskInterrupts] = [:]
    defer { for fd in fds.values { close(fd) } }
    // One AIO context for every slot, not an io_setup/io_destroy pair each.
    var ctx = try AIOContext(depth: Int32(depth))

    while let line = port.readLine() {
        if line == ControlProtocol.quit { return }
        if line.isEmpty { continue }
        let command: SlotCommand
        do { command = try SlotCommand(line: line) } catch {
            port.send("\(ControlProtocol.error) -1 \(error.description)")
            continue
        }
        do {
            guard let device = disks[command.disk] else { throw GuestFailure.spec("no disk with serial \(command.disk)") }
            let interrupts = interruptsOf[command.disk] ?? DiskInterrupts(device: device)
            interruptsOf[command.disk] = interrupts
            if command.driver == .fio {
                let result = try runFioSlot(command, device: device, interrupts: interrupts, spec: spec, port: port)
                port.send("\(ControlProtocol.result) \(try JSONLine.encode(result))")
                continue
            }
            let fd: Int32
            if let open = fds[command.disk] {
                fd = open
            } else {
                fd = Glibc.open("/dev/\(device)", O_RDWR | qcb_o_direct)
                guard fd >= 0 else { throw GuestFailure.syscall("open(/dev/\(device), O_RDWR|O_DIRECT)", errno) }
                fds[command.disk] = fd
            }
            let result: SlotResult
            do {
                result = try runSlot(
                    command, fd: fd, interrupts: interrupts, spec: spec, buffers: buffers, aio: ctx, port: port)
            } catch {
                // Writes may still be in flight: a new context, and the old
                // one's io_destroy waits for them before their buffers are reused.
                ctx = try AIOContext(depth: Int32(depth))
                throw error
            }
            port.send("\(ControlProtocol.result) \(try JSONLine.encode(result))")
        } catch let failure as GuestFailure {
            port.send("\(ControlProtocol.error) \(command.id) \(failure.description)")
        } catch {
            port.send("\(ControlProtocol.error) \(command.id) \(error)")
        }
    }
}

/// One slot on one open disk: warm up until steady or the cap, measure, drain.
func runSlot(
    _ command: SlotCommand, fd: Int32, interrupts: DiskInterrupts, spec: WorkloadSpec, buffers: UnsafeMutableRawPointer,
    aio ctx: borrowing AIOContext, port: borrowing ControlPort
) throws(GuestFailure) -> SlotResult {
    let bs = UInt64(spec.blockSize)
    let depth = Int(spec.iodepth)
    let deviceBytes = UInt64(max(0, lseek(fd, 0, SEEK_END)))
    guard deviceBytes >= bs else { throw .spec("disk \(command.disk) has \(deviceBytes) bytes, less than one block of \(bs)") }
    let span = command.spanBytes == 0 ? deviceBytes : min(command.spanBytes, deviceBytes)

    let iocbs = UnsafeMutablePointer<iocb>.allocate(capacity: depth)
    defer { iocbs.deallocate() }
    let pending = UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>.allocate(capacity: depth)
    defer { pending.deallocate() }
    let events = UnsafeMutablePointer<io_event>.allocate(capacity: depth)
    defer { events.deallocate() }
    let submittedAt = UnsafeMutablePointer<UInt64>.allocate(capacity: depth)
    defer { submittedAt.deallocate() }

    var offsets = OffsetGenerator(seed: command.seed, spanBytes: span, blockSize: bs, distribution: spec.distribution)
    var histogram = makeLatencyHistogram()
    var seconds = [UInt64](repeating: 0, count: max(1, Int((UInt64(command.measureMillis) + 999) / 1000)))
    var ops: UInt64 = 0
    // The mean from a running sum: the histogram's `mean` walks every
    // bucket through its iterator, which took 190-320 ms per slot under
    // TCG (the slot's summary time), the largest gap between two windows.
    var latencyNanos: UInt64 = 0
    var errors = WriteErrors()
    var submitCalls: UInt64 = 0
    var submitted: UInt64 = 0
    var blockingWaits: UInt64 = 0
    var waitNanos: UInt64 = 0

    let start = monotonicNanos()
    let bucketNanos = SteadyState.bucketMillis * 1_000_000
    let capNanos = UInt64(command.warmupCapMillis) * 1_000_000
    var buckets: [UInt64] = [0]
    buckets.reserveCapacity(Int(capNanos / bucketNanos) + 2)
    var warming = true
    var settled = false
    var measureStart: UInt64 = .max
    var measureEnd: UInt64 = .max
    var warmupNanos: UInt64 = 0
    var interruptsAtStart: UInt64?
    var interruptsAtEnd: UInt64?

    for slot in 0..<depth {
        qcb_prep_pwrite(iocbs + slot, fd, buffers + slot * Int(bs), Int(bs), Int64(bitPattern: offsets.next()), nil)
        submittedAt[slot] = start
        pending[slot] = iocbs + slot
    }
    try ctx.submit(pending, count: depth)

    var inFlight = depth
    var submitting = true
    while inFlight > 0 {
        var blocked = false
        let waitStart = monotonicNanos()
        let n = try ctx.poll(max: depth, into: events, inFlight: inFlight, since: waitStart, blocked: &blocked)
        var now = monotonicNanos()
        // A wait counts when it ended inside the window, clipped to the window's start.
        if now >= measureStart, now < measureEnd { waitNanos &+= now - max(waitStart, measureStart) }
        if warming {
            let bucket = Int((now - start) / bucketNanos)
            // Buckets are judged when they close: the newest one is still filling.
            if bucket >= buckets.count {
                while buckets.count <= bucket { buckets.append(0) }
                let closed = Array(buckets.dropLast())
                settled = SteadyState.isSteady(closed, elapsedMillis: (now - start) / 1_000_000)
                if settled || now - start >= capNanos {
                    warming = false
                    interruptsAtStart = interrupts.read()
                    port.send(ControlProtocol.measure)
                    now = monotonicNanos()
                    warmupNanos = now - start
                    measureStart = now
                    measureEnd = now + UInt64(command.measureMillis) * 1_000_000
                }
            }
        }
        if submitting, now >= measureEnd {
            submitting = false
            interruptsAtEnd = interrupts.read()
            port.send(ControlProtocol.end)
        }
        let measuring = now >= measureStart && now < measureEnd
        if blocked, measuring { blockingWaits += 1 }
        var resubmit = 0
        for i in 0..<n {
            let ev = events[i]
            guard let obj = ev.obj else { continue }
            let slot = obj - iocbs
            // A failed write is counted in `errors` and resubmitted like any other.
            let wrote = errors.completed(ev, blockSize: bs)
            if wrote, warming {
                buckets[buckets.count - 1] += 1
            } else if wrote, measuring {
                ops += 1
                seconds[min(seconds.count - 1, Int((now - measureStart) / 1_000_000_000))] += 1
                let latency = now - submittedAt[slot]
                histogram.record(latency)
                latencyNanos &+= latency
            }
            if submitting {
                qcb_prep_pwrite(obj, fd, buffers + slot * Int(bs), Int(bs), Int64(bitPattern: offsets.next()), nil)
                submittedAt[slot] = now
                pending[resubmit] = obj
                resubmit += 1
            } else {
                inFlight -= 1
            }
        }
        if resubmit > 0 {
            let calls = try ctx.submit(batched: pending, count: resubmit)
            if measuring {
                submitCalls += calls
                submitted += UInt64(resubmit)
            }
        }
    }

    let drained = monotonicNanos()
    let window = Double(command.measureMillis) / 1000
    let us = { (ns: UInt64) in Double(ns) / 1000 }
    var result = SlotResult(
        id: command.id, disk: command.disk, ops: ops, seconds: window, iops: Double(ops) / window,
        latency: .init(
            meanUs: ops > 0 ? Double(latencyNanos) / Double(ops) / 1000 : 0, p50Us: us(histogram.valueAtPercentile(50)),
            p99Us: us(histogram.valueAtPercentile(99)), p999Us: us(histogram.valueAtPercentile(99.9)), maxUs: us(histogram.max)),
        perSecondOps: seconds, warmupMillis: warmupNanos / 1_000_000, settled: settled, ioErrors: errors.count,
        firstError: errors.first, submitCalls: submitCalls, submitted: submitted)
    let ms = { (from: UInt64, to: UInt64) in to >= from ? Double(to - from) / 1e6 : 0 }
    result.drainMillis = measureEnd == .max ? nil : ms(measureEnd, drained)
    result.blockingWaits = blockingWaits
    result.waitMillis = Double(waitNanos) / 1e6
    result.interrupts = DiskInterrupts.taken(from: interruptsAtStart, to: interruptsAtEnd)
    result.summaryMillis = ms(drained, monotonicNanos())
    return result
}
