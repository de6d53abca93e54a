import BenchResults
import ArgumentParser
import BenchSpec
import Foundation
import GuestWire
import Orchestrator
import Qcow2Geometry
import Reporting

/// `bench calibrate`: is the guest driver the bottleneck, and does it agree
/// with fio? Runs the native driver and fio alternately on the same disks and
/// prints both, their ratio, and what a run costs besides measuring.
struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Compare the native guest driver with fio: on null-co (the ceiling) and a full-coverage qcow2, or over a 3-cell L2 sweep.",
        discussion: """
            By default one guest holds every disk twice (a disk per driver, same image settings) and runs blocks: each \
            block measures every disk with both drivers once, in a shuffled order, so native/fio is paired inside one \
            guest and one minute of the machine (a t interval on the per-block log ratios). The native driver's warm-up \
            ends when IOPS are steady; fio's is its fixed ramp_time (--ramp, at least 0.5 s), judged for steadiness \
            afterwards. --isolation guest-per-run boots a guest for every run instead, alternating native, fio, ..., and \
            pairs by repetition; it also shows what a boot costs each driver. The share of the measured window QEMU's \
            vCPU thread ran is shown: near 100% the guest's one CPU, not the storage, sets the driver's pace.

            Default: a null-co disk and a 1G preallocated qcow2 with the default (full-coverage) L2 cache.

            --sweep: a 16G preallocated qcow2 with l2-cache-size 128K, 1M and default (low, mid and full \
            coverage) and a 16G null-co disk, to check that both drivers see the same direction and knee, \
            and whether either is bound by its own ceiling (its null-co figure) instead of by qcow2.

            fio comes from the host (apt-get install fio); its initramfs is built once and cached.
            """)

    @Option(help: "Runs per driver and disk: blocks of the shared guest, or guests (at least 2, for a spread).") var runs = 3
    @Option(help: "Measured time per run.") var runtime = "4s"
    @Option(help: "Warm-up before measuring.") var ramp = "1s"
    @Flag(help: "Run the 3-cell L2 coverage sweep (plus null-co) on a 16G image instead.") var sweep = false
    @Option(help: "Seed of the offset generators.") var seed: UInt64 = 1
    @Option(
        help: ArgumentHelp(
            "shared: every disk with both drivers in one guest, paired block by block; guest-per-run: a guest for each run.",
            valueName: "shared|guest-per-run"))
    var isolation = Isolation.shared.rawValue
    @Option(
        help: ArgumentHelp(
            "Shared guest only: which blocks QEMU's cache events are traced for (misses per write and miss read time per driver); sampled traces blocks 2, 6, 10, ...",
            valueName: TraceMode.allCases.map(\.rawValue).joined(separator: "|")))
    var trace = Pairing.defaultTrace.rawValue
    @Option(help: ArgumentHelp("Also append every run's record to this file as the run ends (JSON lines, as results.jsonl).", valueName: "file"))
    var records: String?
    @Option(
        help: ArgumentHelp(
            "Measure nothing: print the calibration of a file that --records wrote, again, from its records alone.", valueName: "file"))
    var from: String?
    @OptionGroup var guest: GuestOptions
    @OptionGroup var qemuBuilds: QemuBuildOptions

    static let runRange = 2...100

    func workload() throws -> Workload {
        Workload(
            ramp: try parsed { () throws(InvalidValue) in try TimeSpan(parsing: ramp, field: "--ramp", allowZero: true) },
            runtime: try parsed { () throws(InvalidValue) in try TimeSpan(parsing: runtime, field: "--runtime") })
    }

    var shared: Bool { isolation == Isolation.shared.rawValue }

    func validate() throws {
        guard Isolation(rawValue: isolation) != nil else {
            throw ValidationError(InvalidValue(field: "--isolation", value: isolation, rule: "must be one of: shared, guest-per-run").description)
        }
        guard TraceMode(rawValue: trace) != nil else {
            throw ValidationError(
                InvalidValue(field: "--trace", value: trace, rule: "must be one of: \(TraceMode.allCases.map(\.rawValue).joined(separator: ", "))").description)
        }
        if !Self.runRange.contains(runs) {
            throw ValidationError(
                InvalidValue(field: "--runs", value: "\(runs)", rule: "must be from \(Self.runRange.lowerBound) to \(Self.runRange.upperBound)")
                    .description)
        }
        let cells = cells(try workload(), build: try qemuBuilds.single(command: "calibrate"))
        for cell in cells { try parsed { () throws(InvalidValue) in try cell.validate(spelling: .commandLine) } }
        if let refusal = DiskFootprint.refusal(cells: cells, diskField: "--sweep") { throw ValidationError(refusal) }
    }

    /// The disks measured, native workload; each is also run with fio.
    func cells(_ w: Workload, build: String) -> [Cell] {
        cells(w).map { c in
            var c = c
            c.build = build
            return c
        }
    }

    func cells(_ w: Workload) -> [Cell] {
        if sweep {
            // null-co first: each driver's own ceiling, so a driver that
            // cannot go faster than the cells shows it (`ceilingText`).
            let g = ImageGeometry(diskSize: .gib(16))
            return [Cell(kind: .null, geometry: g, workload: w)]
                + [Setting.value(ByteSize.kib(128)), .value(.mib(1)), .default].map {
                    Cell(kind: .qcow2, state: .preallocated, geometry: g, cache: CacheConfig(l2CacheSize: $0), workload: w)
                }
        }
        return [
            Cell(kind: .null, geometry: ImageGeometry(diskSize: .gib(1)), workload: w),
            Cell(kind: .qcow2, state: .preallocated, geometry: ImageGeometry(diskSize: .gib(1)), workload: w),
        ]
    }

    func run() async throws {
        if let from {
            let saved: [RunRecord]
            do { saved = try ResultsLog.read(path: from) } catch { throw fail("--from: \(error)", code: 2) }
            guard let report = Calibration(records: saved) else {
                throw fail("--from: \(from) has no calibration records (successful native and fio runs on the same disks)", code: 2)
            }
            print(report.text(wallSeconds: nil))
            return
        }
        let native = try workload()
        var fio = native
        fio.driver = .fio
        let build = try qemuBuilds.single(command: "calibrate")
        let disks = cells(native, build: build)
        let progress = ProgressReporter()

        // Set up before the records file is opened: bad input writes nothing.
        let builds = try await qemuBuilds.resolve([build])
        let harnesses = try await HarnessSetup.start(
            guest: guest, name: "calibrate", hash: "-", seed: seed, drivers: [.native, .fio], builds: builds)
        guard let base = harnesses[.native], let fioHarness = harnesses[.fio] else { throw fail("internal: no harness", code: 1) }
        let harness = base
        let log: ResultsLog?
        do { log = try records.map { (path) throws(RecordsError) in try ResultsLog(path: path) } } catch {
            harness.shutdown()
            throw fail(error.description, code: 2)
        }
        let started = ContinuousClock.now
        let outcome: Outcome
        do {
            outcome = shared
                ? try await runShared(disks, fio: fio, harness: fioHarness, log: log, progress: progress)
                : await runGuestPerRun(disks, fio: fio, runners: [.native: base.runner, .fio: fioHarness.runner], log: log, progress: progress)
        } catch {
            harness.shutdown()
            throw fail("\(error)", code: 1)
        }
        let finished = outcome.records
        harness.shutdown()
        let wall = ContinuousClock.now - started

        var report = Calibration(
            disks: disks, records: finished, workload: native, runs: runs, accel: harness.context.accel.accel.rawValue, sweep: sweep)
        report.qemuWallSeconds = outcome.qemuWallSeconds
        print(report.text(wallSeconds: wall.inSeconds))
        if outcome.cancelled || Interrupts.interrupted { throw ExitCode(130) }
        // A shared guest tries a failed slot once more: only a missing success fails.
        if finished.filter({ $0.status == .ok }).count < outcome.planned { throw ExitCode(1) }
    }

    /// What either way of running the calibration leaves.
    struct Outcome {
        var records: [RunRecord]
        /// Runs (or slots) that must succeed.
        var planned: Int
        /// QEMU start to exit of the shared guest; nil for guests per run.
        var qemuWallSeconds: Double?
        var cancelled: Bool
    }

    /// Appends a finished run to `--records` before the next one starts.
    static func keep(_ record: RunRecord, in log: ResultsLog?, progress: ProgressReporter) {
        guard let log else { return }
        do { try log.append(record) } catch { progress.note("warning: \(error)") }
    }

    /// Every disk twice (native, fio), one disk each, in one guest booted
    /// from the fio initramfs (which carries the native driver too), for
    /// `runs` blocks.
    ///
    /// Each slot's record reaches `log` as the slot ends, so a guest that
    /// fails later, or Ctrl-C, loses none of the finished ones.
    func runShared(_ disks: [Cell], fio: Workload, harness: Harness, log: ResultsLog?, progress: ProgressReporter) async throws -> Outcome {
        let cells = disks.flatMap { d -> [Cell] in
            var f = d
            f.workload = fio
            return [d, f]
        }
        let labels = CellLabels(cells: cells)
        progress.note(
            "calibrate: \(disks.count) disks x 2 drivers in one guest, \(runs) blocks of \(cells.count) slots in a shuffled order, accel \(harness.context.accel.accel)")
        let directory = harness.workDirectory.path + "/calibrate"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var session = PairedSession(
            harness: harness, outputDirectory: directory, seed: seed,
            budget: BlockBudget(minBlocks: runs, maxBlocks: runs, targetCI: nil, seconds: nil))
        session.trace = TraceMode(rawValue: trace) ?? Pairing.defaultTrace
        let paired = session
        let task = Task { () async throws -> (records: [RunRecord], qemuWallSeconds: Double, removalSeconds: Double) in
            try await paired.run(
                [GuestGroup(id: 1, cells: cells)], previous: [], firstSequence: 0, precision: { _ in nil },
                progress: { record, state in
                    Self.keep(record, in: log, progress: progress)
                    progress.slotFinished(record, state: state, label: labels.label(record.cellID), widestCI: nil)
                })
        }
        Interrupts.install { task.cancel() }
        let r = try await task.value
        return Outcome(records: r.records, planned: cells.count * runs, qemuWallSeconds: r.qemuWallSeconds, cancelled: task.isCancelled)
    }

    /// A guest for every run, alternating: for each repetition, each disk,
    /// native then fio.
    func runGuestPerRun(
        _ disks: [Cell], fio: Workload, runners: [GuestDriver: BenchRunner], log: ResultsLog?, progress: ProgressReporter
    ) async -> Outcome {
        var order: [(driver: GuestDriver, cell: Cell, repetition: Int)] = []
        for rep in 1...runs {
            for disk in disks {
                var f = disk
                f.workload = fio
                order.append((.native, disk, rep))
                order.append((.fio, f, rep))
            }
        }
        let plan = order
        // Short names ("L2 128K · fio"): only what varies among the runs.
        let labels = CellLabels(cells: plan.map(\.cell))
        progress.note(
            "calibrate: \(disks.count) disks x 2 drivers x \(runs) runs = \(plan.count) runs, a guest each, accel \(runners[.native]?.context.accel.accel.rawValue ?? "?")")
        let task = Task { () async -> [RunRecord] in
            var done: [RunRecord] = []
            for (i, step) in plan.enumerated() {
                if Task.isCancelled { break }
                guard let runner = runners[step.driver] else { continue }
                let record = await runner.run(PlannedRun(cell: step.cell, repetition: step.repetition), sequence: i)
                Self.keep(record, in: log, progress: progress)
                progress.finished(record, index: i, total: plan.count, label: labels.label(record.cellID))
                done.append(record)
            }
            return done
        }
        Interrupts.install { task.cancel() }
        return Outcome(records: await task.value, planned: plan.count, qemuWallSeconds: nil, cancelled: task.isCancelled)
    }
}

