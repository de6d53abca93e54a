import BenchResults
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
    public var maxBlocks: Int
    public var targetCI: Double?
    /// Wall seconds the group may still use (nil: no budget).
    public var budgetSeconds: Double?
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
    ) async throws(OrchestratorError) -> (records: [RunRecord], qemuWallSeconds: Double, removalSeconds: Double) {
        let log: ResultsLog
        do { log = try ResultsLog(path: resultsPath) } catch { throw .records(error) }
        var all: [RunRecord] = []
        var qemuWall = 0.0
        var removal = 0.0
        let sequence = SequenceCounter(next: firstSequence)
        let guests = GuestCounter(last: previous.compactMap { $0.slot?.guest }.max() ?? 0)
        let started = ContinuousClock.now
        let families = GuestGroup.families(groups)
        var groupsLeft = groups.count
        for family in families {
            if Task.isCancelled { break }
            let remaining = budget.seconds.map { max(0, $0 - Self.seconds(ContinuousClock.now - started)) }
            var groupBudget = budget
            // A family's share is its groups' shares: its guests take turns.
            groupBudget.seconds = remaining.map { $0 / Double(groupsLeft) * Double(family.count) }
            groupsLeft -= family.count
            var planners: [SlotPlanner] = []
            for group in family {
                let planner = SlotPlanner(
                    group: group, groups: groups.count, seed: seed, budget: groupBudget,
                    previous: previous.filter { $0.slot?.group == group.id }, sequence: sequence, log: log,
                    context: harness.context, precision: precision, progress: progress)
                planners.append(planner)
            }
            let outcomes: [GroupOutcome]
            if family.count == 1 {
                outcomes = [await runGroup(family[0], planner: planners[0], guests: guests, turn: nil)]
            } else {
                // One guest per build per block, in a shuffled build order
                // per block; images are removed only when every build is
                // done, so no removal competes with another build's guest.
                let turns = BuildTurns(members: family.count, seed: seed ^ UInt64(family[0].id))
                let members = Array(zip(family, planners))
                let runs = members.indices.map { i in
                    let (group, planner) = members[i]
                    return Task { [self] () async -> GroupOutcome in
                        let outcome = await runGroup(group, planner: planner, guests: guests, turn: BuildTurn(turns: turns, member: i))
                        await turns.finish(i)
                        return outcome
                    }
                }
                outcomes = await withTaskCancellationHandler {
                    var out: [GroupOutcome] = []
                    for r in runs { out.append(await r.value) }
                    return out
                } onCancel: {
                    for r in runs { r.cancel() }
                }
            }
            removal += await ImageRemoval.remove(outcomes.flatMap(\.files))
            for (planner, outcome) in zip(planners, outcomes) {
                if let error = await planner.logError { throw error }
                all += outcome.records
                qemuWall += outcome.qemuWallSeconds
            }
        }
        return (all.sorted { $0.sequence < $1.sequence }, qemuWall, removal)
    }

    /// Runs `argv` steps; the first failure as text.
    func prepare(_ steps: [ImagePreparation.ImageCommand]) async -> String? {
        for step in steps {
            do {
                let out = try await ToolRunner.run(step.argv)
                if !out.succeeded {
                    return "\(OrchestratorError.toolFailed(argv: step.argv, status: GuestLauncher.describe(out.status), stderr: out.stderr))"
                }
            } catch {
                return "\(error)"
            }
        }
        return nil
    }

    static func disk(_ cell: Cell, image: String, backing: String?) -> GuestDisk {
        switch cell.kind {
        case .null: .null(size: cell.geometry.diskSize)
        case .raw: .raw(path: image, hostIO: cell.hostIO)
        case .qcow2: .qcow2(path: image, hostIO: cell.hostIO, cache: cell.cache, backing: backing)
        }
    }

    /// Most disks one guest gets (PCI slots on QEMU's default machine, with room to spare).
    static let maxDisks = 24
    /// Blocks per guest when some cells need a fresh image per slot.
    static let blocksPerBatch = 4

    /// Blocks per guest for a build of a family: one, so every block pairs
    /// the builds as closely in time as the cells within a guest (a boot
    /// costs about 2 s of host time under TCG; `README`, A/B section).
    static let blocksPerBuildGuest = 1

    /// What a group's run leaves: its records, QEMU's wall time, and the
    /// image files the caller removes (after every build of a family ran).
    struct GroupOutcome: Sendable {
        var records: [RunRecord]
        var qemuWallSeconds: Double
        var files: [String]
    }

    /// Runs one group's guests. With `turn` (a build of a family), each
    /// guest runs `blocksPerBuildGuest` blocks and boots only when the
    /// family's turn order says so; images stay until the caller removes
    /// them (`GroupOutcome.files`).
    func runGroup(_ group: GuestGroup, planner: SlotPlanner, guests: GuestCounter, turn: BuildTurn?) async -> GroupOutcome {
        var qemuWall = 0.0
        let context = harness.context
        let work = harness.workDirectory.path
        // Images that writes do not change are made once per group and kept
        // for every guest; a cell whose image changes when written gets one
        // image per block, made before the guest of its batch of blocks
        // boots and removed after it (an overlay's backing file is shared).
        var fixed: [Int: Int] = [:]
        var disks: [GuestDisk] = []
        var files: [String] = []
        let qemuImg = context.qemuImg(for: group.cells[0])
        var perSlot: [Int] = []
        var backings: [Int: String] = [:]
        for (i, cell) in group.cells.enumerated() {
            let prep = ImagePreparation(cell: cell, base: "\(work)/g\(group.id)-d\(i)", qemuImg: qemuImg)
            if Isolation.needsImagePerSlot(cell) {
                perSlot.append(i)
                if let b = prep.backing {
                    // Only the backing file: each block gets its own overlay on it.
                    files.append(b)
                    if let failure = await prepare(Array(prep.commands.dropLast())) {
                        await planner.groupFailed("image preparation failed for \(cell.id): \(failure)")
                        return GroupOutcome(records: await planner.records, qemuWallSeconds: 0, files: files)
                    }
                    backings[i] = b
                }
                continue
            }
            files += cell.kind == .null ? [] : prep.files
            if let failure = await prepare(prep.commands) {
                await planner.groupFailed("image preparation failed for \(cell.id): \(failure)")
                return GroupOutcome(records: await planner.records, qemuWallSeconds: 0, files: files)
            }
            fixed[i] = disks.count
            disks.append(Self.disk(cell, image: prep.image, backing: prep.backing))
        }
        let batched = !perSlot.isEmpty || turn != nil
        let batch = perSlot.isEmpty
            ? (turn == nil ? Int.max : Self.blocksPerBuildGuest)
            : max(1, min(turn == nil ? Self.blocksPerBatch : Self.blocksPerBuildGuest, (Self.maxDisks - disks.count) / perSlot.count))
        let spec = group.cells[0].workload.guestSpec(diskSize: group.cells[0].geometry.diskSize, seed: seed)
        var failures = 0
        var batchFirst = 0
        var newBatch = true
        var batchFiles: [String] = []
        while !Task.isCancelled {
            // A new batch when the last one is used up (or on the first
            // pass); after a failed guest the same batch again, with its
            // per-slot images made anew.
            var guestDisks = disks
            var slotDisks: [Int: [Int: Int]] = [:]
            if batched {
                if newBatch {
                    guard let first = await planner.nextBatchStart() else { break }
                    batchFirst = first
                    await turn?.acquire(batch: first)
                    if Task.isCancelled { break }
                }
                let first = batchFirst
                await ImageRemoval.remove(batchFiles)
                batchFiles = []
                for block in first..<(first + (perSlot.isEmpty ? 0 : batch)) {
                    for i in perSlot {
                        let cell = group.cells[i]
                        let image = "\(work)/g\(group.id)-d\(i)-b\(block).qcow2"
                        let step = ImagePreparation.ImageCommand.create(
                            QemuImgCreate(qemuImg: qemuImg, path: image, kind: .qcow2, state: .fresh, geometry: cell.geometry, backingFile: backings[i]))
                        batchFiles.append(image)
                        if let failure = await prepare([step]) {
                            await planner.groupFailed("image preparation failed for \(cell.id): \(failure)")
                            return GroupOutcome(records: await planner.records, qemuWallSeconds: qemuWall, files: files + batchFiles)
                        }
                        slotDisks[i, default: [:]][block] = guestDisks.count
                        guestDisks.append(Self.disk(cell, image: image, backing: backings[i]))
                    }
                }
                await planner.beginBatch(first: first, size: batch)
            }
            let guestNumber = await guests.next()
            let console = "\(work)/console-guest\(guestNumber).log"
            let socket = "\(work)/control-guest\(guestNumber).sock"
            defer {
                try? FileManager.default.removeItem(atPath: console)
                try? FileManager.default.removeItem(atPath: socket)
            }
            var command = QemuCommand(
                accel: context.accel.accel, kernel: context.kernel.vmlinuz, initrd: context.initramfs.path,
                kernelParameters: [spec.kernelParameter, "qcb.ctl=\(ControlProtocol.guestPort):\(guestDisks.count)"] + context.extraKernelParameters,
                disks: guestDisks, consolePath: console, controlSocket: socket)
            command.qemu = context.qemu(for: group.cells[0])
            let tracer = trace == .off ? nil : SlotTracer(workDirectory: work, name: "guest\(guestNumber)")
            command.extraArguments = tracer?.argv ?? []
            await planner.startGuest(number: guestNumber, argv: command.argv, fixed: fixed, perBlock: slotDisks)
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
            if let failure = outcome.failure {
                if failure == "interrupted" || Task.isCancelled { break }
                failures += 1
                harness.logger.warning("shared guest failed", metadata: ["guest": "\(guestNumber)", "failure": "\(failure)"])
                await planner.guestFailed(outcome, retry: failures < maxGuestFailures)
                if failures >= maxGuestFailures { break }
                newBatch = false
                continue
            }
            if !batched { break }
            newBatch = true
            await turn?.release()
        }
        return GroupOutcome(records: await planner.records, qemuWallSeconds: qemuWall, files: files + batchFiles)
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
    /// Shared by every planner of a run: sequence numbers stay unique when
    /// the guests of several builds take turns.
    let sequence: SequenceCounter
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
    /// Disk index in the running guest: per cell, or per cell and block.
    private var fixedDisk: [Int: Int] = [:]
    private var perBlockDisk: [Int: [Int: Int]] = [:]
    private var batchEnd = Int.max

    init(
        group: GuestGroup, groups: Int, seed: UInt64, budget: BlockBudget, previous: [RunRecord], sequence: SequenceCounter,
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
        self.sequence = sequence
        history = previous
        done = Set(previous.filter { $0.status == .ok }.map { RunKey(cellID: $0.cellID, repetition: $0.repetition) })
    }

    func startGuest(number: Int, argv: [String], fixed: [Int: Int], perBlock: [Int: [Int: Int]]) {
        guest = number
        self.argv = argv
        bootMillis = nil
        fixedDisk = fixed
        perBlockDisk = perBlock
    }

    /// The first block of the next batch, or nil when the run needs no more blocks.
    func nextBatchStart() -> Int? {
        if stopped || logError != nil { return nil }
        return shouldRun(block: following) ? following : nil
    }

    /// Limits `next()` to blocks `first..<first+size`; a batch run again
    /// after a failed guest starts over at its first block (finished slots
    /// are skipped).
    func beginBatch(first: Int, size: Int) {
        batchEnd = first + (size - 1) * budget.blockStride
        if first <= block {
            // Redo: requeue the batch's unfinished slots from its first block.
            block = first - budget.blockStride
            queue.removeAll()
        }
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
        guard let index = perBlockDisk[slot.disk]?[slot.block] ?? fixedDisk[slot.disk] else { return nil }
        return SlotCommand(
            id: nextID, disk: QemuCommand.serial(index),
            seed: group.slotSeed(disk: slot.disk, block: slot.block, seed: seed),
            spanBytes: cell.workload.span.bytes(of: cell.geometry.diskSize),
            warmupCapMillis: max(cell.workload.ramp.milliseconds, UInt32(SteadyState.minimumMillis) + 200),
            measureMillis: cell.workload.runtime.milliseconds, driver: cell.workload.driver)
    }

    /// Whether to run another block, and which: resumed blocks first.
    private func nextBlockNumber() -> Int? {
        let candidate = following
        if candidate > batchEnd { return nil }
        return shouldRun(block: candidate) ? candidate : nil
    }

    /// The block after the last one started: this shard's blocks are
    /// `firstBlock`, `firstBlock + blockStride`, ….
    private var following: Int { block < budget.firstBlock ? budget.firstBlock : block + budget.blockStride }

    private func shouldRun(block number: Int) -> Bool {
        // Counted in this shard's blocks: the candidate is its `count`th.
        let candidate = (number - budget.firstBlock) / budget.blockStride + 1
        if candidate > budget.maxBlocks { return false }
        let all = history + records
        if candidate > budget.minBlocks {
            if let target = budget.targetCI {
                if let widest = precision(all), widest <= target { return false }
            } else {
                return false
            }
            if let seconds = budget.seconds {
                // The images must be removed within the budget too, and that
                // grows with the images' extents (`removalSecondsPerExtent`),
                // projected to the end of the candidate block.
                let elapsed = PairedSession.seconds(ContinuousClock.now - started)
                let scale = candidate > 1 ? Double(candidate) / Double(candidate - 1) : 1
                let removal = ImageRemoval.extents(in: all.filter { $0.slot?.group == group.id }, scale: scale) * budget.removalSecondsPerExtent
                if elapsed + (lastBlockSeconds ?? 0) + removal > seconds { return false }
            }
        }
        return true
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
                driver: cell.workload.driver.rawValue, ops: r.ops, seconds: r.seconds, iops: r.iops,
                mibPerSecond: Double(r.ops) * Double(cell.workload.blockSize.bytes) / 1_048_576 / r.seconds,
                latency: r.latency, perSecondOps: r.perSecondOps, ioErrors: r.ioErrors, firstError: r.firstError,
                bootToFirstIOMillis: 0, deviceBytes: cell.geometry.diskSize.bytes, spec: spec)
            g.phases = nil
            result = g
        }
        let failed = outcome.failure != nil || result == nil
        var record = RunRecord(
            cell: cell, repetition: slot.block, sequence: 0, attempt: slot.attempt, status: failed ? .failed : .ok,
            failure: outcome.failure, result: result, provenance: provenance(), prepSeconds: 0,
            wallSeconds: Double(outcome.result?.warmupMillis ?? 0) / 1000 + (outcome.result?.seconds ?? 0))
        record.hostBootMillis = bootMillis
        record.slot = SlotInfo(
            guest: guest, group: group.id, block: slot.block, position: slot.position, disk: outcome.command.disk,
            warmupMillis: Int(outcome.result?.warmupMillis ?? 0), settled: outcome.result?.settled ?? false,
            host: outcome.noise, submitCalls: outcome.result?.submitCalls, submitted: outcome.result?.submitted,
            targetCI: budget.targetCI)
        record.slot?.cache = outcome.cache
        record.slot?.blockingWaits = outcome.result?.blockingWaits
        record.slot?.waitMillis = outcome.result?.waitMillis
        record.slot?.interrupts = outcome.result?.interrupts
        try append(record)
        if failed, slot.attempt == 1 { queue.insert((slot.disk, slot.block, slot.position, 2), at: 0) }
        if !failed { done.insert(RunKey(cellID: cell.id, repetition: slot.block)) }
    }

    /// The guest died: the slot it was running is a failed record, tried once more.
    func guestFailed(_ outcome: SharedGuestOutcome, retry: Bool) {
        guard let command = outcome.interruptedSlot, let slot = inFlight.removeValue(forKey: command.id) else { return }
        let cell = group.cells[slot.disk]
        var record = RunRecord(
            cell: cell, repetition: slot.block, sequence: 0, attempt: slot.attempt, status: .failed,
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
                cell: cell, repetition: 1, sequence: 0, status: .failed, failure: why, result: nil,
                provenance: provenance(), prepSeconds: 0, wallSeconds: 0)
            try? append(record)
        }
    }

    private func append(_ new: RunRecord) throws(OrchestratorError) {
        let record: RunRecord
        do { record = try sequence.append(new, to: log) } catch {
            logError = .records(error)
            stopped = true
            throw .records(error)
        }
        records.append(record)
        let state = PairedProgress(
            group: group.id, groups: groups, block: record.repetition, position: record.slot?.position ?? 0,
            cellsPerBlock: group.cells.count, guest: guest,
            elapsedSeconds: PairedSession.seconds(ContinuousClock.now - started), plannedBlocks: budget.minBlocks,
            maxBlocks: budget.maxBlocks, targetCI: budget.targetCI, budgetSeconds: budget.seconds)
        progress(record, state)
    }

    private func provenance() -> Provenance {
        context.provenance(for: group.cells[0], argv: argv)
    }
}

