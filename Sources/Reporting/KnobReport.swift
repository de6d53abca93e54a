import BenchSpec
import GuestWire
import Qcow2Geometry

/// One cache option the matrix can vary besides `l2-cache-size` (which has
/// the coverage table and plot): what it is, how to read a cell's setting
/// and QEMU's effective value, and why it may show nothing.
struct Knob: Sendable {
    let title: String
    let option: String
    let setting: @Sendable (Cell) -> String
    let effective: @Sendable (CellSummary) -> String
    /// The same cell with this knob reset, so cells differing only in the
    /// knob share a key.
    let neutral: @Sendable (Cell) -> Cell
    let note: String

    static let all: [Knob] = [
        Knob(
            title: "Refcount cache size", option: "refcount-cache-size",
            setting: { $0.cache.refcountCacheSize.description },
            effective: { c in c.effective.map { "\($0.refcountCacheBytes) (\(fixed($0.refcountCoveragePercent, 2))% of the disk)" } ?? "-" },
            neutral: { var c = $0; c.cache.refcountCacheSize = .default; return c },
            note: "The refcount cache is used only when clusters are allocated or copied: on `fresh`, `snapshot` and `overlay` images. On a `preallocated` image it is not on the write path, so no effect is expected there."),
        Knob(
            title: "Cache clean interval", option: "cache-clean-interval",
            setting: { $0.cache.cacheCleanInterval.description },
            effective: { c in c.effective.map { "\($0.cacheCleanInterval) s" } ?? "-" },
            neutral: { var c = $0; c.cache.cacheCleanInterval = .default; return c },
            note: "Unused cache entries are freed (QEMU `madvise(MADV_DONTNEED)`) once they have been idle for the interval, so its effect is on QEMU's resident memory while the guest is idle longer than the interval, and on the IOPS right after the idle phase, when the cache refills. Without an idle phase in the workload, no effect is expected."),
        Knob(
            title: "L2 cache entry size", option: "l2-cache-entry-size",
            setting: { $0.cache.l2CacheEntrySize.description },
            effective: { c in c.effective.map { "\($0.l2EntrySize) (\($0.l2Entries) entries)" } ?? "-" },
            neutral: { var c = $0; c.cache.l2CacheEntrySize = .default; return c },
            note: "Smaller entries make each cache miss cheaper (one 4 KiB slice read instead of a whole L2 table) and let the same memory hold tables for more of the disk, when coverage is partial."),
        Knob(
            title: "Image state", option: "image state",
            setting: { ($0.state ?? .preallocated).rawValue },
            effective: { _ in "-" },
            neutral: { var c = $0; c.state = .preallocated; return c },
            note: "What a write costs besides the L2 lookup: nothing (`preallocated`), a cluster allocation with refcount updates (`fresh`), a copy-on-write with refcount updates (`snapshot`), an allocation in the overlay plus a read from the backing file (`overlay`)."),
    ]
}

extension Knob {
    /// What the cells of one table share: the image and every setting except
    /// this knob, non-default settings named, so two tables of one knob
    /// never read the same.
    func groupLabel(_ cell: Cell) -> String {
        let c = cell.cache
        var parts = ["\(cell.geometry.diskSize) disk", "\(cell.geometry.clusterSize) clusters"]
        if option != "image state" { parts.append((cell.state ?? .preallocated).rawValue) }
        parts.append("L2 setting \(c.l2CacheSize)")
        if option != "l2-cache-entry-size", let e = c.l2CacheEntrySize.value { parts.append("entry size \(e)") }
        if option != "refcount-cache-size", let r = c.refcountCacheSize.value { parts.append("refcount cache \(r)") }
        if option != "cache-clean-interval", let i = c.cacheCleanInterval.value { parts.append("clean interval \(i) s") }
        if let b = c.cacheSize.value { parts.append("cache-size \(b)") }
        return parts.joined(separator: ", ")
    }
}

/// Mean over a cell's successful runs of QEMU's peak resident memory, MiB.
func peakRSSMiB(_ set: ResultSet, _ cellID: String) -> Double? {
    let peaks = set.records.filter { $0.cellID == cellID && $0.succeeded }.compactMap { $0.memory?.peakKiB }
    return SampleStats(peaks.map { Double($0) / 1024 })?.mean
}

/// What a cell's first idle phase did, averaged over its successful runs:
/// QEMU's RSS when the idle phase started and when it ended (host samples
/// at the guest's phase markers), and the IOPS of the write phase before it
/// against the first second of the write phase after it.
struct IdleEffect {
    var rssAtStartMiB: Double?
    var rssAtEndMiB: Double?
    var iopsBefore: Double?
    var recoveryIOPS: Double?
    var idleSeconds: Double

    var releasedMiB: Double? {
        guard let a = rssAtStartMiB, let b = rssAtEndMiB else { return nil }
        return a - b
    }
}

