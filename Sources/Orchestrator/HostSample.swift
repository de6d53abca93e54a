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
    var vcpu: UInt64
    var iothread: UInt64
    var mainLoop: UInt64
    var other: UInt64

    static var ticksPerSecond: Double { Double(max(1, sysconf(Int32(_SC_CLK_TCK)))) }

    static func take(qemuPid pid: pid_t) -> HostSample {
        var s = HostSample(total: 0, steal: 0, busy: 0, vcpu: 0, iothread: 0, mainLoop: 0, other: 0)
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
            if comm.hasPrefix("CPU ") {
                s.vcpu += cpu
            } else if comm.hasPrefix("IO ") {
                s.iothread += cpu
            } else if tid == "\(pid)" {
                s.mainLoop += cpu
            } else {
                s.other += cpu
            }
        }
        return s
    }

    /// What happened between `self` and a later sample, over `seconds`.
    func noise(until later: HostSample, seconds: Double) -> HostNoise {
        let total = Double(later.total &- total)
        func ms(_ a: UInt64, _ b: UInt64) -> Double { Double(b &- a) / 1e6 }
        return HostNoise(
            seconds: seconds,
            stealPercent: total > 0 ? Double(later.steal &- steal) / total * 100 : 0,
            hostBusyPercent: total > 0 ? Double(later.busy &- busy) / total * 100 : 0,
            qemuVcpuMillis: ms(vcpu, later.vcpu), qemuIothreadMillis: ms(iothread, later.iothread),
            qemuMainLoopMillis: ms(mainLoop, later.mainLoop), qemuOtherMillis: ms(other, later.other))
    }
}