/// The calibration's figures, derived from its records alone.
struct Calibration {
    var disks: [Cell]
    var records: [RunRecord]
    var workload: Workload
    var runs: Int
    var accel: String
    var sweep: Bool
    /// QEMU start to exit of the shared guests (nil: a guest per run).
    var qemuWallSeconds: Double? = nil

    /// The calibration a `--records` file holds: its disks are the native
    /// runs' cells (null-co first, then qcow2 by effective L2 cache), its
    /// workload theirs. Nil without a native and a fio run of one disk.
    init?(records: [RunRecord]) {
        var disks: [Cell] = []
        for r in records where r.cell.workload.driver == .native && !disks.contains(r.cell) { disks.append(r.cell) }
        func order(_ c: Cell) -> UInt64 { c.kind == .null ? 0 : 1 + (c.effectiveCache.map { UInt64($0.l2CacheBytes.bytes) } ?? 0) }
        disks.sort { order($0) < order($1) }
        guard let first = disks.first, let accel = records.first?.provenance.accel else { return nil }
        self.init(
            disks: disks, records: records, workload: first.workload, runs: records.map(\.repetition).max() ?? 0, accel: accel,
            sweep: disks.filter { $0.kind == .qcow2 }.count == 3)
        guard disks.contains(where: { pairedRatio($0) != nil || (iops($0, .native) != nil && iops($0, .fio) != nil) }) else { return nil }
    }

