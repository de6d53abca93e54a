import BenchResults
import ArgumentParser
import BenchSpec
import Foundation
import GuestWire
import Orchestrator
import Qcow2Geometry
import Reporting

/// `bench --matrix [FILE]`: every cell of a matrix, repeated, into one
/// results directory with CSV, Markdown and SVG reports.
struct MatrixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "Run a matrix of cache configurations (the default when no subcommand is given).",
        discussion: "Without FILE, runs the default matrix built into the binary (same content as Benchmarks/default.toml).")

    @Flag(name: .customLong("matrix"), help: "Run a matrix: the default one, or FILE.")
    var matrixFlag = false

    @Argument(help: ArgumentHelp("Matrix file (TOML).", valueName: "file"))
    var file: String?

    @Option(help: "Override [workload] runtime (e.g. 4s).") var runtime: String?
    @Option(help: "Override [workload] ramp.") var ramp: String?
    @Option(name: .customLong("repeat"), help: "Override [workload] repeat.") var repetitions: Int?
    @Option(help: "Override the matrix seed (run order and guest offsets).") var seed: UInt64?
    @Option(help: ArgumentHelp("Override [workload] target_ci: add blocks until every paired ratio's 95% CI is within this (e.g. 3%).", valueName: "pct"))
    var targetCi: String?
    @Option(help: "Override [workload] max_blocks.") var maxBlocks: Int?
    @Option(help: ArgumentHelp("Override [workload] budget: wall time the paired blocks may use (e.g. 10m).", valueName: "time"))
    var budget: String?
    @Option(help: ArgumentHelp("Override [workload] isolation: shared or guest-per-run.", valueName: "mode"))
    var isolation: String?
    @Option(help: ArgumentHelp("Output directory (default results/<UTC timestamp>).", valueName: "dir")) var output: String?
    @Flag(help: "Print the expanded cells and an estimated wall time; start nothing.") var dryRun = false
    @Option(help: ArgumentHelp("Continue an interrupted matrix in DIR (same matrix file and overrides); runs with a successful record are skipped, failed ones are tried again.", valueName: "dir"))
    var resume: String?
    @Option(help: "Extra attempts for a run that fails; every attempt is recorded.") var retries = 1
    @OptionGroup var shard: ShardOptions
    @OptionGroup var qemuBuilds: QemuBuildOptions
    @OptionGroup var guest: GuestOptions

    func loadMatrix() throws -> Matrix {
        var m: Matrix
        do {
            m = try file.map { (path) throws(MatrixError) in try Matrix.load(path: path) } ?? Matrix.embeddedDefault
        } catch {
            throw ValidationError(error.description)
        }
        let rt = try runtime.map { (v) throws in try parsed { () throws(InvalidValue) in try TimeSpan(parsing: v, field: "--runtime") } }
        let rp = try ramp.map { (v) throws in try parsed { () throws(InvalidValue) in try TimeSpan(parsing: v, field: "--ramp", allowZero: true) } }
        if let r = repetitions, !Matrix.repetitionRange.contains(r) {
            throw ValidationError(InvalidValue(field: "--repeat", value: "\(r)", rule: "must be from 1 to 100").description)
        }
        m.override(runtime: rt, ramp: rp, repetitions: repetitions)
        if let seed { m.seed = seed }
        if let targetCi {
            m.pairing.targetCI = try parsed { () throws(InvalidValue) in try Pairing.parseTarget(targetCi, field: "--target-ci") }
        }
        if let maxBlocks {
            guard Pairing.blockRange.contains(maxBlocks) else {
                throw ValidationError(InvalidValue(field: "--max-blocks", value: "\(maxBlocks)", rule: "must be from \(Pairing.blockRange.lowerBound) to \(Pairing.blockRange.upperBound)").description)
            }
            m.pairing.maxBlocks = maxBlocks
            if let lo = m.pairing.minBlocks, lo > maxBlocks { m.pairing.minBlocks = maxBlocks }
        }
        if let budget {
            m.pairing.budget = try parsed { () throws(InvalidValue) in try TimeSpan(parsing: budget, field: "--budget") }
        }
        if let isolation {
            guard let i = Isolation(rawValue: isolation) else {
                throw ValidationError(InvalidValue(field: "--isolation", value: isolation, rule: "must be one of: shared, guest-per-run").description)
            }
            m.pairing.isolation = i
        }
        try qemuBuilds.apply(to: &m)
        do { try m.validate() } catch { throw ValidationError(error.description) }
        return m
    }

    func validate() throws {
        guard matrixFlag || file != nil else {
            throw CleanExit.helpRequest(Bench.self)
        }
        let matrix = try loadMatrix()
        if let s = shard.text, Self.shardCells(matrix, shard).isEmpty {
            throw ValidationError(
                InvalidValue(field: "--shard", value: s, rule: "this shard holds no cells: the matrix has only \(matrix.cells().count)").description)
        }
        if !(0...5).contains(retries) {
            throw ValidationError(InvalidValue(field: "--retries", value: "\(retries)", rule: "must be from 0 to 5").description)
        }
        if let resume {
            if output != nil { throw ValidationError("--output: cannot be combined with --resume (the results go back into the resumed directory)") }
            _ = try Self.resumeState(resume, matrix: matrix, shardText: shard.recorded)
            return
        }
        if let output, FileManager.default.fileExists(atPath: output + "/results.jsonl") {
            throw ValidationError("--output: invalid value \"\(output)\": already holds results.jsonl; choose a new directory (results are never overwritten)")
        }
        var isDir: ObjCBool = false
        if let output, FileManager.default.fileExists(atPath: output, isDirectory: &isDir), !isDir.boolValue {
            throw ValidationError("--output: invalid value \"\(output)\": exists and is not a directory")
        }
    }

    func run() async throws {
        let matrix = try loadMatrix()
        let cells = Self.shardCells(matrix, shard)
        let plan = RunPlan.make(cells: cells, repetitions: matrix.repetitions, seed: matrix.seed)
        let footprint = DiskFootprint(cells: cells)
        let workParent = WorkDirectory.defaultParent
        let free = WorkDirectory.availableBytes(at: workParent)
        if dryRun {
            print(DryRun.text(matrix: matrix, cells: cells, runs: plan.count))
            print(DryRun.diskText(footprint: footprint, free: free, at: workParent))
            return
        }
        if let refusal = footprint.refusal(diskField: "image.disk_size", free: free, at: workParent) {
            throw fail(refusal, code: 2)
        }

        // The builds are checked and the harness (kernel, initramfs,
        // accelerator) comes up before the output directory is made: bad
        // input must leave nothing behind.
        let builds = try await qemuBuilds.resolve(matrix.qemuBuilds)
        // The cache model follows each build's version: a cell the build
        // cannot run as modelled is refused before anything starts.
        for build in builds {
            for cell in cells where cell.build == build.name {
                if let why = QemuCacheModel.unsupportedReason(build.version, geometry: cell.geometry) {
                    throw fail(
                        "\(matrix.source): image.extended_l2: invalid value \"true\" for build \(build.name): \(why); drop it or use a build of QEMU \(QemuCacheModel.firstExtendedL2Qemu) or newer",
                        code: 2)
                }
            }
        }
        let harnesses = try await HarnessSetup.start(
            guest: guest, name: matrix.name, hash: matrix.hash, seed: matrix.seed, drivers: [matrix.workload.driver], builds: builds)
        guard var harness = harnesses[matrix.workload.driver] else { throw fail("internal: no harness", code: 1) }
        harness.context.shard = shard.recorded

        let outputDir = resume ?? output ?? "results/\(Self.timestampDirectoryName())"
        let lock: DirectoryLock
        do {
            try MatrixSession.prepareOutput(outputDir)
            lock = try DirectoryLock(outputDir)
        } catch {
            harness.shutdown()
            throw fail(error.description, code: 2)
        }
        defer { lock.release() }
        let previous: ResumeState
        do {
            previous = try resume.map { try Self.resumeState($0, matrix: matrix, shardText: shard.recorded) } ?? ResumeState(records: [])
        } catch {
            harness.shutdown()
            throw error
        }

        let progress = ProgressReporter()
        progress.note("matrix \(matrix.name) (\(matrix.hash)): \(cells.count) cells -> \(outputDir)")
        if let free, footprint.worstCaseBytes > free {
            progress.note("warning: " + DryRun.diskText(footprint: footprint, free: free, at: workParent))
        }
        progress.note("accelerator: \(harness.context.accel.accel) (\(harness.context.accel.reason))")
        if builds.count > 1 {
            for b in builds {
                progress.note("qemu build \(b.name)\(b.name == builds[0].name ? " (base)" : ""): \(b.qemu), \(b.versionLine), sha256 \(b.sha256.prefix(12))")
            }
        }
        if resume != nil {
            progress.note("resuming: \(previous.done.count) of \(plan.count) runs already measured, \(plan.count - previous.done.count) to go (failed runs are tried again)")
        }
        let ready = harness

        let started = ContinuousClock.now
        let (groups, perRunCells) = GuestGroup.plan(cells, requested: matrix.pairing.isolation)
        let perRunPlan = plan.filter { p in perRunCells.contains(p.cell) }
        var budget = BlockBudget.from(matrix, shard: try shard.shard())
        // The budget reserves time to remove the images; what that costs per
        // extent is this host's, now, so it is measured (about a second).
        var probedRemoval: Double?
        if budget.seconds != nil, groups.contains(where: { $0.cells.contains { $0.kind != .null } }) {
            probedRemoval = RemovalProbe.secondsPerExtent(directory: ready.workDirectory.path)
            if let probedRemoval { budget.removalSecondsPerExtent = probedRemoval }
        }
        if !groups.isEmpty {
            let adaptive = budget.targetCI.map { "until every ratio CI is within ±\(Pairing.percentText($0)) (\(budget.minBlocks)–\(budget.maxBlocks) blocks\(matrix.pairing.budget.map { ", budget \($0)" } ?? ""))" }
            let trace = matrix.pairing.trace ?? Pairing.defaultTrace
            progress.note(
                "shared guests: \(groups.count) group(s) of \(groups.map { "\($0.cells.count)" }.joined(separator: "+")) cells, "
                    + (adaptive ?? "\(budget.minBlocks) blocks") + "; cache trace: \(trace.rawValue)"
                    + (probedRemoval.map { String(format: "; image removal ~%.0f µs per extent (probed)", $0 * 1e6) } ?? ""))
        }
        if !perRunCells.isEmpty {
            progress.note("guest per run: \(perRunCells.count) cell(s) x \(matrix.repetitions) runs")
        }
        var paired = PairedSession(harness: ready, outputDirectory: outputDir, seed: matrix.seed, budget: budget)
        paired.trace = matrix.pairing.trace ?? Pairing.defaultTrace
        let session = MatrixSession(harness: ready, outputDirectory: outputDir, retries: retries)
        let previousSlots = previous.records.filter { $0.slot != nil }
        let previousRuns = previous.records.filter { $0.slot == nil }
        let labels = CellLabels(cells: cells)
        let tally = SlotTally()
        for r in previousSlots { _ = tally.add(r, endsBlock: false) }
        let task = Task { () async throws -> MatrixOutcome in
            let (slots, qemuWall, removal) = try await paired.run(
                groups, previous: previousSlots, firstSequence: previous.nextSequence,
                precision: { PairedAnalysis(records: $0).widestHalfWidth },
                progress: { record, state in
                    let widest = tally.add(record, endsBlock: record.slot?.position == state.cellsPerBlock - 1)
                    progress.slotFinished(record, state: state, label: labels.label(record.cellID), widestCI: widest)
                })
            let next = (slots.map(\.sequence).max() ?? previous.nextSequence - 1) + 1
            let runs = try await session.run(
                perRunPlan, done: ResumeState(records: previousRuns).done, firstSequence: next
            ) { record, i, n in
                progress.finished(record, index: i, total: n, label: labels.label(record.cellID))
            }
            return MatrixOutcome(records: slots + runs, qemuWallSeconds: qemuWall + runs.map(\.wallSeconds).reduce(0, +), removalSeconds: removal)
        }
        Interrupts.install { task.cancel() }
        let result = await task.result
        harness.shutdown()
        let wall = ContinuousClock.now - started

        let records: [RunRecord]
        let qemuWall: Double
        var removal: Double?
        switch result {
        case .success(let r): (records, qemuWall, removal) = (previous.records + r.records, r.qemuWallSeconds, r.removalSeconds)
        case .failure(let e): throw fail("\(e)", code: 1)
        }
        let interrupted = task.isCancelled || Interrupts.interrupted

        if !records.isEmpty {
            do {
                try ReportFiles.write(records: records, to: outputDir)
            } catch {
                throw fail("writing reports: \(error)", code: 1)
            }
            if output == nil { ReportFiles.pointLatest(at: outputDir) }
        }

        let wallSeconds = wall.inSeconds
        print(
            MatrixSummary.text(
                records: records, planned: plan.count, wallSeconds: wallSeconds, qemuWallSeconds: qemuWall, outputDirectory: outputDir,
                removal: removal.map { ImageRemovalFigure(
                        seconds: $0, writes: ImageRemoval.writes(in: records), extents: ImageRemoval.extents(in: records),
                        probedSecondsPerExtent: probedRemoval) }))
        if interrupted {
            progress.note("interrupted: finished runs are in \(outputDir)/results.jsonl; continue with:")
            progress.note("  \(resumeCommand(outputDir))")
            throw ExitCode(130)
        }
        if MatrixSummary.cellsWithoutSuccess(records).count > 0 { throw ExitCode(1) }
    }

    /// The cells a shard runs. Cells that share a guest are paired block by
    /// block, so every shard runs all of them, in its own blocks (shard I of
    /// N takes blocks I, I+N, …; `BlockBudget`); cells in guests of their
    /// own are dealt round-robin as before.
    static func shardCells(_ matrix: Matrix, _ options: ShardOptions) -> [Cell] {
        let all = matrix.cells()
        let perRun = Set(GuestGroup.plan(all, requested: matrix.pairing.isolation).perRun)
        let mine = Set(options.select(Array(all.filter { perRun.contains($0) })))
        return all.filter { !perRun.contains($0) || mine.contains($0) }
    }

    /// What the run task hands back.
    struct MatrixOutcome: Sendable {
        var records: [RunRecord]
        var qemuWallSeconds: Double
        var removalSeconds: Double
    }

    /// The command line that continues this matrix in `dir`.
    func resumeCommand(_ dir: String) -> String {
        var args = ["bench", "--matrix"]
        if let file { args.append(file) }
        if let runtime { args += ["--runtime", runtime] }
        if let ramp { args += ["--ramp", ramp] }
        if let repetitions { args += ["--repeat", "\(repetitions)"] }
        if let seed { args += ["--seed", "\(seed)"] }
        if let targetCi { args += ["--target-ci", targetCi] }
        if let maxBlocks { args += ["--max-blocks", "\(maxBlocks)"] }
        if let budget { args += ["--budget", budget] }
        if let isolation { args += ["--isolation", isolation] }
        if let s = shard.text { args += ["--shard", s] }
        args += qemuBuilds.arguments
        args += ["--resume", dir]
        return args.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// Records already in a directory being resumed. Only successful runs
    /// count as done: a run whose attempts all failed is tried again (its
    /// failed records stay), as the README says.
    struct ResumeState {
        var records: [RunRecord]
        var done: Set<RunKey> {
            Set(records.filter { $0.status == .ok }.map { RunKey(cellID: $0.cellID, repetition: $0.repetition) })
        }
        var nextSequence: Int { (records.map(\.sequence).max() ?? -1) + 1 }
    }

    /// Reads and checks a directory for `--resume`: it must hold records of
    /// this very matrix (same hash: same file content and overrides).
    static func resumeState(_ dir: String, matrix: Matrix, shardText: String?) throws -> ResumeState {
        let path = dir + "/results.jsonl"
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("--resume: invalid value \"\(dir)\": no results.jsonl there; nothing to resume")
        }
        let records: [RunRecord]
        do { records = try ResultsLog.read(path: path) } catch { throw ValidationError("--resume: \(error)") }
        if let other = records.first(where: { $0.provenance.matrixHash != matrix.hash }) {
            throw ValidationError(
                "--resume: invalid value \"\(dir)\": it holds runs of matrix \(other.provenance.matrixName) (hash \(other.provenance.matrixHash)), not \(matrix.name) (hash \(matrix.hash)); use the same matrix file and overrides")
        }
        if let other = records.first(where: { $0.provenance.shard != shardText }) {
            throw ValidationError(
                "--resume: invalid value \"\(dir)\": it holds \(other.provenance.shard.map { "shard \($0)" } ?? "an unsharded run"), not \(shardText.map { "shard \($0)" } ?? "an unsharded run"); resume with the same --shard")
        }
        return ResumeState(records: records)
    }

    /// `2026-11-27T031500Z`: sortable, and valid on every file system.
    static func timestampDirectoryName() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HHmmss'Z'"
        return f.string(from: Date())
    }
}

