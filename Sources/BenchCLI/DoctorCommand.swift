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
    @OptionGroup var qemuBuilds: QemuBuildOptions

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

        var booting: (probe: AccelProbe, accel: Accelerator, work: WorkDirectory)?
        if let kernel, hasGuest, busybox, checks.allSatisfy({ $0.ok }) {
            do {
                let initramfs = try Initramfs.prepare(kernel: kernel, guestBinary: guestBinary)
                checks.append(Check(ok: true, name: "initramfs", detail: initramfs.path))
                let host = await HostEnvironment.gather()
                let work = try WorkDirectory()
                let probe = AccelProbe(
                    launcher: GuestLauncher(logger: guest.makeLogger()), kernel: kernel, initramfs: initramfs,
                    qemuVersion: host.qemuVersion, hostKernel: host.hostKernel)
                let kvm = await probe.probeKVM(workDirectory: work)
                checks.append(Check(ok: kvm.accel == .kvm, name: "KVM", detail: kvm.accel == .kvm ? kvm.reason : "unusable: \(kvm.reason); TCG will be used", optional: true))
                let chosen = try await probe.decide(guest.accel, workDirectory: work)
                checks.append(Check(ok: true, name: "accelerator", detail: "\(chosen.accel) (\(chosen.reason))"))
                booting = (probe, chosen.accel, work)
            } catch {
                checks.append(Check(ok: false, name: "accelerator", detail: "\(error)"))
            }
        } else {
            checks.append(Check(ok: false, name: "accelerator", detail: "not probed: fix the items above first"))
        }

        checks += await buildChecks(booting: booting)
        booting?.work.remove()

        for c in checks {
            let mark = c.ok ? "ok  " : (c.optional ? "warn" : "FAIL")
            print("[\(mark)] \(c.name): \(c.detail)")
        }
        if checks.contains(where: { !$0.ok && !$0.optional }) { throw ExitCode(1) }
    }

    /// Per `--qemu-build`: it runs and is a QEMU the cache model knows (its
    /// version and SHA-256), it has the cache trace events, and it boots the
    /// guest to the driver under the chosen accelerator. Nothing without
    /// `--qemu-build`: the system QEMU is checked above.
    func buildChecks(booting: (probe: AccelProbe, accel: Accelerator, work: WorkDirectory)?) async -> [Check] {
        guard !qemuBuilds.builds.isEmpty, let names = try? qemuBuilds.names() else { return [] }
        var out: [Check] = []
        for name in names {
            let build: QemuBuild
            switch await qemuBuilds.check(name) {
            case .success(let b): build = b
            case .failure(let error):
                out.append(Check(ok: false, name: "build \(name)", detail: error.description))
                continue
            }
            out.append(
                Check(
                    ok: true, name: "build \(name)",
                    detail: "\(build.versionLine); sha256 \(build.sha256.prefix(16))…; \(build.qemu); qemu-img \(build.qemuImg)"))
            if let problem = await CacheTraceSupport.problem(qemu: build.qemu) {
                out.append(Check(ok: false, name: "build \(name) cache trace events", detail: "\(problem); its misses will not be counted", optional: true))
            } else {
                out.append(Check(ok: true, name: "build \(name) cache trace events", detail: "all \(CacheTraceOptions.allEvents.count) listed"))
            }
            guard let booting else {
                out.append(Check(ok: false, name: "build \(name) boots the guest", detail: "not tried: fix the items above first"))
                continue
            }
            let boot = await booting.probe.bootProblem(qemu: build.qemu, accel: booting.accel, workDirectory: booting.work)
            let seconds = String(format: "%.1f", boot.seconds)
            out.append(
                Check(
                    ok: boot.problem == nil, name: "build \(name) boots the guest",
                    detail: boot.problem.map { "failed after \(seconds) s: \($0)" } ?? "reached the driver in \(seconds) s (\(booting.accel))"))
        }
        return out
    }
}
