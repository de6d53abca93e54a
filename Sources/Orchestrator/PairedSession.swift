import BenchSpec
import Foundation
import GuestWire
import Logging

/// Where a paired run stands, for the progress line.
public struct PairedProgress: Sendable {
    public var group: Int
    public var groups: Int
    public var block: Int
    public var position: Int
    public var cellsPerBlock: Int
    public var guest: Int
    public var elapsedSeconds: Double
    /// Blocks the run expects to need (the minimum until a CI says more).
    public var plannedBlocks: Int
}

/// Runs shared-guest groups in randomized complete blocks: every cell of a
/// group once per block, in a shuffled order, each slot's record appended
/// to results.jsonl before the next slot starts. Adds blocks until the
/// budget says stop. A guest that dies is replaced and the remaining slots
/// go on in the new one; the slot it was running is recorded as failed and
/// tried once more.
public struct PairedSession: Sendable {
    public var harness: Harness
    public var outputDirectory: String
    public var seed: UInt64
    public var budget: BlockBudget
    /// Guests a group may lose before it is given up.
    public var maxGuestFailures = 3
    /// Which slots QEMU's cache events are traced for (`SlotTracer`).
    public var trace = Pairing.defaultTrace

    /// The widest ratio-CI half-width (fraction) of a group's compared cells,
    /// given its records so far; nil while it cannot be computed. Supplied by
    /// the caller (statistics live in Reporting).
    public typealias Precision = @Sendable ([RunRecord]) -> Double?

    public init(harness: Harness, outputDirectory: String, seed: UInt64, budget: BlockBudget) {
        self.harness = harness
        self.outputDirectory = outputDirectory
        self.seed = seed
        self.budget = budget
    }

    public var resultsPath: String { outputDirectory + "/results.jsonl" }

    public func run(
        _ groups: [GuestGroup], previous: [RunRecord], firstSequence: Int, precision: @escaping Precision,
        progress: @escaping @Sendable (RunRecord, PairedProgress) -> Void
    ) async throws(OrchestratorError) -> (records: [RunRecord], qemuWallSeconds: Double) {
        let log = try ResultsLog(path: resultsPath)
        var all: [RunRecord] = []
        var qemuWall = 0.0
        var sequence = firstSequence
        var guestNumber = (previous.compactMap { $0.slot?.guest }.max() ?? 0)
        let started = ContinuousClock.now
        for (gi, group) in groups.enumerated() {
            if Task.isCancelled { break }
            let remaining = budget.seconds.map { max(0, $0 - Self.seconds(ContinuousClock.now - started)) }
            var groupBudget = budget
            groupBudget.seconds = remaining.map { $0 / Double(groups.count - gi) }
            let planner = SlotPlanner(
                group: group, groups: groups.count, seed: seed, budget: groupBudget,
                previous: previous.filter { $0.slot?.group == group.id }, firstSequence: sequence, log: log,
                context: harness.context, precision: precision, progress: progress)
            let (records, wall) = await runGroup(group, planner: planner, guestNumber: &guestNumber)
            if let error = await planner.logError { throw error }
            all += records
            qemuWall += wall
            sequence = await planner.sequence
        }
        return (all, qemuWall)
    }