func idleEffect(_ set: ResultSet, _ cellID: String) -> IdleEffect? {
    var starts: [Double] = []
    var ends: [Double] = []
    var before: [Double] = []
    var recovery: [Double] = []
    var idleSeconds = 0.0
    for r in set.records where r.cellID == cellID && r.succeeded {
        guard let phases = r.result?.phases, let i = phases.firstIndex(where: { !$0.phase.isWrite }) else { continue }
        idleSeconds = Double(phases[i].phase.millis) / 1000
        if i > 0 { before.append(phases[i - 1].iops) }
        if i + 1 < phases.count, let first = phases[i + 1].perSecondOps.first { recovery.append(Double(first)) }
        let marks = r.phaseMarks ?? []
        if let m = r.memory {
            if let s = marks.first(where: { $0.label == "idle-start \(i)" }), let k = m.sample(atMillis: s.atMillis) {
                starts.append(Double(k.kib) / 1024)
            }
            if let e = marks.first(where: { $0.label == "idle-end \(i)" }), let k = m.sample(atMillis: e.atMillis) {
                ends.append(Double(k.kib) / 1024)
            }
        }
    }
    guard idleSeconds > 0 else { return nil }
    return IdleEffect(
        rssAtStartMiB: SampleStats(starts)?.mean, rssAtEndMiB: SampleStats(ends)?.mean,
        iopsBefore: SampleStats(before)?.mean, recoveryIOPS: SampleStats(recovery)?.mean, idleSeconds: idleSeconds)
}

/// Sections of report.md for the knobs other than the L2 cache size: for
/// each knob, the groups of qcow2 cells that differ only in it, with their
/// IOPS and memory, or a sentence saying the matrix did not vary it.
func knobSections(_ set: ResultSet, into md: inout MarkdownWriter) {
    let cells = set.cells.filter { !$0.isReference }
    guard !cells.isEmpty else { return }
    md.line("## The other knobs")
    md.blank()
    md.line("Each table compares qcow2 cells that differ only in one setting. *Peak RSS* is the QEMU process's highest resident memory during a run (mean over runs): the cache's memory cost shows there, on top of guest RAM and QEMU itself.")
    md.blank()
    for knob in Knob.all {
        md.line("### \(knob.title)")
        md.blank()
        md.line(knob.note)
        md.blank()
        var groups: [String: [CellSummary]] = [:]
        var order: [String] = []
        for c in cells {
            let key = knob.neutral(c.cell).id
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(c)
        }
        let varied = order.compactMap { k -> [CellSummary]? in
            let g = groups[k] ?? []
            return Set(g.map { knob.setting($0.cell) }).count > 1 ? g : nil
        }
        if varied.isEmpty {
            md.line("Not varied in this matrix (every cell uses \(Set(cells.map { knob.setting($0.cell) }).sorted().joined(separator: ", "))).")
            md.blank()
            continue
        }
        for group in varied {
            let best = group.compactMap { $0.iops?.mean }.max()
            let sample = group[0].cell
            md.line("Cells with \(knob.groupLabel(sample)):")
            md.blank()
            let idle = group.map { idleEffect(set, $0.cellID) }
            let showIdle = idle.contains { $0 != nil }
            let rows = zip(group, idle).map { c, e -> [String] in
                let vsBest = (c.iops?.mean).flatMap { m in best.map { fixed(m / $0 * 100, 1) + "%" } } ?? "-"
                var row = [
                    knob.setting(c.cell), knob.effective(c), iopsText(c), vsBest, fixed(c.latencyP99Us, 1),
                    peakRSSMiB(set, c.cellID).map { fixed($0, 1) } ?? "-",
                ]
                if showIdle {
                    row += [
                        fixed(e?.rssAtStartMiB, 1), fixed(e?.rssAtEndMiB, 1), fixed(e?.releasedMiB, 1),
                        e?.iopsBefore.map(grouped) ?? "-", e?.recoveryIOPS.map(grouped) ?? "-",
                    ]
                }
                return row
            }
            var header = [knob.option, "Effective", "IOPS mean ± CI95 (n)", "vs best here", "p99 µs", "Peak RSS MiB"]
            if showIdle {
                header += ["RSS idle start MiB", "RSS idle end MiB", "Released MiB", "IOPS before idle", "IOPS 1st s after"]
            }
            md.table(header, Array(repeating: "r", count: header.count), rows)
            md.blank()
            if showIdle, let e = idle.compactMap({ $0 }).first {
                md.line("The idle phase lasted \(fixed(e.idleSeconds, 0)) s. *Released* is RSS at the start of the first idle phase minus RSS at its end (QEMU samples every 250 ms, timed on the guest's phase markers). *IOPS 1st s after* is the first second of the write phase that follows, while emptied caches refill; *IOPS before idle* the mean of the write phase before it.")
                md.blank()
            }
        }
    }
}

/// Multi-phase cells: each phase's IOPS (mean over successful runs) and the
/// first second of each write phase, so recovery after idling is visible.
func phaseSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    let cells = set.cells.filter { !$0.cell.workload.phases.isEmpty }
    guard !cells.isEmpty else { return }
    md.line("## Phases")
    md.blank()
    md.line("Workloads with phases measure each write phase on its own; idle phases issue no I/O. Means over the successful runs of each cell.")
    md.blank()
    var rows: [[String]] = []
    for c in cells {
        let runs = set.records.filter { $0.cellID == c.cellID && $0.succeeded }.compactMap { $0.result?.phases }
        for (i, phase) in c.cell.workload.phases.enumerated() {
            let iops = SampleStats(runs.compactMap { $0.count > i ? $0[i].iops : nil })
            let first = SampleStats(runs.compactMap { $0.count > i ? $0[i].perSecondOps.first.map { Double($0) } : nil })
            rows.append([
                code(c.cellID), "\(i + 1)", phase.description,
                phase.isWrite ? (iops.map { grouped($0.mean) } ?? "-") : "-",
                phase.isWrite ? (first.map { grouped($0.mean) } ?? "-") : "-",
            ])
        }
    }
    md.table(["Cell", "#", "Phase", "IOPS", "IOPS in 1st s"], ["l", "r", "l", "r", "r"], rows)
    md.blank()
}
