import BenchResults
/// Failures at the I/O edge. Each description says what failed, with what
/// input, and what to try.
public enum OrchestratorError: Error, CustomStringConvertible, Sendable {
    case toolMissing(tool: String, hint: String)
    case toolFailed(argv: [String], status: String, stderr: String)
    case kernelMissing(path: String)
    case kernelInvalid(path: String, why: String)
    case guestBinaryMissing(path: String)
    case io(what: String, path: String, errno: Int32)
    case accelUnavailable(accel: String, why: String)
    case outputNotDirectory(path: String)
    case outputLocked(path: String)
    /// Reading or appending the results log failed.
    case records(RecordsError)

    public var description: String {
        switch self {
        case .toolMissing(let tool, let hint):
            return "\(tool) not found: \(hint)"
        case .toolFailed(let argv, let status, let stderr):
            let tail = stderr.split(separator: "\n").suffix(3).joined(separator: " | ")
            return "\(argv.first ?? "?") failed (\(status)): \(tail.isEmpty ? "no error output" : tail); command: \(argv.joined(separator: " "))"
        case .kernelMissing(let path):
            return "guest kernel not found at \(path): run scripts/setup, or pass --kernel DIR (a directory with vmlinuz and modules/)"
        case .kernelInvalid(let path, let why):
            return "guest kernel at \(path) is not usable: \(why)"
        case .guestBinaryMissing(let path):
            return "guest driver not found at \(path): build it with `swift build --product bench-guest`"
        case .io(let what, let path, let err):
            return "\(what) \(path): \(errnoText(err))"
        case .records(let e):
            return e.description
        case .accelUnavailable(let accel, let why):
            return "--accel \(accel) is not usable here: \(why); use --accel auto or tcg"
        case .outputLocked(let path):
            return "--output: invalid value \"\(path)\": another bench process is writing to this directory (it holds the lock); wait for it or choose another directory"
        case .outputNotDirectory(let path):
            return "--output: invalid value \"\(path)\": exists and is not a directory"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

func errnoText(_ err: Int32) -> String {
    "\(String(cString: strerror(err))) (errno \(err))"
}
