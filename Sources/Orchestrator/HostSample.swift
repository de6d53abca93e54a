import BenchResults
import BenchSpec
import Foundation

/// A snapshot of what the host and the QEMU process had used so far, taken
/// at a slot's measured-window boundaries; two of them give `HostNoise`.
struct HostSample: Sendable {
    /// Aggregate /proc/stat jiffies: total, steal, and busy (not idle/iowait).
    var total: UInt64
    var steal: UInt64
    var busy: UInt64
    /// QEMU's CPU time per thread role, nanoseconds (schedstat's run time,
    /// or utime + stime in jiffies converted where schedstat is missing).
    var threads: [String: (role: ThreadRole, nanos: UInt64)]

    enum ThreadRole: Sendable { case vcpu, iothread, mainLoop, other }

    static var ticksPerSecond: Double { Double(max(1, sysconf(Int32(_SC_CLK_TCK)))) }

    static func take(qemuPid pid: pid_t) -> HostSample {
        var s = HostSample(total: 0, steal: 0, busy: 0, threads: [:])
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
           let cpu = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) {
            let v = cpu.split(separator: " ").dropFirst().compactMap { UInt64($0) }
            // user nice system idle iowait irq softirq steal guest guest_nice
            if v.count >= 8 {
                s.total = v[0..<8].reduce(0, +)
                s.steal = v[7]
                s.busy = s.total - v[3] - v[4] - v[7]
            }
        }
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for tid in tasks {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let comm = String(stat[stat.index(after: stat.firstIndex(of: "(") ?? stat.startIndex)..<close])
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After ")": state is field 3, utime 14, stime 15 (1-based) -> indices 11, 12.
            guard fields.count > 12, let u = UInt64(fields[11]), let k = UInt64(fields[12]) else { continue }
            var cpu = UInt64(Double(u + k) / ticksPerSecond * 1e9)
            if let sched = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/schedstat", encoding: .utf8),
               let ns = sched.split(separator: " ").first.flatMap({ UInt64($0) }) {
                cpu = ns
            }
            let role: ThreadRole =
                comm.hasPrefix("CPU ") ? .vcpu : comm.hasPrefix("IO ") ? .iothread : tid == "\(pid)" ? .mainLoop : .other
            s.threads[tid] = (role, cpu)
        }
        return s
    }

    /// What happened between `self` and a later sample, over `seconds`.
    /// Per thread: a thread that started in between counts from zero; one
    /// that ended in between is lost (QEMU's worker threads come and go).
    func noise(until later: HostSample, seconds: Double) -> HostNoise {
        let total = Double(later.total &- total)
        var byRole: [ThreadRole: UInt64] = [:]
        for (tid, t) in later.threads {
            let before = threads[tid]?.nanos ?? 0
            byRole[t.role, default: 0] += t.nanos >= before ? t.nanos - before : 0
        }
        func ms(_ role: ThreadRole) -> Double { Double(byRole[role] ?? 0) / 1e6 }
        return HostNoise(
            seconds: seconds,
            stealPercent: total > 0 ? Double(later.steal &- steal) / total * 100 : 0,
            hostBusyPercent: total > 0 ? Double(later.busy &- busy) / total * 100 : 0,
            qemuVcpuMillis: ms(.vcpu), qemuIothreadMillis: ms(.iothread),
            qemuMainLoopMillis: ms(.mainLoop), qemuOtherMillis: ms(.other))
    }
}
