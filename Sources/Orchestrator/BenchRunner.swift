import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Logging
import Qcow2Geometry

/// Everything fixed for one harness invocation: where the guest comes from,
/// which accelerator, the provenance shared by every record.
public struct RunContext: Sendable {
    public var kernel: GuestKernel
    public var initramfs: Initramfs
    public var accel: AccelDecision
    public var host: HostEnvironment
    public var imageFilesystem: String
    public var matrixName: String
    public var matrixHash: String
    public var seed: UInt64
    /// Time allowed from QEMU start to the driver's first I/O.
    public var bootGrace: Duration
    /// Kernel parameters appended after the workload spec: debugging
    /// (`loglevel=7`) and fault-injection tests (`rdinit=... -- args`).
    public var extraKernelParameters: [String] = []
    /// Time allowed after the measured window for draining in-flight I/O,
    /// printing the result and powering off.
    public var drainGrace: Duration = .seconds(15)
    /// `I/N` of a sharded matrix run, recorded in every record's provenance.
    public var shard: String?
    /// The QEMU builds cells may name (`Cell.build`), by name; empty runs
    /// the binaries on PATH under the name `system`, as before builds.
    public var builds: [String: QemuBuild] = [:]
    /// The build the others are compared against (first of `host.qemu_build`).
    public var baseBuild = QemuBuildName.system

    public init(
        kernel: GuestKernel, initramfs: Initramfs, accel: AccelDecision, host: HostEnvironment, imageFilesystem: String,
        matrixName: String, matrixHash: String, seed: UInt64
    ) {
        self.kernel = kernel
        self.initramfs = initramfs
        self.accel = accel
        self.host = host
        self.imageFilesystem = imageFilesystem
        self.matrixName = matrixName
        self.matrixHash = matrixHash
        self.seed = seed
        bootGrace = accel.accel == .kvm ? .seconds(20) : .seconds(45)
    }
}

extension RunContext {
    /// `qemu-system-x86_64` for `cell` (its build's, or the one on PATH).
    public func qemu(for cell: Cell) -> String { builds[cell.build]?.qemu ?? "qemu-system-x86_64" }
    public func qemuImg(for cell: Cell) -> String { builds[cell.build]?.qemuImg ?? "qemu-img" }

    /// What every record of `cell` carries, with `argv` as QEMU's command line.
    func provenance(for cell: Cell, argv: [String]) -> Provenance {
        let build = builds[cell.build]
        var p = Provenance(
            qemuVersion: build?.versionText ?? host.qemuVersion, accel: accel.accel.rawValue, accelReason: accel.reason,
            guestKernel: kernel.version, hostCPU: host.hostCPU, hostKernel: host.hostKernel,
            imageFilesystem: imageFilesystem, gitRevision: host.gitRevision, matrixName: matrixName,
            matrixHash: matrixHash, seed: seed, startedAt: BenchRunner.timestamp(), qemuCommandLine: argv)
        p.shard = shard
        p.qemuBuild = build?.provenance
        p.baseBuild = builds.count > 1 ? baseBuild : nil
        return p
    }
}

/// Runs cells: image preparation, QEMU, console, record. Never throws for a
/// failed run: failures are records too.
public struct BenchRunner: Sendable {
    public var context: RunContext
    public var workDirectory: WorkDirectory
    public var logger: Logger

    public init(context: RunContext, workDirectory: WorkDirectory, logger: Logger) {
        self.context = context
        self.workDirectory = workDirectory
        self.logger = logger
    }