    func runGroup(_ group: GuestGroup, planner: SlotPlanner, guestNumber: inout Int) async -> ([RunRecord], Double) {
        var qemuWall = 0.0
        let context = harness.context
        let work = harness.workDirectory.path
        // Images: made once per group, kept for every guest of the group.
        var disks: [GuestDisk] = []
        var files: [String] = []
        defer { for f in files { try? FileManager.default.removeItem(atPath: f) } }
        for (i, cell) in group.cells.enumerated() {
            let prep = ImagePreparation(cell: cell, base: "\(work)/g\(group.id)-d\(i)")
            files += cell.kind == .null ? [] : prep.files
            for step in prep.commands {
                let failure: String?
                do {
                    let out = try await ToolRunner.run(step.argv)
                    failure = out.succeeded ? nil
                        : "\(OrchestratorError.toolFailed(argv: step.argv, status: GuestLauncher.describe(out.status), stderr: out.stderr))"
                } catch {
                    failure = "\(error)"
                }
                if let failure {
                    await planner.groupFailed("image preparation failed for \(cell.id): \(failure)")
                    return (await planner.records, 0)
                }
            }
            switch cell.kind {
            case .null: disks.append(.null(size: cell.geometry.diskSize))
            case .raw: disks.append(.raw(path: prep.image, hostIO: cell.hostIO))
            case .qcow2: disks.append(.qcow2(path: prep.image, hostIO: cell.hostIO, cache: cell.cache, backing: prep.backing))
            }
        }
        let spec = group.cells[0].workload.guestSpec(diskSize: group.cells[0].geometry.diskSize, seed: seed)
        var failures = 0
        while !Task.isCancelled {
            guestNumber += 1
            let console = "\(work)/console-guest\(guestNumber).log"
            let socket = "\(work)/control-guest\(guestNumber).sock"
            defer {
                try? FileManager.default.removeItem(atPath: console)
                try? FileManager.default.removeItem(atPath: socket)
            }
            var command = QemuCommand(
                accel: context.accel.accel, kernel: context.kernel.vmlinuz, initrd: context.initramfs.path,
                kernelParameters: [spec.kernelParameter, "qcb.ctl=\(ControlProtocol.guestPort):\(disks.count)"] + context.extraKernelParameters,
                disks: disks, consolePath: console, controlSocket: socket)
            let tracer = trace == .off ? nil : SlotTracer(workDirectory: work, name: "guest\(guestNumber)")
            command.extraArguments = tracer?.argv ?? []
            await planner.startGuest(number: guestNumber, argv: command.argv)
            let mode = trace
            let outcome = await SharedGuestLauncher(logger: harness.logger).run(
                command, workDirectory: work, bootDeadline: context.bootGrace,
                booted: { await planner.guestBooted(millis: $0) },
                tracer: tracer, traced: { await planner.traced($0, mode: mode) },
                next: { await planner.next() },
                record: { outcome in try await planner.record(outcome) })
            if let tracer {
                if let problem = await tracer.problem {
                    harness.logger.warning("cache tracing failed; slots ran untraced", metadata: ["guest": "\(guestNumber)", "problem": "\(problem)"])
                }
                await tracer.finish()
            }
            qemuWall += outcome.wallSeconds
            guard let failure = outcome.failure else { break }
            if failure == "interrupted" || Task.isCancelled { break }
            failures += 1
            harness.logger.warning("shared guest failed", metadata: ["guest": "\(guestNumber)", "failure": "\(failure)"])
            await planner.guestFailed(outcome, retry: failures < maxGuestFailures)
            if failures >= maxGuestFailures { break }
        }
        return (await planner.records, qemuWall)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// The mutable side of one group's paired run: the queue of slots, the
/// block counter, and the records written so far.
actor SlotPlanner {
    let group: GuestGroup
    let groups: Int
    let seed: UInt64
    let budget: BlockBudget
    let log: ResultsLog
    let precision: PairedSession.Precision
    let progress: @Sendable (RunRecord, PairedProgress) -> Void
    let context: RunContext
    let started = ContinuousClock.now

    private(set) var records: [RunRecord] = []
    private(set) var sequence: Int
    private(set) var logError: OrchestratorError?
    private var history: [RunRecord]
    private var done: Set<RunKey>
    private var queue: [(disk: Int, block: Int, position: Int, attempt: Int)] = []
    private var block = 0
    private var blockStarted = ContinuousClock.now
    private var lastBlockSeconds: Double?
    private var nextID = 0
    private var inFlight: [Int: (disk: Int, block: Int, position: Int, attempt: Int)] = [:]
    private var guest = 0
    private var argv: [String] = []
    private var bootMillis: Int?
    private var stopped = false

    init(
        group: GuestGroup, groups: Int, seed: UInt64, budget: BlockBudget, previous: [RunRecord], firstSequence: Int,
        log: ResultsLog, context: RunContext, precision: @escaping PairedSession.Precision, progress: @escaping @Sendable (RunRecord, PairedProgress) -> Void
    ) {
        self.group = group
        self.groups = groups
        self.seed = seed
        self.budget = budget
        self.log = log
        self.context = context
        self.precision = precision
        self.progress = progress
        sequence = firstSequence
        history = previous
        done = Set(previous.filter { $0.status == .ok }.map { RunKey(cellID: $0.cellID, repetition: $0.repetition) })
    }

    func startGuest(number: Int, argv: [String]) {
        guest = number
        self.argv = argv
        bootMillis = nil
    }

    func guestBooted(millis: Int) { bootMillis = millis }

    /// Whether `slot`'s measured window is traced under `mode`.
    func traced(_ slot: SlotCommand, mode: TraceMode) -> Bool {
        inFlight[slot.id].map { mode.traces(block: $0.block) } ?? false
    }

    /// The next slot, or nil when the group is done.
    func next() -> SlotCommand? {
        guard !stopped, logError == nil else { return nil }
        if queue.isEmpty {
            if block > 0 { lastBlockSeconds = PairedSession.seconds(ContinuousClock.now - blockStarted) }
            guard let nextBlock = nextBlockNumber() else { return nil }
            block = nextBlock
            blockStarted = ContinuousClock.now
            for (position, disk) in group.order(block: block, seed: seed).enumerated()
            where !done.contains(RunKey(cellID: group.cells[disk].id, repetition: block)) {
                queue.append((disk, block, position, 1))
            }
            if queue.isEmpty { return next() }
        }
        let slot = queue.removeFirst()
        nextID += 1
        inFlight[nextID] = slot
        let cell = group.cells[slot.disk]
        return SlotCommand(
            id: nextID, disk: QemuCommand.serial(slot.disk),
            seed: group.slotSeed(disk: slot.disk, block: slot.block, seed: seed),
            spanBytes: cell.workload.span.bytes(of: cell.geometry.diskSize),
            warmupCapMillis: max(cell.workload.ramp.milliseconds, UInt32(SteadyState.minimumMillis) + 200),
            measureMillis: cell.workload.runtime.milliseconds)
    }

    /// Whether to run another block, and which: resumed blocks first.
    private func nextBlockNumber() -> Int? {
        let candidate = block + 1
        if candidate > budget.maxBlocks { return nil }
        let all = history + records
        if candidate > budget.minBlocks {
            if let target = budget.targetCI {
                if let widest = precision(all), widest <= target { return nil }
            } else {
                return nil
            }
            if let seconds = budget.seconds {
                let elapsed = PairedSession.seconds(ContinuousClock.now - started)
                if elapsed + (lastBlockSeconds ?? 0) > seconds { return nil }
            }
        }
        return candidate
    }

    func record(_ outcome: SlotOutcome) throws(OrchestratorError) {
        guard let slot = inFlight.removeValue(forKey: outcome.command.id) else { return }
        let cell = group.cells[slot.disk]
        var result: GuestResult?
        if let r = outcome.result {
            var spec = cell.workload.guestSpec(diskSize: cell.geometry.diskSize, seed: outcome.command.seed)
            spec.device = outcome.command.disk
            spec.rampMillis = UInt32(clamping: r.warmupMillis)
            var g = GuestResult(
                driver: "native", ops: r.ops, seconds: r.seconds, iops: r.iops,
                mibPerSecond: Double(r.ops) * Double(cell.workload.blockSize.bytes) / 1_048_576 / r.seconds,
                latency: r.latency, perSecondOps: r.perSecondOps, ioErrors: r.ioErrors, firstError: r.firstError,
                bootToFirstIOMillis: 0, deviceBytes: cell.geometry.diskSize.bytes, spec: spec)
            g.phases = nil
            result = g
        }
        let failed = outcome.failure != nil || result == nil
        var record = RunRecord(
            cell: cell, repetition: slot.block, sequence: sequence, attempt: slot.attempt, status: failed ? .failed : .ok,
            failure: outcome.failure, result: result, provenance: provenance(), prepSeconds: 0,
            wallSeconds: Double(outcome.result?.warmupMillis ?? 0) / 1000 + (outcome.result?.seconds ?? 0))
        record.hostBootMillis = bootMillis
        record.slot = SlotInfo(
            guest: guest, group: group.id, block: slot.block, position: slot.position, disk: outcome.command.disk,
            warmupMillis: Int(outcome.result?.warmupMillis ?? 0), settled: outcome.result?.settled ?? false,
            host: outcome.noise, submitCalls: outcome.result?.submitCalls, submitted: outcome.result?.submitted,
            targetCI: budget.targetCI)
        record.slot?.cache = outcome.cache
        try append(record)
        if failed, slot.attempt == 1 { queue.insert((slot.disk, slot.block, slot.position, 2), at: 0) }
        if !failed { done.insert(RunKey(cellID: cell.id, repetition: slot.block)) }
    }

    /// The guest died: the slot it was running is a failed record, tried once more.
    func guestFailed(_ outcome: SharedGuestOutcome, retry: Bool) {
        guard let command = outcome.interruptedSlot, let slot = inFlight.removeValue(forKey: command.id) else { return }
        let cell = group.cells[slot.disk]
        var record = RunRecord(
            cell: cell, repetition: slot.block, sequence: sequence, attempt: slot.attempt, status: .failed,
            failure: outcome.failure, consoleTail: outcome.consoleTail, stderrTail: outcome.stderrTail, result: nil,
            provenance: provenance(), prepSeconds: 0, wallSeconds: 0)
        record.slot = SlotInfo(
            guest: guest, group: group.id, block: slot.block, position: slot.position, disk: command.disk, warmupMillis: 0, settled: false)
        try? append(record)
        if retry && slot.attempt == 1 { queue.insert((slot.disk, slot.block, slot.position, 2), at: 0) }
    }

    /// Image preparation failed: one failed record per cell, nothing runs.
    func groupFailed(_ why: String) {
        stopped = true
        for cell in group.cells {
            let record = RunRecord(
                cell: cell, repetition: 1, sequence: sequence, status: .failed, failure: why, result: nil,
                provenance: provenance(), prepSeconds: 0, wallSeconds: 0)
            try? append(record)
        }
    }

    private func append(_ record: RunRecord) throws(OrchestratorError) {
        do { try log.append(record) } catch {
            logError = error
            stopped = true
            throw error
        }
        sequence += 1
        records.append(record)
        let state = PairedProgress(
            group: group.id, groups: groups, block: record.repetition, position: record.slot?.position ?? 0,
            cellsPerBlock: group.cells.count, guest: guest,
            elapsedSeconds: PairedSession.seconds(ContinuousClock.now - started), plannedBlocks: budget.minBlocks)
        progress(record, state)
    }

    private func provenance() -> Provenance {
        let c = context
        return Provenance(
            qemuVersion: c.host.qemuVersion, accel: c.accel.accel, accelReason: c.accel.reason, guestKernel: c.kernel.version,
            hostCPU: c.host.hostCPU, hostKernel: c.host.hostKernel, imageFilesystem: c.imageFilesystem,
            gitRevision: c.host.gitRevision, matrixName: c.matrixName, matrixHash: c.matrixHash, seed: c.seed,
            startedAt: BenchRunner.timestamp(), qemuCommandLine: argv)
    }
}