/// Numbers guests across the groups of a run (records name their guest).
actor GuestCounter {
    private var last: Int
    init(last: Int) { self.last = last }
    func next() -> Int {
        last += 1
        return last
    }
}

/// Hands out sequence numbers and appends records under one lock: the
/// planners of a family's builds share one results log.
final class SequenceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next: Int
    init(next: Int) { self.next = next }

    func append(_ record: RunRecord, to log: ResultsLog) throws(RecordsError) -> RunRecord {
        lock.lock()
        defer { lock.unlock() }
        var r = record
        r.sequence = next
        try log.append(r)
        next += 1
        return r
    }
}

/// Which build's guest may run: the builds of a family take turns, batch
/// by batch, in an order shuffled per batch (seeded). A turn is granted
/// only when every unfinished build is waiting for one, so builds never
/// overlap, image preparation never runs beside a measurement, and a
/// build that stops early (`finish`) is skipped from then on.
actor BuildTurns {
    let members: Int
    let seed: UInt64
    private var waiting: [Int: (batch: Int, resume: CheckedContinuation<Void, Never>)] = [:]
    private var finished: Set<Int> = []
    private var holder: Int?

    init(members: Int, seed: UInt64) {
        self.members = members
        self.seed = seed
    }

    func acquire(member: Int, batch: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            waiting[member] = (batch, c)
            grant()
        }
    }

    func release(member: Int) {
        if holder == member { holder = nil }
        grant()
    }

    func finish(_ member: Int) {
        finished.insert(member)
        if holder == member { holder = nil }
        if let w = waiting.removeValue(forKey: member) { w.resume.resume() }
        grant()
    }

    private func grant() {
        guard holder == nil, !waiting.isEmpty, waiting.count >= members - finished.count else { return }
        let pick = waiting.min { a, b in
            if a.value.batch != b.value.batch { return a.value.batch < b.value.batch }
            let order = GuestGroup.buildOrder(batch: a.value.batch, builds: members, seed: seed)
            return (order.firstIndex(of: a.key) ?? 0) < (order.firstIndex(of: b.key) ?? 0)
        }
        guard let (member, w) = pick else { return }
        waiting.removeValue(forKey: member)
        holder = member
        w.resume.resume()
    }
}

