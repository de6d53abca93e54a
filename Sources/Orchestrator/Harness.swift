import BenchSpec
import Foundation
import Logging

/// Brings up what every run needs, once per invocation: guest kernel,
/// initramfs, host facts, the accelerator decision, a private work directory.
public struct Harness: Sendable {
    public var context: RunContext
    public var workDirectory: WorkDirectory
    public var logger: Logger

    /// - Parameters:
    ///   - kernelDirectory: `--kernel`, or nil for the setup cache.
    ///   - builds: the QEMU builds cells may name, the base first (already
    ///     checked with `QemuBuild.resolve`); empty: the `system` build, if
    ///     it resolves (else the binaries on PATH, unrecorded, as before).
    public static func prepare(
        kernelDirectory: String?, accel: AccelChoice, matrixName: String, matrixHash: String, seed: UInt64, logger: Logger,
        builds: [QemuBuild] = []
    ) async throws(OrchestratorError) -> Harness {
        let kernel = try GuestKernel.locate(kernelDirectory)
        let initramfs = try Initramfs.prepare(kernel: kernel, guestBinary: guestBinaryPath())
        let work = try WorkDirectory()
        do {
            let host = await HostEnvironment.gather()
            let probe = AccelProbe(
                launcher: GuestLauncher(logger: logger), kernel: kernel, initramfs: initramfs,
                qemuVersion: host.qemuVersion, hostKernel: host.hostKernel)
            let decision = try await probe.decide(accel, workDirectory: work)
            logger.info("accelerator", metadata: ["accel": "\(decision.accel)", "accel.reason": "\(decision.reason)"])
            let fs = await HostEnvironment.filesystemType(of: work.path)
            let context = RunContext(
                kernel: kernel, initramfs: initramfs, accel: decision, host: host, imageFilesystem: fs,
                matrixName: matrixName, matrixHash: matrixHash, seed: seed)
            var harness = Harness(context: context, workDirectory: work, logger: logger)
            var known = builds
            if known.isEmpty, let system = try? await QemuBuild.resolve(name: QemuBuildName.system, qemu: nil, qemuImg: nil) {
                known = [system]
            }
            harness.context.builds = Dictionary(known.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            harness.context.baseBuild = known.first?.name ?? QemuBuildName.system
            return harness
        } catch {
            work.remove()
            throw error
        }
    }

    public var runner: BenchRunner { BenchRunner(context: context, workDirectory: workDirectory, logger: logger) }

    /// Removes the work directory; call on every exit path.
    public func shutdown() { workDirectory.remove() }

    /// The static guest driver, built next to the `bench` executable.
    public static func guestBinaryPath() -> String {
        if let override = ProcessInfo.processInfo.environment["QCB_GUEST_BINARY"], !override.isEmpty { return override }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { URL(fileURLWithPath: $0) } ?? exe
        return own.deletingLastPathComponent().appendingPathComponent("bench-guest").path
    }
}
