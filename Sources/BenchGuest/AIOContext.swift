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