/// One build's handle on its family's `BuildTurns`.
struct BuildTurn: Sendable {
    let turns: BuildTurns
    let member: Int
    func acquire(batch: Int) async { await turns.acquire(member: member, batch: batch) }
    func release() async { await turns.release(member: member) }
}

/// Removing images is part of a run's wall time, and on ext4 it grows with
/// the random writes they took: each 4 KiB write into a sparse image is an
/// extent to free. Measured here: 200,000 random 4 KiB writes into a 16 GiB
/// sparse file took 9.6–22.7 s to unlink alone and about 42 µs per write
/// with two files unlinked at once, so images are removed in parallel; the
/// default matrix's five 16 GiB images after 1.9 million writes took about
/// 50 s (26 µs per write) on a quiet host, and 130 s after 0.97 million
/// under CPU steal (134 µs), so budgets use `RemovalProbe`'s figure.
///
/// The cost follows the extents an image has, not its writes: once writes
/// start landing next to earlier ones they join extents instead of making
/// new ones. Counted per write, a 46-block run (16.8 million writes, about
/// 4.4 million extents by `expectedExtents`) was projected at 87 µs each,
/// 24 minutes, and took 214 s: the budget stopped it at half its time.
public enum ImageRemoval {
    /// Budget estimate per extent in the images (parallel removal) when the
    /// probe could not run.
    public static let quietHostSecondsPerExtent = 30e-6

