import CLibAIO
import Glibc

/// A libaio context that is destroyed exactly once. libaio returns negative
/// errno values instead of setting `errno`; they become `GuestFailure`s here.
struct AIOContext: ~Copyable {
    private var ctx: io_context_t?

    init(depth: Int32) throws(GuestFailure) {
        var c: io_context_t? = nil
        let rc = io_setup(depth, &c)
        guard rc == 0 else { throw .syscall("io_setup(\(depth))", -rc) }
        ctx = c
    }

    deinit { if let ctx { _ = io_destroy(ctx) } }

    /// Submits `count` prepared control blocks; retries partial submissions.
    /// EAGAIN (no request slots) is retried a bounded number of times and
    /// then reported, never spun on forever.
    func submit(_ list: UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>, count: Int) throws(GuestFailure) {
        var done = 0
        var busy = 0
        while done < count {
            let rc = io_submit(ctx, count - done, list + done)
            if rc == -EINTR { continue }
            if rc == -EAGAIN {
                busy += 1
                if busy > 100_000 { throw .syscall("io_submit (\(count - done) of \(count) not accepted)", EAGAIN) }
                continue
            }
            guard rc > 0 else { throw .syscall("io_submit", rc == 0 ? EIO : -rc) }
            done += Int(rc)
        }
    }

    /// Submits reaped-and-refilled control blocks in io_submit calls of at
    /// most `submitBatch`; returns the number of calls.
    ///
    /// Why not all at once: QEMU then takes the whole queue in one virtqueue
    /// kick and a qcow2 disk completes it as one batch, so the guest's queue
    /// drains before it is refilled. Measured on the default matrix (15
    /// blocks, one guest, the batch size switched block by block; IOPS
    /// against one call for all): batches of 1, 4 and 8 gave 2M 1.79, 1.94,
    /// 1.79 and L2 128K 1.42, 1.01, 1.25, but null-co 0.52, 0.68, 0.84,
    /// where each extra call is a kick the guest CPU pays for. 8 keeps the
    /// qcow2 cells within noise of their best and the null-co ceiling well
    /// above full coverage.
    @discardableResult
    func submit(batched list: UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>, count: Int) throws(GuestFailure) -> UInt64 {
        var done = 0
        var calls: UInt64 = 0
        while done < count {
            let n = min(Self.submitBatch, count - done)
            try submit(list + done, count: n)
            done += n
            calls += 1
        }
        return calls
    }

    static let submitBatch = 8

    /// Waits for at least one completion (up to `max`). It polls with
    /// non-blocking io_getevents calls instead of sleeping: a sleeping
    /// driver lets the vCPU halt, and under TCG waking it delays each batch
    /// of completions. Completions are reaped through the kernel, not read
    /// from the ring in user space: user-space reaping left the kernel's
    /// request accounting behind and hung about one run in twenty.
    ///
    /// The spin is bounded in time, not in polls. An empty poll is libaio
    /// comparing the ring's head and tail, with no system call, so the old
    /// bound of 20,000 polls ran out and slept hundreds of times in every
    /// slot (`blockingWaits` 440 to 849 per 128K slot, 20 to 1,291 over
    /// all cells, in the 2026-12-03 reference), each a halt and a wake-up.
    /// Measured with
    /// `bench calibrate --sweep --runs 12` (native/fio at zero steal):
    /// 20,000 polls gave 128K 0.94 (0.88-0.99), 1M 1.08, null-co 3.45; a
    /// spin that never blocked gave 1.01 (0.96-1.06), 1.13 and 3.94.
    ///
    /// After `spinNanos` it blocks for up to a second at a time, so a
    /// device that stops completing I/O becomes an error after
    /// `stallLimit` seconds instead of a hang the host can only kill. The
    /// guest kernel still runs its own threads: the scheduler's tick
    /// preempts a spinning user process.
    ///
    /// `start` is when the wait began (`monotonicNanos()`), read by the
    /// caller, which times its waits with the same reading. `blocked` is set
    /// when the spin ran out and the call slept: a slot counts these, since
    /// each one lets the vCPU halt.
    func poll(
        max: Int, into events: UnsafeMutablePointer<io_event>, inFlight: Int, since start: UInt64, blocked: inout Bool
    ) throws(GuestFailure) -> Int {
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        blocked = false
        var polls: UInt32 = 0
        while true {
            let rc = io_getevents(ctx, 0, max, events, &zero)
            if rc > 0 { return Int(rc) }
            if rc < 0 && rc != -EINTR { throw .syscall("io_getevents", -rc) }
            polls &+= 1
            if polls & Self.clockEvery == 0, monotonicNanos() &- start >= Self.spinNanos { break }
        }
        blocked = true
        var stalled = 0
        while true {
            var timeout = timespec(tv_sec: 1, tv_nsec: 0)
            let rc = io_getevents(ctx, 1, max, events, &timeout)
            if rc == -EINTR { continue }
            guard rc >= 0 else { throw .syscall("io_getevents", -rc) }
            if rc > 0 { return Int(rc) }
            stalled += 1
            if stalled >= Self.stallLimit {
                throw .spec("no write completed for \(stalled) s with \(inFlight) in flight: the virtual disk stopped completing I/O")
            }
        }
    }

    /// How long a wait spins before it sleeps.
    static let spinNanos: UInt64 = 1_000_000_000
    /// The clock is read once per this many empty polls (plus one).
    static let clockEvery: UInt32 = 1023
    static let stallLimit = 10

}

/// Why the driver gave up; printed behind `ConsoleProtocol.errorMarker`.
enum GuestFailure: Error, CustomStringConvertible {
    case spec(String)
    case syscall(String, Int32)

    var description: String {
        switch self {
        case .spec(let s): return s
        case .syscall(let what, let err): return "\(what) failed: \(String(cString: strerror(err))) (errno \(err))"
        }
    }
}

/// Writes that completed with an error or short, and the first one's reason:
/// the one place both drivers (per-run and slot) classify a completion.
struct WriteErrors {
    var count: UInt64 = 0
    var first: String? = nil

    /// Whether `event` wrote all `blockSize` bytes; if not, it is counted.
    @inline(__always)
    mutating func completed(_ event: io_event, blockSize: UInt64) -> Bool {
        let res = Int(bitPattern: event.res)
        if res == Int(blockSize) { return true }
        count += 1
        if first == nil, let obj = event.obj {
            first = res < 0
                ? "pwrite at \(obj.pointee.u.c.offset): \(String(cString: strerror(Int32(-res))))"
                : "short write at \(obj.pointee.u.c.offset): \(res) of \(blockSize) bytes"
        }
        return false
    }
}