    init(disks: [Cell], records: [RunRecord], workload: Workload, runs: Int, accel: String, sweep: Bool) {
        self.disks = disks
        self.records = records
        self.workload = workload
        self.runs = runs
        self.accel = accel
        self.sweep = sweep
    }

    /// Whether the records are slots of a shared guest.
    var shared: Bool { records.contains { $0.slot != nil } }

    /// Successful records of `disk` (any driver's variant of it) run by `driver`.
    func ok(_ disk: Cell, _ driver: GuestDriver) -> [RunRecord] {
        records.filter {
            $0.status == .ok && $0.result != nil && $0.cell.workload.driver == driver
                && $0.cell.kind == disk.kind && $0.cell.geometry == disk.geometry && $0.cell.cache == disk.cache
        }
    }

    func iops(_ disk: Cell, _ driver: GuestDriver) -> SampleStats? {
        SampleStats(ok(disk, driver).compactMap { $0.result?.iops })
    }

    /// native/fio on `disk`, repetition by repetition (a shared guest's
    /// block, or a guest-per-run repetition, whose runs alternate native, fio
    /// on each disk): a pair shares the machine's state of that minute, and
    /// the t interval on the log ratios leaves the drift between pairs out
    /// (the unpaired ratio of means keeps it in).
    func pairedRatio(_ disk: Cell) -> PairedRatio? {
        func byRepetition(_ driver: GuestDriver) -> [Int: Double] {
            Dictionary(ok(disk, driver).compactMap { r in r.result.map { (r.repetition, $0.iops) } }, uniquingKeysWith: { a, _ in a })
        }
        return PairedRatio.make(byRepetition(.native), over: byRepetition(.fio), referenceCellID: "fio")
    }

    /// Mean share of one wall second QEMU's vCPU thread ran during `driver`'s
    /// runs on `disk`, from the first I/O to the result (`RunRecord.host`).
    /// Near 1 the guest's one CPU is saturated: the driver's own cost per
    /// write, not the storage, sets its pace.
    func vcpuBusy(_ disk: Cell, _ driver: GuestDriver) -> Double? {
        meanOverRuns(disk, driver) { h, _ in h.qemuVcpuMillis / (h.seconds * 1000) }
    }

