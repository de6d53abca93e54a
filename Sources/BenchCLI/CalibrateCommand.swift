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
            Runs alternate native, fio, native, fio, ... so drift of the machine affects both drivers alike; native/fio \
            is paired by repetition (a t interval on the per-pair log ratios). Each run's share of wall time on QEMU's vCPU \
            thread is shown: near 100% the guest's one CPU, not the storage, sets the driver's pace.

            Default: a null-co disk and a 1G preallocated qcow2 with the default (full-coverage) L2 cache.

            --sweep: a 16G preallocated qcow2 with l2-cache-size 128K, 1M and default (low, mid and full \
            coverage) and a 16G null-co disk, to check that both drivers see the same direction and knee, \
            and whether either is bound by its own ceiling (its null-co figure) instead of by qcow2.

            fio comes from the host (apt-get install fio); its initramfs is built once and cached.
            """)

    @Option(help: "Runs per driver and disk (at least 2, for a spread).") var runs = 3
    @Option(help: "Measured time per run.") var runtime = "4s"
    @Option(help: "Warm-up before measuring.") var ramp = "1s"
    @Flag(help: "Run the 3-cell L2 coverage sweep (plus null-co) on a 16G image instead.") var sweep = false
    @Option(help: "Seed of the offset generators.") var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Also append every run's record to this file (JSON lines, as results.jsonl).", valueName: "file"))
    var records: String?
    @OptionGroup var guest: GuestOptions
    @OptionGroup var qemuBuilds: QemuBuildOptions

    static let runRange = 2...100

    func workload() throws -> Workload {
        Workload(
            ramp: try parsed { () throws(InvalidValue) in try TimeSpan(parsing: ramp, field: "--ramp", allowZero: true) },
            runtime: try parsed { () throws(InvalidValue) in try TimeSpan(parsing: runtime, field: "--runtime") })
    }

    func validate() throws {
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
        let runners: [GuestDriver: BenchRunner] = [.native: base.runner, .fio: fioHarness.runner]

        // Alternating order: for each repetition, each disk, native then fio.
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
            "calibrate: \(disks.count) disks x 2 drivers x \(runs) runs = \(plan.count) runs, accel \(harness.context.accel.accel)")
        let started = ContinuousClock.now
        let task = Task { () async -> [RunRecord] in
            var done: [RunRecord] = []
            for (i, step) in plan.enumerated() {
                if Task.isCancelled { break }
                guard let runner = runners[step.driver] else { continue }
                let record = await runner.run(PlannedRun(cell: step.cell, repetition: step.repetition), sequence: i)
                progress.finished(record, index: i, total: plan.count, label: labels.label(record.cellID))
                done.append(record)
            }
            return done
        }
        Interrupts.install { task.cancel() }
        let finished = await task.value
        harness.shutdown()
        let wall = ContinuousClock.now - started
        if let log {
            do { for r in finished { try log.append(r) } } catch { progress.note("warning: \(error)") }
        }

        let report = Calibration(
            disks: disks, records: finished, workload: native, runs: runs, accel: harness.context.accel.accel.rawValue, sweep: sweep)
        print(report.text(wallSeconds: wall.inSeconds))
        if task.isCancelled || Interrupts.interrupted { throw ExitCode(130) }
        if finished.contains(where: { $0.status != .ok }) || finished.count < plan.count { throw ExitCode(1) }
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

    /// native/fio on `disk`, repetition by repetition: the runs alternate
    /// native, fio on each disk, so a pair shares the machine's state of
    /// that minute, and the t interval on the log ratios leaves the drift
    /// between pairs out (the unpaired ratio of means keeps it in).
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

    /// Mean over `driver`'s successful runs on `disk` of a figure from the
    /// run's host window and IOPS; nil when no run has a window.
    func meanOverRuns(_ disk: Cell, _ driver: GuestDriver, _ figure: (HostNoise, Double) -> Double) -> Double? {
        let values = ok(disk, driver).compactMap { r -> Double? in
            guard let h = r.host, h.seconds > 0, let iops = r.result?.iops, iops > 0 else { return nil }
            return figure(h, iops)
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

    func vcpuText(_ disk: Cell, _ driver: GuestDriver) -> String {
        guard let busy = vcpuBusy(disk, driver) else { return "" }
        let io = iothreadMicrosPerWrite(disk, driver).map { String(format: "; I/O thread %.1f µs/write", $0) } ?? ""
        return String(format: "  vCPU %.0f%% busy%@%@", busy * 100, busy >= Self.saturatedVcpu ? " (guest CPU saturated)" : "", io)
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

    func text(wallSeconds: Double) -> String {
        var out: [String] = []
        out.append(
            "calibrate: \(workload.blockSize) random writes, qd \(workload.iodepth), ramp \(workload.ramp), runtime \(workload.runtime); "
                + "\(runs) runs per driver and disk, alternating native/fio; accel \(accel)" + buildText)
        for disk in disks {
            out.append("")
            out.append(Self.label(disk))
            let n = iops(disk, .native)
            let f = iops(disk, .fio)
            out.append("  native IOPS  \(Self.describe(n))" + vcpuText(disk, .native))
            out.append("  fio IOPS     \(Self.describe(f))" + vcpuText(disk, .fio))
            if let p = pairedRatio(disk) {
                out.append(
                    String(
                        format: "  native/fio   %.2f  (95%% CI %.2f to %.2f; paired by repetition, each native run with the fio run after it, %d pairs)",
                        p.ratio, p.low, p.high, p.blocks))
            } else if let n, let f, let r = Self.ratio(n, f) {
                out.append(String(format: "  native/fio   %.2f  (approx. 95%% CI %.2f to %.2f)", r.value, r.low, r.high))
            }
        }
        out += ceilingText()
        if sweep { out += sweepText() }
        out.append("")
        out.append("cost per run (all disks)")
        for driver in GuestDriver.allCases {
            out.append("  \(driver.rawValue)")
            out += costLines(driver).map { "    " + $0 }
        }
        let failed = records.filter { $0.status != .ok }
        if !failed.isEmpty {
            out.append("")
            out.append("\(failed.count) failed runs:")
            for r in failed.prefix(10) { out.append("  \(r.cellID) #\(r.repetition): \(r.failure ?? "?")") }
        }
        out.append("")
        out.append(String(format: "wall time %@ for %d runs", ProgressReporter.clock(wallSeconds), records.count))
        return out.joined(separator: "\n")
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
        return "direction: \(direction);  knee: \(n.knee == f.knee ? "agrees" : "differs")"
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
    /// its null-co figure; nil without both.
    func boundByCeiling(_ driver: GuestDriver) -> Bool? {
        ceilingFractions(driver).map { ($0.fractions.max() ?? 0) >= Self.ceilingFraction }
    }

    func ceilingText() -> [String] {
        guard disks.contains(where: { $0.kind == .null }), disks.contains(where: { $0.kind == .qcow2 }) else { return [] }
        var out = ["", "each driver's qcow2 cells against its own null-co ceiling"]
        for driver in GuestDriver.allCases {
            guard let (ceiling, fractions) = ceilingFractions(driver), let top = fractions.max() else { continue }
            let list = fractions.map { String(format: "%.2f", $0) }.joined(separator: "  ")
            var verdict = top >= Self.ceilingFraction
                ? String(
                    format: "bound by its own ceiling: its fastest qcow2 cell reaches %.0f%% of what it does with no storage at all (%.0f IOPS), so it measures its own guest CPU there and compresses the differences between cells",
                    top * 100, ceiling)
                : String(format: "below its ceiling (%.0f IOPS) everywhere: the cells measure qcow2", ceiling)
            let qcow2 = disks.filter { $0.kind == .qcow2 }
            let busy = qcow2.compactMap { vcpuBusy($0, driver) }
            if busy.count == qcow2.count, !busy.isEmpty {
                let saturated = busy.filter { $0 >= Self.saturatedVcpu }.count
                verdict += String(
                    format: "; vCPU busy on the qcow2 cells %@ (%d of %d saturated)",
                    busy.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: " "), saturated, busy.count)
            }
            out.append("  \(driver.rawValue): \(list);  \(verdict)")
        }
        return out
    }
}
