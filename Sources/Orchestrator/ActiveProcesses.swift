import Foundation
import Synchronization

/// QEMU processes currently running, so an emergency exit (second Ctrl-C)
/// can kill them before the harness goes: nothing may be left behind.
public enum ActiveProcesses {
    static let pids = Mutex<Set<pid_t>>([])

    static func register(_ pid: pid_t) { _ = pids.withLock { $0.insert(pid) } }
    static func unregister(_ pid: pid_t) { _ = pids.withLock { $0.remove(pid) } }

    /// SIGKILLs every registered process; safe to call from a signal path.
    public static func killAll() {
        for pid in pids.withLock({ $0 }) { kill(pid, SIGKILL) }
    }
}

/// Work directories currently in use, for the same emergency path.
public enum ActiveWorkDirectories {
    static let paths = Mutex<Set<String>>([])

    static func register(_ path: String) { _ = paths.withLock { $0.insert(path) } }
    static func unregister(_ path: String) { _ = paths.withLock { $0.remove(path) } }

    public static func removeAll() {
        for p in paths.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: p) }
    }
}