    /// Mean share of one wall second the vCPU spent on the driver's waiting
    /// (`RunRecord.vcpuWaitMillis`); nil when no run records it.
    func vcpuWaiting(_ disk: Cell, _ driver: GuestDriver) -> Double? {
        meanOverRuns(disk, driver) { r, h, _ in r.vcpuWaitMillis.map { $0 / (h.seconds * 1000) } }
    }

    /// The vCPU's working share, busy less waiting: the native driver spins
    /// while it waits, so its vCPU is busy either way, and saturation is
    /// judged on this share.
    func vcpuWorking(_ disk: Cell, _ driver: GuestDriver) -> Double? {
        vcpuBusy(disk, driver).map { $0 - (vcpuWaiting(disk, driver) ?? 0) }
    }

    /// Mean over `driver`'s successful runs on `disk` of a figure from the
    /// run's host window and IOPS; nil when no run has a window.
    func meanOverRuns(_ disk: Cell, _ driver: GuestDriver, _ figure: (HostNoise, Double) -> Double) -> Double? {
        meanOverRuns(disk, driver) { _, h, iops in figure(h, iops) }
    }

    /// The same over a figure that also reads the record, and that a run
    /// may lack (nil: left out of the mean).
    func meanOverRuns(_ disk: Cell, _ driver: GuestDriver, _ figure: (RunRecord, HostNoise, Double) -> Double?) -> Double? {
        let values = ok(disk, driver).compactMap { r -> Double? in
            guard let h = r.host ?? r.slot?.host, h.seconds > 0, let iops = r.result?.iops, iops > 0 else { return nil }
            return figure(r, h, iops)
        }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// A vCPU thread busier than this is saturated (the rest is the poll's
    /// imprecision and the guest's idle moments between writes).
    static let saturatedVcpu = 0.95

    /// QEMU I/O-thread microseconds per write during `driver`'s runs on
    /// `disk`: its CPU time over the sampled window, per write at the run's
    /// IOPS (the window includes the warm-up, at about the same rate).
    /// Where both drivers are bound by qcow2, this is what a write costs
    /// QEMU besides the guest.
    func iothreadMicrosPerWrite(_ disk: Cell, _ driver: GuestDriver) -> Double? {
        meanOverRuns(disk, driver) { h, iops in h.qemuIothreadMillis * 1000 / (iops * h.seconds) }
    }

    /// The guest's interrupts for the disk per write: how often the driver
    /// was woken per write. Empty for records from guests that did not count them.
    func interruptsText(_ disk: Cell, _ driver: GuestDriver) -> String {
        interruptsPerWrite(disk, driver).map { String(format: "; %.2f interrupts/write", $0) } ?? ""
    }

    /// QEMU's cache counters for `driver` on `disk`, from its traced slots:
    /// misses per write, the miss read time, and the share of the window
    /// the miss reads took (misses per second x read time). Miss reads run
    /// one at a time under the image's lock, so a share near 1 says the
    /// reads alone set that driver's pace, whatever the driver costs.
    func cacheText(_ disk: Cell, _ driver: GuestDriver) -> String? {
        guard disk.kind == .qcow2 else { return nil }
        var cell = disk
        cell.workload.driver = driver
        guard let c = CellCacheCounters(records: ok(disk, driver), cell: cell, effective: disk.effectiveCache) else { return nil }
        let name = driver == .native ? "native" : "fio   "
        var line = String(format: "  %@ cache  L2 misses/write %.3f (model %@)", name, c.l2MissesPerWrite, c.expectedL2MissesPerWrite.map { String(format: "%.3f", $0) } ?? "-")
        if let read = c.missReadMicros {
            let share = c.l2MissesPerWrite * c.tracedIOPS * read / 1e6
            let perWrite = 1e6 / c.tracedIOPS
            line += String(
                format: ", miss read %.0f µs, miss reads %.0f%% of the window (per write %.0f µs: %.0f in miss reads, %.0f else)", read,
                share * 100, perWrite, c.l2MissesPerWrite * read, perWrite - c.l2MissesPerWrite * read)
        }
        return line + " (\(c.slots) traced slot\(c.slots == 1 ? "" : "s"))"
    }

    /// How host CPU steal moved the shared guest's slots (one common slope
    /// over every disk and driver); nil for guests per run.
    var steal: StealEffect? { shared ? StealEffect(records: records) : nil }

    /// native/fio on `disk` with every slot taken to zero steal along
    /// `steal`'s slope: shown beside the measured ratio, never in its
    /// place, and only when the slope is measurable.
    func stealAdjustedRatio(_ disk: Cell) -> PairedRatio? {
        guard let effect = steal, effect.isMeasurable else { return nil }
        func adjusted(_ driver: GuestDriver) -> [Int: Double] {
            Dictionary(
                ok(disk, driver).compactMap { r in
                    guard let iops = r.result?.iops, let stolen = r.slot?.host?.stealPercent else { return nil }
                    return (r.repetition, effect.atZeroSteal(iops: iops, stealPercent: stolen))
                }, uniquingKeysWith: { a, _ in a })
        }
        return PairedRatio.make(adjusted(.native), over: adjusted(.fio), referenceCellID: "fio")
    }

    func vcpuText(_ disk: Cell, _ driver: GuestDriver) -> String {
        guard let busy = vcpuBusy(disk, driver) else { return "" }
        let spinning = vcpuWaiting(disk, driver)
        let working = busy - (spinning ?? 0)
        let io = iothreadMicrosPerWrite(disk, driver).map { String(format: "; I/O thread %.1f µs/write", $0) } ?? ""
        let waiting = spinning.map { String(format: " (%.0f%% of the window spinning for completions)", $0 * 100) } ?? ""
        return String(
            format: "  vCPU %.0f%% busy%@%@%@", busy * 100, waiting, working >= Self.saturatedVcpu ? " (guest CPU saturated)" : "", io)
    }

    /// Ratio of means `a / b` with an approximate 95% interval: the delta
    /// method on the log of each mean (standard error ≈ relative standard
    /// error), t with the smaller sample's degrees of freedom (which errs
    /// wide), mapped back as `r * exp(±half)` so the interval is never
    /// negative however few runs there are.
    static func ratio(_ a: SampleStats, _ b: SampleStats) -> (value: Double, low: Double, high: Double)? {
        guard a.mean > 0, b.mean > 0, a.count >= 2, b.count >= 2 else { return nil }
        let r = a.mean / b.mean
        let relA = a.stdev / Double(a.count).squareRoot() / a.mean
        let relB = b.stdev / Double(b.count).squareRoot() / b.mean
        let half = tQuantile975(df: min(a.count, b.count) - 1) * (relA * relA + relB * relB).squareRoot()
        return (r, r * exp(-half), r * exp(half))
    }

    static func describe(_ s: SampleStats?) -> String {
        guard let s else { return "no successful run" }
        let ci = s.ci95.map { String(format: " ± %.0f (%.1f%%)", $0, s.ci95Percent ?? 0) } ?? ""
        return String(format: "%.0f%@  sd %.0f  n=%d", s.mean, ci, s.stdev, s.count)
    }

    static func label(_ cell: Cell) -> String {
        switch cell.kind {
        case .null: return "null-co \(cell.geometry.diskSize) (guest + driver ceiling)"
        case .raw: return "raw \(cell.geometry.diskSize)"
        case .qcow2:
            guard let e = cell.effectiveCache else { return cell.id }
            return String(
                format: "qcow2 %@ preallocated, l2-cache-size %@ -> %@ (entry %@), L2 coverage %.2f%%",
                cell.geometry.diskSize.description, cell.cache.l2CacheSize.description, e.l2CacheBytes.humanReadable,
                e.l2EntrySize.humanReadable, e.l2CoveragePercent)
        }
    }

    /// `; QEMU build patched (QEMU emulator version 9.1.0, sha256 3f2a…)`; empty for the system QEMU.
    var buildText: String {
        guard let build = disks.first?.build, build != QemuBuildName.system else { return "" }
        let p = records.lazy.compactMap(\.provenance.qemuBuild).first
        return "; QEMU build \(build)" + (p.map { " (\($0.version), sha256 \($0.sha256.prefix(12))…)" } ?? "")
    }

    /// The whole calibration; `wallSeconds` is the command's own wall time
    /// (nil when printed again from records, which do not hold it).
    func text(wallSeconds: Double?) -> String {
        var out: [String] = []
        out.append(
            "calibrate: \(workload.blockSize) random writes, qd \(workload.iodepth), ramp \(workload.ramp), runtime \(workload.runtime); "
                + (shared
                    ? "\(runs) blocks in one guest, each disk once per driver per block in a shuffled order"
                    : "\(runs) runs per driver and disk, a guest each, alternating native/fio")
                + "; accel \(accel)" + buildText)
        for disk in disks {
            out.append("")
            out.append(Self.label(disk))
            let n = iops(disk, .native)
            let f = iops(disk, .fio)
            out.append("  native IOPS  \(Self.describe(n))" + vcpuText(disk, .native) + interruptsText(disk, .native))
            out.append("  fio IOPS     \(Self.describe(f))" + vcpuText(disk, .fio) + interruptsText(disk, .fio))
            for driver in GuestDriver.allCases {
                if let line = cacheText(disk, driver) { out.append(line) }
            }
            if let p = pairedRatio(disk) {
                out.append(
                    String(
                        format: "  native/fio   %.2f  (95%% CI %.2f to %.2f; %@, %d pairs)",
                        p.ratio, p.low, p.high,
                        shared ? "paired by block, both drivers in the same guest" : "paired by repetition, each native run with the fio run after it",
                        p.blocks))
                if let a = stealAdjustedRatio(disk) {
                    out.append(String(format: "               %.2f  (95%% CI %.2f to %.2f) with every slot taken to zero steal (below)", a.ratio, a.low, a.high))
                }
            } else if let n, let f, let r = Self.ratio(n, f) {
                out.append(String(format: "  native/fio   %.2f  (approx. 95%% CI %.2f to %.2f)", r.value, r.low, r.high))
            }
        }
        if let effect = steal {
            out.append("")
            out.append(effect.sentence)
        }
        out += ceilingText()
        if sweep { out += sweepText() }
        out.append("")
        if shared {
            out.append("cost of the shared guest")
            out += sharedCostLines().map { "  " + $0 }
        } else {
            out.append("cost per run (all disks)")
            for driver in GuestDriver.allCases {
                out.append("  \(driver.rawValue)")
                out += costLines(driver).map { "    " + $0 }
            }
        }
        let failed = records.filter { $0.status != .ok }
        if !failed.isEmpty {
            out.append("")
            out.append("\(failed.count) failed runs:")
            for r in failed.prefix(10) { out.append("  \(r.cellID) #\(r.repetition): \(r.failure ?? "?")") }
        }
        out.append("")
        out.append(wallSeconds.map { String(format: "wall time %@ for %d runs", ProgressReporter.clock($0), records.count) } ?? "\(records.count) runs")
        return out.joined(separator: "\n")
    }

    /// A shared guest's boot, its measured share of QEMU's wall time, and
    /// each driver's warm-up: the native one ends when steady, fio's is
    /// its fixed ramp (and a slot whose ramp did not end steady is counted).
    func sharedCostLines() -> [String] {
        let slots = records.filter { $0.slot != nil }
        var lines: [String] = []
        let guests = Set(slots.compactMap { $0.slot?.guest }).count
        if let boot = SampleStats(Array(Dictionary(slots.compactMap { r in r.slot.map { ($0.guest, r.hostBootMillis) } }, uniquingKeysWith: { a, _ in a }).values.compactMap { $0.map(Double.init) })) {
            lines.append(String(format: "%d guest(s); host QEMU start to the guest's hello %.0f ms", guests, boot.mean))
        }
        let measured = slots.filter { $0.status == .ok }.compactMap { $0.result?.seconds }.reduce(0, +)
        if let wall = qemuWallSeconds, wall > 0 {
            lines.append(String(format: "QEMU wall %.1f s, of which %.1f s measured (%.1f%%)", wall, measured, measured / wall * 100))
        }
        for driver in GuestDriver.allCases {
            let rs = slots.filter { $0.status == .ok && $0.cell.workload.driver == driver }
            guard let warm = SampleStats(rs.compactMap { $0.slot.map { Double($0.warmupMillis) } }) else { continue }
            let unsettled = rs.filter { $0.slot?.settled == false }.count
            lines.append(
                String(
                    format: "%@ warm-up %.0f ms mean per slot (%@); %d of %d slots did not end it steady", driver.rawValue, warm.mean,
                    driver == .native
                        ? "until steady, or the cap"
                        : "fixed ramp_time plus fio's own start, judged once at its end on fio's burstier 50 ms counts",
                    unsettled, rs.count))
        }
        return lines
    }

    /// Boot, wall and the measuring fraction for one driver's runs.
    func costLines(_ driver: GuestDriver) -> [String] {
        let rs = records.filter { $0.status == .ok && $0.cell.workload.driver == driver }
        guard !rs.isEmpty else { return ["no successful run"] }
        var lines: [String] = []
        if let boot = SampleStats(rs.compactMap { $0.result.map { Double($0.bootToFirstIOMillis) } }) {
            lines.append(
                String(
                    format: "guest boot to first I/O   %.0f ms ± %.0f (guest uptime; min %.0f, max %.0f)", boot.mean, boot.ci95 ?? 0, boot.min,
                    boot.max))
        }
        if let host = SampleStats(rs.compactMap { $0.hostBootMillis.map(Double.init) }) {
            lines.append(
                String(
                    format: "host QEMU start to ready  %.0f ms ± %.0f (console polled; min %.0f, max %.0f)", host.mean, host.ci95 ?? 0, host.min,
                    host.max))
        }
        if let wall = SampleStats(rs.map(\.wallSeconds)), let prep = SampleStats(rs.map(\.prepSeconds)) {
            lines.append(String(format: "QEMU start to exit        %.2f s ± %.2f; image preparation %.2f s", wall.mean, wall.ci95 ?? 0, prep.mean))
        }
        let measured = rs.compactMap { $0.result?.seconds }.reduce(0, +)
        let wall = rs.map(\.wallSeconds).reduce(0, +)
        let all = rs.map { $0.wallSeconds + $0.prepSeconds }.reduce(0, +)
        if wall > 0, all > 0 {
            lines.append(
                String(
                    format: "measuring fraction        %.1f%% of QEMU wall, %.1f%% with image preparation", measured / wall * 100,
                    measured / all * 100))
        }
        return lines
    }

    /// Where a sweep saturates: the lowest-coverage cell whose mean IOPS is
    /// within the reports' knee tolerance of the best cell's.
    static let kneeFraction = 1 - Knee.defaultTolerance

    /// Direction and knee of the sweep, per driver: IOPS relative to the best
    /// cell, the sign of each step (and whether it exceeds the combined 95%
    /// intervals), and the knee: the first cell within `kneeFraction` of the best.
    func sweepText() -> [String] {
        let disks = disks.filter { $0.kind == .qcow2 }
        guard disks.count == 3 else { return [] }
        var out = ["", "sweep (mean IOPS relative to the best cell, low -> mid -> full coverage)"]
        var shapes: [GuestDriver: (steps: [Int], knee: Int)] = [:]
        for driver in GuestDriver.allCases {
            let stats = disks.compactMap { iops($0, driver) }
            guard stats.count == disks.count, let best = stats.map(\.mean).max(), best > 0 else {
                out.append("  \(driver.rawValue): incomplete")
                continue
            }
            let rel = stats.map { String(format: "%.2f", $0.mean / best) }.joined(separator: "  ")
            var steps: [Int] = []
            var words: [String] = []
            for (a, b) in zip(stats, stats.dropFirst()) {
                let d = b.mean - a.mean
                let noise = ((a.ci95 ?? 0) * (a.ci95 ?? 0) + (b.ci95 ?? 0) * (b.ci95 ?? 0)).squareRoot()
                // A step inside the combined intervals has no direction.
                steps.append(abs(d) <= noise ? 0 : (d > 0 ? 1 : -1))
                words.append(String(format: "%@%.0f%@", d >= 0 ? "+" : "", d, abs(d) > noise ? "" : " (within noise)"))
            }
            let knee = stats.firstIndex { $0.mean >= Self.kneeFraction * best } ?? stats.count - 1
            shapes[driver] = (steps, knee)
            out.append(
                "  \(driver.rawValue): \(rel);  steps \(words.joined(separator: ", "));  knee at \(Self.cellName(knee)) (first within \(Knee.defaultToleranceText) of best)"
            )
        }
        if let n = shapes[.native], let f = shapes[.fio] {
            out.append("  " + Self.agreementText(native: n, fio: f, bound: GuestDriver.allCases.filter { boundByCeiling($0) == true }))
        }
        return out
    }

    /// Whether the drivers' sweeps tell the same story. A driver at its own
    /// ceiling cannot show qcow2's direction or knee, so no verdict is drawn
    /// from it; otherwise steps are compared by their resolved sign (0 when
    /// within noise), and only opposite signs are a disagreement.
    static func agreementText(native n: (steps: [Int], knee: Int), fio f: (steps: [Int], knee: Int), bound: [GuestDriver]) -> String {
        if !bound.isEmpty {
            let names = bound.map(\.rawValue).joined(separator: " and ")
            return "direction and knee: not comparable, \(names) \(bound.count == 1 ? "is" : "are") bound by \(bound.count == 1 ? "its" : "their") own ceiling (above)"
        }
        let opposite = zip(n.steps, f.steps).contains { $0 * $1 < 0 }
        let direction =
            n.steps == f.steps
            ? "agrees" : opposite ? "differs (a step goes opposite ways)" : "agrees within noise (no step goes opposite ways)"
        return "direction: \(direction);  knee: \(kneeText(native: n, fio: f))"
    }

    /// The knees compared. A driver whose cells from its knee on are within
    /// noise of each other has not placed its knee: it cannot tell whether
    /// the later cells are faster, so an earlier knee from it is no
    /// disagreement, only an unresolved one.
    static func kneeText(native n: (steps: [Int], knee: Int), fio f: (steps: [Int], knee: Int)) -> String {
        if n.knee == f.knee { return "agrees" }
        let (early, earlyName, late, lateName) = n.knee < f.knee ? (n, "native", f, "fio") : (f, "fio", n, "native")
        guard early.knee < early.steps.count, early.steps[early.knee...].allSatisfy({ $0 == 0 }) else { return "differs" }
        return "not resolved by \(earlyName) (its cells from \(cellName(early.knee)) on are within noise of each other; \(lateName)'s knee is at \(cellName(late.knee)))"
    }

    static func cellName(_ i: Int) -> String { ["low", "mid", "full"][min(i, 2)] }

    /// A driver whose fastest qcow2 cell comes within this fraction of its
    /// own null-co figure is measuring itself there, not qcow2.
    static let ceilingFraction = 0.85

    /// Each driver's qcow2 cells as a fraction of its own null-co ceiling,
    /// and a plain warning when a driver is bound by that ceiling: its
    /// cells then differ less than qcow2 makes them, and a sweep's
    /// direction and knee from that driver say little.
    /// `driver`'s null-co mean IOPS and each qcow2 cell's mean as a fraction
    /// of it; nil without a null-co figure or any qcow2 cell.
    func ceilingFractions(_ driver: GuestDriver) -> (ceiling: Double, fractions: [Double])? {
        guard let null = disks.first(where: { $0.kind == .null }), let ceiling = iops(null, driver), ceiling.mean > 0 else { return nil }
        let fractions = disks.filter { $0.kind == .qcow2 }.compactMap { iops($0, driver).map { $0.mean / ceiling.mean } }
        return fractions.isEmpty ? nil : (ceiling.mean, fractions)
    }

    /// True when `driver`'s fastest qcow2 cell reaches `ceilingFraction` of
    /// its null-co figure; nil without both, or when a qcow2 cell beats
    /// null-co by more than that margin the other way (then null-co is no
    /// ceiling for the driver, and says nothing either way).
    func boundByCeiling(_ driver: GuestDriver) -> Bool? {
        guard let top = ceilingFractions(driver)?.fractions.max(), top <= Self.noCeilingAbove else { return nil }
        guard top >= Self.ceilingFraction else { return false }
        return interruptStorm(driver) == nil ? true : nil
    }

    /// Interrupts per write on `disk` (`SlotInfo.interrupts`), pooled over
    /// the runs that carry them; nil for records without them.
    func interruptsPerWrite(_ disk: Cell, _ driver: GuestDriver) -> Double? {
        var interrupts: UInt64 = 0
        var writes: UInt64 = 0
        for r in ok(disk, driver) {
            guard let n = r.slot?.interrupts, let ops = r.result?.ops, ops > 0 else { continue }
            interrupts += n
            writes += ops
        }
        return writes > 0 ? Double(interrupts) / Double(writes) : nil
    }

    /// A driver that takes this many times the interrupts per write on
    /// null-co that it takes on its fastest qcow2 cell, and at least
    /// `interruptStormExcess` more, is doing other work there: null-co
    /// completes each write at once, so a driver that sleeps until a
    /// completion is woken for nearly every write (fio here: 0.77 against
    /// 0.27-0.33 on qcow2), while storage latency lets completions arrive
    /// together. Its null-co figure is then no ceiling. (The native driver
    /// spins on the ring and takes 0.03-0.12 everywhere.)
    static let interruptStormFactor = 1.5
    static let interruptStormExcess = 0.2

    /// `driver`'s interrupts per write on null-co and on its fastest qcow2
    /// cell, when null-co costs it that many more; nil otherwise or
    /// without counts.
    func interruptStorm(_ driver: GuestDriver) -> (null: Double, qcow2: Double)? {
        guard let null = disks.first(where: { $0.kind == .null }), let atNull = interruptsPerWrite(null, driver),
            let fastest = disks.filter({ $0.kind == .qcow2 }).max(by: { (iops($0, driver)?.mean ?? 0) < (iops($1, driver)?.mean ?? 0) }),
            let atFastest = interruptsPerWrite(fastest, driver), atNull > Self.interruptStormFactor * atFastest,
            atNull - atFastest >= Self.interruptStormExcess
        else { return nil }
        return (atNull, atFastest)
    }

    /// A qcow2 cell this much faster than null-co shows null-co is not the
    /// driver's ceiling (fio has run faster on qcow2 than on null-co here).
    static let noCeilingAbove = 1 / ceilingFraction

    /// What `driver`'s null-co figure says about it, given its fastest
    /// qcow2 cell's fraction `top` of that figure (`ceiling` IOPS).
    func ceilingVerdict(_ driver: GuestDriver, top: Double, ceiling: Double) -> String {
        let name = driver.rawValue
        if top > Self.noCeilingAbove {
            return String(
                format: "null-co is no ceiling for %@ here: its fastest qcow2 cell runs %.2fx its null-co figure (%.0f IOPS), "
                    + "so null-co cannot show whether %@ is bound by its own cost", name, top, ceiling, name)
        }
        guard top >= Self.ceilingFraction else {
            return String(format: "below its ceiling (%.0f IOPS) everywhere: the cells measure qcow2", ceiling)
        }
        if let storm = interruptStorm(driver) {
            return String(
                format: "null-co is no ceiling for %@ here: it takes %.2f interrupts per write on null-co against %.2f on its fastest "
                    + "qcow2 cell (completions arrive one by one when nothing waits on storage), so its null-co figure "
                    + "(%.0f IOPS; its fastest qcow2 cell runs %.2fx that) is not what it can do", name, storm.null, storm.qcow2, ceiling, top)
        }
        return String(
            format: "bound by its own ceiling: its fastest qcow2 cell reaches %.0f%% of what it does with no storage at all (%.0f IOPS), "
                + "so it measures its own guest CPU there and compresses the differences between cells", top * 100, ceiling)
    }

    func ceilingText() -> [String] {
        guard disks.contains(where: { $0.kind == .null }), disks.contains(where: { $0.kind == .qcow2 }) else { return [] }
        var out = ["", "each driver's qcow2 cells against its own null-co ceiling"]
        for driver in GuestDriver.allCases {
            guard let (ceiling, fractions) = ceilingFractions(driver), let top = fractions.max() else { continue }
            let list = fractions.map { String(format: "%.2f", $0) }.joined(separator: "  ")
            var verdict = ceilingVerdict(driver, top: top, ceiling: ceiling)
            let qcow2 = disks.filter { $0.kind == .qcow2 }
            let busy = qcow2.compactMap { vcpuWorking($0, driver) }
            if busy.count == qcow2.count, !busy.isEmpty {
                let saturated = busy.filter { $0 >= Self.saturatedVcpu }.count
                let spins = qcow2.contains { vcpuWaiting($0, driver) != nil }
                verdict += String(
                    format: "; vCPU %@ on the qcow2 cells %@ (%d of %d saturated)", spins ? "working (busy, not spinning)" : "busy",
                    busy.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: " "), saturated, busy.count)
            }
            out.append("  \(driver.rawValue): \(list);  \(verdict)")
        }
        return out
    }
}
