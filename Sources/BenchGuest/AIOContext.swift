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
    func submit(_ list: UnsafeMutablePointer<UnsafeMutablePointer<iocb>?>, count: Int) throws(GuestFailure) {
        var done = 0
        while done < count {
            let rc = io_submit(ctx, count - done, list + done)
            if rc == -EINTR || rc == -EAGAIN { continue }
            guard rc > 0 else { throw .syscall("io_submit", rc == 0 ? EIO : -rc) }
            done += Int(rc)
        }
    }

    /// Waits for at least one completion (up to `max`) by polling the
    /// kernel's completion ring instead of sleeping in io_getevents. A
    /// sleeping driver lets the vCPU halt, and under TCG waking it delays
    /// each batch of completions; polling measured more IOPS both on null-co
    /// and on a qcow2 with a small L2 cache, where the sleeping driver had
    /// measured less than fio. Falls back to io_getevents on a ring of
    /// unknown layout.
    ///
    /// The spin is bounded: after `spinLimit` empty looks it blocks in
    /// io_getevents for up to a second, so a guest kernel thread that a
    /// completion waits on can always run, and a device that stops
    /// completing I/O becomes an error after `stallLimit` instead of a hang
    /// the host can only kill.
    func poll(max: Int, into events: UnsafeMutablePointer<io_event>, inFlight: Int) throws(GuestFailure) -> Int {
        if let ctx, qcb_ring_readable(ctx) != 0 {
            for _ in 0..<Self.spinLimit {
                let n = qcb_user_reap(ctx, Int32(max), events)
                if n > 0 { return Int(n) }
            }
        }
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

    static let spinLimit = 1_000_000
    static let stallLimit = 10

    /// Waits for at least `min` completions (up to `max`); EINTR is retried.
    func reap(min: Int, max: Int, into events: UnsafeMutablePointer<io_event>) throws(GuestFailure) -> Int {
        while true {
            let rc = io_getevents(ctx, min, max, events, nil)
            if rc == -EINTR { continue }
            guard rc >= 0 else { throw .syscall("io_getevents", -rc) }
            return Int(rc)
        }
    }
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