    /// Extents that `writes` uniform random writes leave in a sparse file of
    /// `blocks` equal blocks: they touch a share p = 1 - e^(-writes/blocks)
    /// of the blocks, in about blocks * p * (1 - p) separate runs. About
    /// one per write while the file is sparse, far fewer once it is dense.
    public static func expectedExtents(writes: Double, blocks: Double) -> Double {
        guard writes > 0, blocks >= 1 else { return 0 }
        let touched = -expm1(-writes / blocks)
        return min(writes, blocks * touched * (1 - touched))
    }

    /// Extents the qcow2 and raw images of `records`' shared-guest slots
    /// hold, with each image's writes scaled by `scale` (a projection
    /// `scale` times further on). An image is a cell's, kept for its
    /// group, or a slot's own when the cell needs one per slot.
    public static func extents(in records: [RunRecord], scale: Double = 1) -> Double {
        var images: [String: (writes: Double, blocks: Double)] = [:]
        for r in records where r.cell.kind != .null {
            guard let slot = r.slot, let w = slotWrites(r) else { continue }
            let key = Isolation.needsImagePerSlot(r.cell) ? "slot \(r.sequence)" : "\(slot.group) \(r.cellID)"
            let blocks = Double(r.cell.workload.span.bytes(of: r.cell.geometry.diskSize)) / Double(max(1, r.cell.workload.blockSize.bytes))
            images[key, default: (0, blocks)].writes += w
        }
        return images.values.reduce(0) { $0 + expectedExtents(writes: $1.writes * scale, blocks: $1.blocks) }
    }

    /// A slot's writes, warm-up included at the window's rate.
    static func slotWrites(_ r: RunRecord) -> Double? {
        guard let res = r.result, res.seconds > 0 else { return nil }
        return Double(res.ops) * (1 + Double(r.slot?.warmupMillis ?? 0) / 1000 / res.seconds)
    }

    /// Writes the qcow2 and raw images of `records`' shared-guest slots
    /// took, warm-up included at the window's rate: what removing them frees.
    public static func writes(in records: [RunRecord]) -> Double {
        records.filter { $0.cell.kind != .null && $0.slot != nil }.compactMap(slotWrites).reduce(0, +)
    }

    /// Removes `files` in parallel; the wall seconds it took.
    @discardableResult
    static func remove(_ files: [String]) async -> Double {
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for f in files {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        // A blocking unlink: off the cooperative pool.
                        Thread.detachNewThread {
                            try? FileManager.default.removeItem(atPath: f)
                            done.resume()
                        }
                    }
                }
            }
        }
        return PairedSession.seconds(ContinuousClock.now - start)
    }
}