/// What `--dry-run` prints.
enum DryRun {
    static let overheadSeconds = Matrix.runOverheadSeconds
    /// Per-slot cost besides the measured window in a shared guest: the
    /// steady-state warm-up (0.15 s at least, 0.22 s mean over a default
    /// run's 156 slots) and the drain and control round trip (~0.03 s).
    static let slotOverheadSeconds = 0.25
    /// `qemu-img create -o preallocation=full` on the project's machine:
    /// 4 GiB in 13.9 s (about 310 MB/s); rounded down, as hosts differ.
    static let allocationBytesPerSecond = 200e6

    static func text(matrix: Matrix, cells: [Cell], runs: Int) -> String {
        let (groups, perRun) = GuestGroup.plan(cells, requested: matrix.pairing.isolation)
        let budget = BlockBudget.from(matrix)
        let blocks = budget.minBlocks == budget.maxBlocks ? "\(budget.minBlocks) blocks" : "\(budget.minBlocks)–\(budget.maxBlocks) blocks"
        var head = "matrix \(matrix.name) (\(matrix.source), hash \(matrix.hash)): \(cells.count) cells"
        if !groups.isEmpty { head += ", \(cells.count - perRun.count) in shared guests x \(blocks)" }
        if !perRun.isEmpty { head += ", \(perRun.count) x \(matrix.repetitions) repeats = \(perRun.count * matrix.repetitions) runs in their own guests" }
        var lines = [head + ", seed \(matrix.seed)"]
        lines.append("")
        let header = ["cell", "kind", "disk", "cluster", "l2_cache_size", "eff_l2", "entry", "l2_cov%", "refcount", "rc_cov%", "clean"]
        var rows = [header]
        for c in cells {
            let e = c.effectiveCache
            rows.append([
                c.id, c.kind == .qcow2 ? (c.state?.rawValue ?? "") : c.kind.rawValue, c.geometry.diskSize.description,
                c.kind == .qcow2 ? c.geometry.clusterSize.description : "-",
                c.kind == .qcow2 ? c.cache.l2CacheSize.description + (c.cache.cacheSize.value.map { " (cache_size \($0))" } ?? "") : "-",
                e.map { $0.l2CacheBytes.description } ?? "-", e.map { $0.l2EntrySize.description } ?? "-",
                e.map { String(format: "%.2f", $0.l2CoveragePercent) } ?? "-",
                e.map { "\(c.cache.refcountCacheSize)->\($0.refcountCacheBytes)" } ?? "-",
                e.map { String(format: "%.2f", $0.refcountCoveragePercent) } ?? "-",
                e.map { "\(c.cache.cacheCleanInterval)->\($0.cacheCleanInterval)s" } ?? "-",
            ])
        }
        let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        for r in rows {
            lines.append(r.enumerated().map { i, v in v.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        lines.append("")
        for g in groups {
            lines.append("shared guest \(g.id): " + g.cells.map { CellLabels(cells: cells).label($0.id) }.joined(separator: ", "))
        }
        for c in perRun {
            lines.append("guest per run: \(CellLabels(cells: cells).label(c.id)) (\(Isolation.sharingObstacle(c) ?? "isolation = guest-per-run"))")
        }
        let slotSeconds = matrix.workload.runtime.seconds + slotOverheadSeconds
        let slots = groups.map(\.cells.count).reduce(0, +)
        let pairedMin = Double(budget.minBlocks * slots) * slotSeconds
        var pairedMax = Double(budget.maxBlocks * slots) * slotSeconds
        if let s = budget.seconds { pairedMax = min(pairedMax, max(s, pairedMin)) }
        let perRunRuns = perRun.count * matrix.repetitions
        let perRunSeconds = Double(perRunRuns) * (Double(matrix.workload.totalMillis) / 1000 + overheadSeconds)
        // `allocated` images are written whole before their guest boots.
        let allocatedBytes = cells.filter { $0.kind == .qcow2 && $0.state == .allocated }.map(\.geometry.diskSize.bytes).reduce(0, +)
        let boot = Double(groups.count) * overheadSeconds + Double(allocatedBytes) / Self.allocationBytesPerSecond
        if budget.targetCI != nil && pairedMax > pairedMin {
            lines.append(String(format: "estimated wall time: %@ to %@ (blocks are added until the CI target is met)",
                                ProgressReporter.clock(pairedMin + perRunSeconds + boot), ProgressReporter.clock(pairedMax + perRunSeconds + boot)))
        } else {
            lines.append(String(format: "estimated wall time: %@", ProgressReporter.clock(pairedMin + perRunSeconds + boot)))
        }
        if allocatedBytes > 0 {
            lines.append(String(format: "  allocated images: %@ written before the first boot (~%.0f s at %.0f MB/s)",
                                ByteSize(allocatedBytes).humanReadable, Double(allocatedBytes) / Self.allocationBytesPerSecond,
                                Self.allocationBytesPerSecond / 1e6))
        }
        lines.append(String(format: "  shared: %d slots per block, %.2f s each (warm-up ~%.2f s); guest per run: %d runs, ~%.1f s boot/prep each",
                            slots, slotSeconds, slotOverheadSeconds, perRunRuns, overheadSeconds))
        return lines.joined(separator: "\n")
    }
}

extension DryRun {
    static func diskText(footprint: DiskFootprint, free: UInt64?, at path: String) -> String {
        let freeText = free.map { ByteSize($0).humanReadable } ?? "unknown"
        let verdict: String
        if let free {
            verdict = footprint.preparedBytes > free
                ? "the images DO NOT FIT: the run would be refused"
                : footprint.worstCaseBytes > free ? "the images fit; the worst case might not" : "fits"
        } else {
            verdict = "cannot check"
        }
        return "host disk: images \(ByteSize(footprint.preparedBytes).humanReadable), worst case with writes \(ByteSize(footprint.worstCaseBytes).humanReadable) (\(footprint.peakCellID ?? "-")) under \(path); \(freeText) free: \(verdict)"
    }
}

/// The end-of-matrix summary on stdout.
enum MatrixSummary {
    static func cellsWithoutSuccess(_ records: [RunRecord]) -> [String] {
        let ok = Set(records.filter { $0.status == .ok }.map(\.cellID))
        return Array(Set(records.map(\.cellID)).subtracting(ok)).sorted()
    }

    static func text(
        records: [RunRecord], planned: Int, wallSeconds: Double, qemuWallSeconds: Double? = nil, outputDirectory: String,
        removal: ImageRemovalFigure? = nil
    ) -> String {
        let measured = records.filter { $0.status == .ok }.compactMap { $0.result?.seconds }.reduce(0, +)
        let failed = records.filter { $0.status == .failed }
        let slots = records.filter { $0.slot != nil }
        let what = slots.isEmpty
            ? String(format: "finished %d of %d runs", records.count, planned)
            : String(format: "finished %d slots in %d blocks and %d runs", slots.count, Set(slots.map(\.repetition)).count, records.count - slots.count)
        var lines = [
            String(format: "%@ (%d failed) in %@; measuring %.0f s = %.1f%% of wall time",
                   what, failed.count, ProgressReporter.clock(wallSeconds), measured,
                   wallSeconds > 0 ? measured / wallSeconds * 100 : 0),
        ]
        if let q = qemuWallSeconds, q > 0 {
            lines.append(String(format: "QEMU ran %.0f s, measuring %.1f%% of it", q, measured / q * 100))
        }
        if let removal, let line = removal.line { lines.append(line) }
        let analysis = PairedAnalysis(records: records)
        if let widest = analysis.widestHalfWidth {
            lines.append(String(format: "widest paired ratio CI: ±%.1f%%; %d of %d slots did not end their warm-up steady, %d had steal above %.0f%%", widest * 100, analysis.unsettledSlots, analysis.slots, analysis.highStealSlots, HostNoise.highStealPercent))
        }
        let bad = cellsWithoutSuccess(records)
        if !bad.isEmpty { lines.append("cells with no successful run: " + bad.joined(separator: ", ")) }
        for r in failed.prefix(10) { lines.append("  failed: \(r.cellID) #\(r.repetition): \(r.failure ?? "?")") }
        if let steal = analysis.steal, steal.isMeasurable {
            lines.append(String(format: "host CPU steal explains %.0f%% of the slot-to-slot IOPS variation (%+.1f%% IOPS per point of steal): see report.md", steal.rSquared * 100, steal.perPoint * 100))
        }
        let files = reportFiles(ResultSet(records: records)).map(\.name)
        lines.append("results: \(outputDirectory)/ (" + (["results.jsonl"] + files).joined(separator: ", ") + ")")
        return lines.joined(separator: "\n")
    }
}

/// How long removing the shared guests' images took, against the probe's
/// per-write estimate the budget used.
struct ImageRemovalFigure {
    var seconds: Double
    var writes: Double
    /// `ImageRemoval.extents`: what the budget's projection counted.
    var extents: Double
    var probedSecondsPerExtent: Double?

    /// "image removal 214 s for 16.81 million writes in ~4.40 million extents
    /// (49 µs each; probed 87 µs)"; nil when nothing was written.
    var line: String? {
        guard writes >= 1, extents >= 1 else { return nil }
        let each = String(format: "%.0f µs each", seconds / extents * 1e6)
        let probe = probedSecondsPerExtent.map { String(format: "; probed %.0f µs", $0 * 1e6) } ?? ""
        return String(
            format: "image removal %.0f s for %.2f million writes in ~%.2f million extents (%@%@)", seconds, writes / 1e6, extents / 1e6, each,
            probe)
    }
}
