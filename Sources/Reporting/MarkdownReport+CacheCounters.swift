import BenchSpec
import Foundation

/// The mechanism behind the IOPS: QEMU's own cache counters per cell against
/// the coverage model, the series' cost model, and what tracing costs.
/// Omitted when no slot was traced. Rows in `ResultSet.cells` order.
func cacheCounterSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    let counters = cellCacheCounters(set)
    guard !counters.isEmpty else { return }
    let models = costModels(set)
    let bySeries = Dictionary(models.map { ($0.series, $0) }, uniquingKeysWith: { a, _ in a })
    md.line("### Cache counters per cell (QEMU's trace)")
    md.blank()
    md.line(
        "Counted from QEMU's qcow2 cache trace events over each slot's measured window, averaged over the traced slots. "
            + "*Model* is `1 - coverage`: what uniform random writes miss once the cache is warm; differences above "
            + "\(fixed(CellCacheCounters.modelTolerance, 2)) misses per write are flagged. *Miss read* is the time QEMU "
            + "spent reading a missing L2 slice (mean of slot means, p50/p99 likewise). *IOPS (traced)* is 1 / mean time per "
            + "write over the traced slots; *Model IOPS* is the series' cost model below at the cell's measured misses "
            + "per write.")
    md.blank()
    var rows: [[String]] = []
    for c in set.cells {
        guard let k = counters[c.cellID] else { continue }
        let model = c.series.flatMap { bySeries[$0] }
        let flag = k.disagreesWithModel ? "**off by \(fixed(k.modelDifference ?? 0, 3))**" : (k.expectedL2MissesPerWrite == nil ? "-" : "ok")
        rows.append([
            set.labels.label(c.cellID),
            c.effective.map { fixed($0.l2CoveragePercent, 2) + "%" } ?? "-",
            fixed(k.l2MissesPerWrite, 3),
            k.expectedL2MissesPerWrite.map { fixed($0, 3) } ?? "-",
            flag,
            fixed(k.refcountMissesPerWrite, 3),
            k.missReadMicros.map { "\(fixed($0, 1)) (\(fixed(k.missReadP50Micros, 0))/\(fixed(k.missReadP99Micros, 0)))" } ?? "-",
            grouped(k.tracedIOPS),
            model?.iops(missesPerWrite: k.l2MissesPerWrite).map(grouped) ?? "-",
            "\(k.slots)",
        ])
    }
    md.table(
        [
            "Cell", "L2 coverage", "L2 misses/write", "Model", "Check", "Refcount misses/write", "Miss read µs mean (p50/p99)",
            "IOPS (traced)", "Model IOPS", "Slots",
        ],
        ["l", "r", "r", "r", "l", "r", "r", "r", "r", "r"], rows)
    md.blank()
    if !models.isEmpty {
        md.line(
            "Cost model per series, least squares over its traced slots: time per write (1/IOPS) = t0 + "
                + "(L2 misses per write) × t_miss, with 95% CIs.")
        md.blank()
        for m in models {
            let predictions = [0.0, 0.5, 1.0].compactMap { c in m.iops(coverage: c).map { "\(grouped($0)) at \(fixed(c * 100, 0))%" } }
            md.line(
                "- \(m.series.label): t0 = \(fixed(m.t0Micros, 2)) µs (CI \(fixed(m.t0Micros - m.fit.interceptCI, 2))–"
                    + "\(fixed(m.t0Micros + m.fit.interceptCI, 2))), t_miss = \(fixed(m.tMissMicros, 2)) µs (CI "
                    + "\(fixed(m.tMissMicros - m.fit.slopeCI, 2))–\(fixed(m.tMissMicros + m.fit.slopeCI, 2))), "
                    + "\(m.fit.points) slots; predicts IOPS " + predictions.joined(separator: ", ") + " coverage.")
        }
        md.blank()
    }
    if let o = TraceOverhead(records: set.records) {
        md.line(
            "Tracing overhead (each traced block paired with the next, untraced block of the same cell): traced/untraced "
                + "IOPS \(ratioText(o.pooled)), \(o.pooled.blocks) pairs over \(o.cells) cells"
                + (o.iothreadCPU.map { "; QEMU I/O-thread CPU per write \(ratioText($0))" } ?? "") + ".")
        md.blank()
    }
}

/// The mechanism in one figure and a few lines, near the top: misses per
/// write against the `1 - c` model, and what a miss costs.
func cacheCounterSummary(_ set: ResultSet, figure: String?, into md: inout MarkdownWriter) {
    let counters = cellCacheCounters(set)
    guard !counters.isEmpty else { return }
    md.line("## Why: L2 cache misses per write (QEMU's trace)")
    md.blank()
    let checked = set.cells.filter { counters[$0.cellID]?.expectedL2MissesPerWrite != nil }
    let off = checked.filter { counters[$0.cellID]?.disagreesWithModel ?? false }
    var lines: [String] = []
    if checked.isEmpty {
        lines.append("No cell has a coverage model to check (non-uniform offsets).")
    } else if off.isEmpty {
        let worst = checked.compactMap { counters[$0.cellID]?.modelDifference.map(abs) }.max() ?? 0
        lines.append(
            "Measured misses per write follow the model `1 - coverage` in all \(checked.count) qcow2 cells (largest "
                + "difference \(fixed(worst, 3)), within \(fixed(CellCacheCounters.modelTolerance, 2))).")
    } else {
        let names = off.map { c in
            "\(set.labels.label(c.cellID)) (\(fixed(counters[c.cellID]?.l2MissesPerWrite ?? 0, 3)) against \(fixed(counters[c.cellID]?.expectedL2MissesPerWrite ?? 0, 3)))"
        }
        lines.append(
            "**Off the model `1 - coverage` by more than \(fixed(CellCacheCounters.modelTolerance, 2))**: "
                + names.joined(separator: ", ") + ".")
    }
    let reads = set.cells.compactMap { counters[$0.cellID]?.missReadMicros }
    let models = costModels(set)
    for m in models {
        lines.append(
            "Per miss, a write costs \(fixed(m.tMissMicros, 1)) µs more (CI \(fixed(m.tMissMicros - m.fit.slopeCI, 1))–"
                + "\(fixed(m.tMissMicros + m.fit.slopeCI, 1))\(models.count > 1 ? "; \(m.series.label)" : ""))"
                + (reads.isEmpty ? "" : ", against a measured miss read of \(fixed(reads.reduce(0, +) / Double(reads.count), 1)) µs")
                + ": a miss holds the image's lock while its slice is read.")
    }
    md.line(lines.joined(separator: " ") + " Per-cell counters and the cost model are in the appendix.")
    md.blank()
    if let figure {
        md.line("![L2 cache misses per write against coverage, measured and modelled](\(figure))")
        md.blank()
    }
}