    /// The guest command for `cell` on the disk `prep` makes.
    public func command(for cell: Cell, prep: ImagePreparation, repetition: Int, console: String) -> QemuCommand {
        let spec = cell.workload.guestSpec(diskSize: cell.geometry.diskSize, seed: context.seed &+ UInt64(repetition))
        let disk: GuestDisk
        switch cell.kind {
        case .null: disk = .null(size: cell.geometry.diskSize)
        case .raw: disk = .raw(path: prep.image, hostIO: cell.hostIO)
        case .qcow2: disk = .qcow2(path: prep.image, hostIO: cell.hostIO, cache: cell.cache, backing: prep.backing)
        }
        var command = QemuCommand(
            accel: context.accel.accel, kernel: context.kernel.vmlinuz, initrd: context.initramfs.path,
            kernelParameters: [spec.kernelParameter] + context.extraKernelParameters, disk: disk, consolePath: console)
        command.qemu = context.qemu(for: cell)
        return command
    }

    /// Runs one repetition of one cell and returns its record.
    public func run(_ planned: PlannedRun, sequence: Int, attempt: Int = 1) async -> RunRecord {
        let cell = planned.cell
        let clock = ContinuousClock()
        let prep = ImagePreparation(cell: cell, base: workDirectory.path + "/disk-\(sequence)", qemuImg: context.qemuImg(for: cell))
        let console = workDirectory.path + "/console-\(sequence).log"
        defer {
            for f in prep.files where cell.kind != .null { try? FileManager.default.removeItem(atPath: f) }
            try? FileManager.default.removeItem(atPath: console)
        }
        let cmd = command(for: cell, prep: prep, repetition: planned.repetition, console: console)
        var provenance = context.provenance(for: cell, argv: cmd.argv)

        // Prepare the image(s).
        let prepStart = clock.now
        for step in prep.commands {
            let out: ToolOutput
            do {
                out = try await ToolRunner.run(step.argv, watching: prep.files)
            } catch {
                return failedPreparation(planned, sequence, attempt, "\(error)", provenance, Self.seconds(clock.now - prepStart))
            }
            guard out.succeeded else {
                let why = OrchestratorError.toolFailed(argv: step.argv, status: GuestLauncher.describe(out.status), stderr: out.stderr)
                return failedPreparation(planned, sequence, attempt, "\(why)", provenance, Self.seconds(clock.now - prepStart))
            }
        }
        let prepSeconds = Self.seconds(clock.now - prepStart)

        let deadline = context.bootGrace + .milliseconds(Int(cell.workload.totalMillis)) + context.drainGrace
        provenance.startedAt = Self.timestamp()
        logger.info("run starting", metadata: ["matrix.cell": "\(cell.id)", "run.repetition": "\(planned.repetition)"])
        let outcome = await GuestLauncher(logger: logger).run(cmd, workDirectory: workDirectory.path, deadline: deadline)
        let failed = outcome.failure != nil
        var record = RunRecord(
            cell: cell, repetition: planned.repetition, sequence: sequence, attempt: attempt, status: failed ? .failed : .ok,
            failure: outcome.failure, consoleTail: failed ? outcome.consoleTail : nil, stderrTail: failed ? outcome.stderrTail : nil,
            result: outcome.result, provenance: provenance, prepSeconds: prepSeconds, wallSeconds: outcome.wallSeconds)
        if !outcome.rss.isEmpty {
            record.memory = MemoryProfile(intervalMillis: GuestLauncher.rssIntervalMillis, samples: outcome.rss)
        }
        record.hostBootMillis = outcome.hostBootMillis
        record.host = outcome.result == nil ? nil : outcome.host
        record.phaseMarks = outcome.phaseMarks.isEmpty ? nil : outcome.phaseMarks
        return record
    }

    func failedPreparation(
        _ planned: PlannedRun, _ sequence: Int, _ attempt: Int, _ why: String, _ provenance: Provenance, _ prep: Double
    ) -> RunRecord {
        RunRecord(
            cell: planned.cell, repetition: planned.repetition, sequence: sequence, attempt: attempt, status: .failed,
            failure: "image preparation failed: \(why)", result: nil, provenance: provenance, prepSeconds: prep, wallSeconds: 0)
    }

    static func seconds(_ d: Duration) -> Double {
        d.inSeconds
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }
}
