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

/// Mean over a cell's successful runs of QEMU's peak resident memory, MiB.
func peakRSSMiB(_ set: ResultSet, _ cellID: String) -> Double? {
    let peaks = set.records.filter { $0.cellID == cellID && $0.succeeded }.compactMap { $0.memory?.peakKiB }
    return SampleStats(peaks.map { Double($0) / 1024 })?.mean
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
            md.line("Cells with \(sample.geometry.diskSize) disk, \(sample.geometry.clusterSize) clusters, \((sample.state ?? .preallocated).rawValue), L2 setting \(sample.cache.l2CacheSize):")
            md.blank()
            let rows = group.map { c -> [String] in
                let vsBest = (c.iops?.mean).flatMap { m in best.map { fixed(m / $0 * 100, 1) + "%" } } ?? "-"
                return [
                    knob.setting(c.cell), knob.effective(c), iopsText(c), vsBest, fixed(c.latencyP99Us, 1),
                    peakRSSMiB(set, c.cellID).map { fixed($0, 1) } ?? "-",
                ]
            }
            md.table(
                [knob.option, "Effective", "IOPS mean ± CI95 (n)", "vs best here", "p99 µs", "Peak RSS MiB"],
                ["r", "r", "r", "r", "r", "r"], rows)
            md.blank()
        }
    }
}
