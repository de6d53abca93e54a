import ArgumentParser
import Foundation
import Orchestrator

/// `bench doctor`: is this host ready to run guests? One line per check,
/// with the fix for anything missing.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check QEMU, qemu-img, the guest kernel and modules, libaio, busybox, KVM and the accelerator probe.")

    @OptionGroup var guest: GuestOptions

    struct Check {
        var ok: Bool
        var name: String
        var detail: String
        /// A missing piece that is not required (KVM: TCG works without it).
        var optional = false
    }

    func run() async throws {
        var checks: [Check] = []
        func tool(_ name: String, _ args: [String], fix: String) async {
            if let out = try? await ToolRunner.run([name] + args), out.succeeded {
                checks.append(Check(ok: true, name: name, detail: out.stdout.split(separator: "\n").first.map(String.init) ?? ""))
            } else {
                checks.append(Check(ok: false, name: name, detail: "missing; fix: \(fix)"))
            }
        }
        await tool("qemu-system-x86_64", ["--version"], fix: "apt-get install qemu-system-x86 (or run scripts/setup)")
        await tool("qemu-img", ["--version"], fix: "apt-get install qemu-utils (or run scripts/setup)")
        // Every QEMU and qemu-img is started through it, so they die with the harness.
        await tool("setpriv", ["--version"], fix: "apt-get install util-linux")
        checks.append(await Self.cacheTraceCheck())

        let kernel: GuestKernel?
        do {
            let k = try GuestKernel.locate(guest.kernel)
            kernel = k
            checks.append(Check(ok: true, name: "guest kernel", detail: "\(k.version) at \(k.directory)"))
            checks.append(Check(ok: true, name: "virtio modules", detail: GuestKernel.moduleOrder.joined(separator: ", ")))
        } catch {
            kernel = nil
            checks.append(Check(ok: false, name: "guest kernel", detail: "\(error)"))
        }
        let libaio = ["/usr/lib/x86_64-linux-gnu/libaio.a", "/usr/lib/aarch64-linux-gnu/libaio.a", "/usr/lib/libaio.a"]
            .first { FileManager.default.fileExists(atPath: $0) }
        checks.append(Check(ok: libaio != nil, name: "libaio (static)", detail: libaio ?? "missing; fix: apt-get install libaio-dev (or run scripts/setup)"))
        let busybox = FileManager.default.isExecutableFile(atPath: "/bin/busybox")
        checks.append(Check(ok: busybox, name: "busybox (static)", detail: busybox ? "/bin/busybox" : "missing; fix: apt-get install busybox-static (or run scripts/setup)"))
        let guestBinary = Harness.guestBinaryPath()
        let hasGuest = FileManager.default.isReadableFile(atPath: guestBinary)
        checks.append(Check(ok: hasGuest, name: "guest driver", detail: hasGuest ? guestBinary : "missing at \(guestBinary); fix: swift build --product bench-guest"))

        if let kernel, hasGuest, busybox, checks.allSatisfy({ $0.ok }) {
            do {
                let initramfs = try Initramfs.prepare(kernel: kernel, guestBinary: guestBinary)
                checks.append(Check(ok: true, name: "initramfs", detail: initramfs.path))
                let host = await HostEnvironment.gather()
                let work = try WorkDirectory()
                defer { work.remove() }
                let probe = AccelProbe(
                    launcher: GuestLauncher(logger: guest.makeLogger()), kernel: kernel, initramfs: initramfs,
                    qemuVersion: host.qemuVersion, hostKernel: host.hostKernel)
                let kvm = await probe.probeKVM(workDirectory: work)
                checks.append(Check(ok: kvm.accel == .kvm, name: "KVM", detail: kvm.accel == .kvm ? kvm.reason : "unusable: \(kvm.reason); TCG will be used", optional: true))
                let chosen = try await probe.decide(guest.accel, workDirectory: work)
                checks.append(Check(ok: true, name: "accelerator", detail: "\(chosen.accel) (\(chosen.reason))"))
            } catch {
                checks.append(Check(ok: false, name: "accelerator", detail: "\(error)"))
            }
        } else {
            checks.append(Check(ok: false, name: "accelerator", detail: "not probed: fix the items above first"))
        }

        for c in checks {
            let mark = c.ok ? "ok  " : (c.optional ? "warn" : "FAIL")
            print("[\(mark)] \(c.name): \(c.detail)")
        }
        if checks.contains(where: { !$0.ok && !$0.optional }) { throw ExitCode(1) }
    }
}
