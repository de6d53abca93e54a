import BenchSpec
import Foundation
import GuestWire
import Logging

/// What `--accel` asks for.
public enum AccelChoice: String, Sendable, CaseIterable {
    /// Probe KVM with a short boot, fall back to TCG.
    case auto
    case kvm
    case tcg
}

/// The accelerator QEMU runs a guest with (`-accel`); its raw value is what
/// records carry.
public enum Accelerator: String, Sendable, Codable, Hashable, CaseIterable {
    case kvm
    case tcg
}

/// The accelerator a run uses and why.
public struct AccelDecision: Sendable, Codable, Hashable {
    public var accel: Accelerator
    public var reason: String
}

/// Decides between KVM and TCG by booting the real guest to its ready marker
/// under a short deadline. On hosts where /dev/kvm exists but nested
/// virtualization does not work, a KVM guest hangs or aborts: only a boot
/// tells. The decision is cached per host kernel and QEMU version.
public struct AccelProbe: Sendable {
    public var launcher: GuestLauncher
    public var kernel: GuestKernel
    public var initramfs: Initramfs
    public var qemuVersion: String
    public var hostKernel: String

    public init(launcher: GuestLauncher, kernel: GuestKernel, initramfs: Initramfs, qemuVersion: String, hostKernel: String) {
        self.launcher = launcher
        self.kernel = kernel
        self.initramfs = initramfs
        self.qemuVersion = qemuVersion
        self.hostKernel = hostKernel
    }

    var cachePath: String {
        var h = FNV1a64()
        h.add(Array("\(qemuVersion)|\(hostKernel)|\(kernel.version)".utf8))
        return GuestKernel.cacheRoot + "/accel-\(h.hex).json"
    }

    public func decide(_ requested: AccelChoice, workDirectory: WorkDirectory) async throws(OrchestratorError) -> AccelDecision {
        switch requested {
        case .tcg:
            return AccelDecision(accel: .tcg, reason: "requested")
        case .kvm:
            let probe = await probeKVM(workDirectory: workDirectory)
            guard probe.accel == .kvm else { throw .accelUnavailable(accel: "kvm", why: probe.reason) }
            return AccelDecision(accel: .kvm, reason: "requested; probe booted")
        case .auto:
            if let data = FileManager.default.contents(atPath: cachePath),
                let cached = try? JSONDecoder().decode(AccelDecision.self, from: data)
            {
                return AccelDecision(accel: cached.accel, reason: cached.reason + " (cached probe)")
            }
            let d = await probeKVM(workDirectory: workDirectory)
            // A probe cut short by Ctrl-C proves nothing about KVM: not cached.
            if !Task.isCancelled, let data = try? JSONEncoder().encode(d) {
                try? FileManager.default.createDirectory(atPath: GuestKernel.cacheRoot, withIntermediateDirectories: true)
                // A failed write only means the next harness probes again.
                _ = FileManager.default.createFile(atPath: cachePath, contents: data)
            }
            return d
        }
    }

    /// Boots with KVM on a null disk; KVM if the driver reports ready in time.
    public func probeKVM(workDirectory: WorkDirectory) async -> AccelDecision {
        guard FileManager.default.fileExists(atPath: "/dev/kvm") else {
            return AccelDecision(accel: .tcg, reason: "no /dev/kvm")
        }
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            return AccelDecision(accel: .tcg, reason: "/dev/kvm not accessible (add the user to the kvm group)")
        }
        let spec = WorkloadSpec(blockSize: 4096, iodepth: 1, rampMillis: 0, runtimeMillis: 100, spanBytes: 0, seed: 1)
        let cmd = QemuCommand(
            accel: .kvm, kernel: kernel.vmlinuz, initrd: initramfs.path, kernelParameters: [spec.kernelParameter],
            disk: .null(size: .mib(64)), consolePath: workDirectory.path + "/probe-console.log")
        let deadline = Duration.seconds(15)
        let outcome = await launcher.run(cmd, workDirectory: workDirectory.path, deadline: deadline, stopAtReady: true)
        if outcome.reachedDriver { return AccelDecision(accel: .kvm, reason: "KVM probe booted to the driver in \(String(format: "%.1f", outcome.wallSeconds)) s") }
        // A guest that hangs is killed at the deadline, and QEMU's last
        // stderr line is then its own "terminating on signal 15 from pid …",
        // which says nothing: say how long it waited instead.
        let seconds = String(format: "%.0f", outcome.wallSeconds)
        let said = outcome.stderrTail.last { !$0.contains("terminating on signal") }
        if outcome.failure?.hasPrefix("timed out") == true || said == nil {
            return AccelDecision(
                accel: .tcg,
                reason: "KVM probe timed out after \(seconds) s without reaching the guest driver (nested virtualization unavailable?)"
                    + (said.map { "; QEMU said: \($0)" } ?? ""))
        }
        return AccelDecision(accel: .tcg, reason: "KVM probe failed after \(seconds) s: QEMU said: \(said ?? "")")
    }
}

extension AccelProbe {
    /// Boots the real guest with `qemu` (a build's binary) under `accel` on a
    /// small null disk, to the driver's ready marker: `bench doctor
    /// --qemu-build` checks that a build can run the harness's guest before
    /// a matrix depends on it. Nil when it booted; otherwise why not, one line.
    public func bootProblem(qemu: String, accel: Accelerator, workDirectory: WorkDirectory) async -> (seconds: Double, problem: String?) {
        let spec = WorkloadSpec(blockSize: 4096, iodepth: 1, rampMillis: 0, runtimeMillis: 100, spanBytes: 0, seed: 1)
        var cmd = QemuCommand(
            accel: accel, kernel: kernel.vmlinuz, initrd: initramfs.path, kernelParameters: [spec.kernelParameter],
            disk: .null(size: .mib(64)), consolePath: workDirectory.path + "/boot-check-console.log")
        cmd.qemu = qemu
        let deadline = Duration.seconds(accel == .kvm ? 15 : 90)
        let outcome = await launcher.run(cmd, workDirectory: workDirectory.path, deadline: deadline, stopAtReady: true)
        if outcome.reachedDriver { return (outcome.wallSeconds, nil) }
        let said = outcome.stderrTail.last { !$0.contains("terminating on signal") }
        let why = outcome.failure ?? "exited before the guest driver was ready"
        return (outcome.wallSeconds, why + (said.map { "; QEMU said: \($0)" } ?? ""))
    }
}
