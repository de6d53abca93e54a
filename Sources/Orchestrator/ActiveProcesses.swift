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

/// QEMU processes on this host, found through /proc: how tests (and
/// `doctor`) verify that nothing was left running.
public enum QemuProcesses {
    /// PIDs of `qemu-system-*` processes whose command line contains
    /// `fragment` (e.g. a work directory path); all of them when nil.
    public static func running(commandLineContaining fragment: String? = nil) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> pid_t? in
            guard let pid = pid_t(name) else { return nil }
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), comm.hasPrefix("qemu-system") else {
                return nil
            }
            if let fragment {
                guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
                let cmdline = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
                guard cmdline.contains(fragment) else { return nil }
            }
            return pid
        }
    }
}
