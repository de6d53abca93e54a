import BenchResults
import BenchSpec
import GuestWire
import Qcow2Geometry

/// `report.md`: the human-readable summary of a result set, one section
/// per question the matrix asks, details in an appendix.
///
/// Sections, in order: title (matrix name) and what was run; the L2 (or
/// cache-size) sweep, when a series has at least two measured cells (table,
/// `plotFile`, knee, verdicts, one recommendation per sweep); cache misses
/// from QEMU's trace (`misses.svg`), when slots were traced; one section per
/// other knob the matrix varies (`Knob.all` order, with its figure); then
/// the appendix: every cell, paired ratios in full, cache counters, phases,
/// environment and QEMU command line, the libvirt note, failed runs.
///
/// The text depends only on the records: no clock is read (dates are the
/// records' `startedAt`), and numbers have fixed decimals.
public func markdownReport(_ set: ResultSet, plotFile: String = "coverage.svg") -> String {
    var md = MarkdownWriter()
    let first = set.records.first?.provenance
    let title = first.map { "qcow2 cache benchmark: \($0.matrixName)" } ?? "qcow2 cache benchmark"
    md.line("# \(title)")
    md.blank()
    guard !set.records.isEmpty else {
        md.line("No run records: nothing was measured.")
        return md.text
    }
    let failed = set.failures.count
    let slots = set.records.filter { $0.slot != nil }
    var intro: String
    if slots.isEmpty {
        intro =
            "\(set.records.count) runs of \(set.cells.count) cells, each run in its own guest, \(failed) failed. "
            + "IOPS are means over a cell's runs ± the half-width of their 95% CI."
    } else {
        let blocks = Set(slots.map(\.repetition)).count
        let perRun = set.records.count - slots.count
        intro =
            "\(slots.count) slots in \(blocks) blocks" + (perRun > 0 ? " and \(perRun) runs in their own guests" : "")
            + " of \(set.cells.count) cells, \(failed) failed. Paired ratios (cells in one guest, block by block) are the "
            + "result; absolute IOPS drift with the host."
    }
    if let p = first { intro += " QEMU \(p.qemuVersion.split(separator: " ").first ?? ""), \(p.accel); details in the appendix." }
    md.line(intro)
    md.blank()
    if failed > 0 {
        md.line("**\(failed) run\(failed == 1 ? "" : "s") failed**: see *Failed runs* in the appendix.")
        md.blank()
    }
    let analyses = knobAnalyses(set)
    let figures = Set(reportFigures(set, analyses).map(\.name))
    let swept = sweepSection(set, analyses, plotFile: plotFile, into: &md)
    cacheCounterSummary(set, figure: figures.contains("misses.svg") ? "misses.svg" : nil, into: &md)
    knobSections(set, analyses, figures: figures, into: &md)
    if !swept && analyses.isEmpty {
        md.line("This matrix neither sweeps the L2 cache nor varies another knob: see the cells in the appendix.")
        md.blank()
    }
    md.line("## Appendix")
    md.blank()
    // The plot is linked once: in the sweep section, or here when it has
    // something to show (not the "no series varies the L2 cache" notice).
    allCellsSection(set, plotFile: swept || !set.series.isEmpty ? nil : plotFile, into: &md)
    pairedSection(set, into: &md)
    buildsSection(set, into: &md)
    cacheCounterSection(set, into: &md)
    phaseSection(set, into: &md)
    environmentSection(set, into: &md)
    if swept { libvirtNote(into: &md) }
    failureSection(set, into: &md)
    return md.text
}

/// A file `bench report` derives from the records.
public struct ReportFile: Hashable, Sendable {
    public let name: String
    public let text: String
}

/// Every file `bench report` writes next to `results.jsonl`, in write
/// order: the CSVs, `report.md`, `coverage.svg`, then the figures the
/// report links (`misses.svg`, one per varied knob).
public func reportFiles(_ set: ResultSet) -> [ReportFile] {
    [
        ReportFile(name: "runs.csv", text: runsCSV(set)),
        ReportFile(name: "cells.csv", text: cellsCSV(set)),
        ReportFile(name: "report.md", text: markdownReport(set, plotFile: "coverage.svg")),
        ReportFile(name: "coverage.svg", text: coverageSVG(set)),
    ] + reportFigures(set, knobAnalyses(set))
}

/// Whether `name` is a figure `bench report` writes (`coverage.svg`,
/// `misses.svg`, a knob's `<slug>.svg` or `<slug>-N.svg`), so that a rebuild
/// can remove the ones the records no longer produce and leave other files.
public func isReportFigure(_ name: String) -> Bool {
    guard name.hasSuffix(".svg") else { return false }
    let base = String(name.dropLast(4))
    if base == "coverage" || base == "misses" { return true }
    return Knob.all.contains { knob in
        guard base.hasPrefix(knob.slug) else { return false }
        let rest = base.dropFirst(knob.slug.count)
        if rest.isEmpty { return true }
        guard rest.first == "-" else { return false }
        let digits = rest.dropFirst()
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
    }
}

/// The figures besides `coverage.svg`: cache misses when traced; per
/// varied knob, the RSS plot of each clean-interval group with memory
/// samples and an idle phase, else ratio bars.
func reportFigures(_ set: ResultSet, _ analyses: [KnobAnalysis]) -> [ReportFile] {
    var out: [ReportFile] = []
    if let svg = missesSVG(set) { out.append(ReportFile(name: "misses.svg", text: svg)) }
    let sub = figureSubtitle(set)
    for a in analyses {
        if a.knob.slug == "clean-interval" {
            let plots = a.groups.enumerated().compactMap { i, g in
                RSSPlot(set, group: g, subtitle: sub + (g.place.isEmpty ? "" : "; \(g.place)")).map { (i, $0) }
            }
            if !plots.isEmpty {
                for (i, p) in plots { out.append(ReportFile(name: a.figureName(i), text: p.render())) }
                continue
            }
        }
        out.append(ReportFile(name: a.figureName(), text: ratioBarsSVG(a, subtitle: sub)))
    }
    return out
}

/// `QEMU 7.2.22, tcg`: the first record's, for figure subtitles.
func figureSubtitle(_ set: ResultSet) -> String {
    guard let p = set.records.first?.provenance else { return "" }
    return "QEMU \(p.qemuVersion.split(separator: " ").first ?? ""), \(p.accel)"
}

/// Accumulates lines; every line ends with LF.
struct MarkdownWriter {
    var text = ""
    mutating func line(_ s: String) { text += s + "\n" }
    mutating func blank() { text += "\n" }
    mutating func table(_ header: [String], _ align: [String], _ rows: [[String]]) {
        line("| " + header.joined(separator: " | ") + " |")
        line("|" + align.map { $0 == "r" ? "---:" : "---" }.joined(separator: "|") + "|")
        for r in rows { line("| " + r.map(markdownCell).joined(separator: " | ") + " |") }
    }
}

// MARK: - Environment

private func environmentSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    md.line("### Environment")
    md.blank()
    let p = set.records.map(\.provenance)
    /// Distinct values in order of first appearance, with their run counts.
    func distinct(_ f: (Provenance) -> String) -> [(value: String, runs: Int)] {
        var out: [(value: String, runs: Int)] = []
        for v in p.map(f) {
            if let i = out.firstIndex(where: { $0.value == v }) { out[i].runs += 1 } else { out.append((v, 1)) }
        }
        return out
    }
    let fields: [(name: String, values: [(value: String, runs: Int)])] = [
        ("QEMU version", distinct(\.qemuVersion)),
        ("Accelerator", distinct { "\($0.accel) (\($0.accelReason))" }),
        ("Guest kernel", distinct(\.guestKernel)),
        ("Host CPU", distinct(\.hostCPU)),
        ("Host kernel", distinct(\.hostKernel)),
        ("Image file system", distinct(\.imageFilesystem)),
        ("Harness git revision", distinct(\.gitRevision)),
        ("Matrix", distinct { "\($0.matrixName) (hash \($0.matrixHash))" }),
        ("Seed", distinct { "\($0.seed)" }),
    ]
    var rows: [[String]] = fields.map { f in
        let text =
            f.values.count == 1
            ? (f.values.first?.value ?? "")
            : f.values.map { "\($0.value) (\($0.runs) runs)" }.joined(separator: "; ")
        return [f.name, text]
    }
    let starts = p.map(\.startedAt).sorted()
    if let lo = starts.first, let hi = starts.last {
        rows.append(["Started (UTC)", lo == hi ? lo : "\(lo) to \(hi)"])
    }
    var hostIO: [String] = []
    var workloads: [String] = []
    for c in set.cells {
        let h = "cache=\(c.cell.hostIO.cache), aio=\(c.cell.hostIO.aio)"
        if !hostIO.contains(h) { hostIO.append(h) }
        let w = workloadDescription(c.cell.workload)
        if !workloads.contains(w) { workloads.append(w) }
    }
    rows.append(["Host I/O", hostIO.joined(separator: "; ")])
    rows.append(["Workload", workloads.joined(separator: "; ")])
    md.table(["Property", "Value"], ["l", "l"], rows)
    md.blank()
    let disagreeing = fields.filter { $0.values.count > 1 }.map(\.name)
    if !disagreeing.isEmpty {
        md.line(
            "**Warning:** the records disagree on " + disagreeing.joined(separator: ", ")
                + ". Numbers measured in different environments are not directly comparable.")
        md.blank()
    }
    if let example = set.records.first(where: { $0.cell.kind == .qcow2 }) ?? set.records.first {
        md.line("QEMU command line of run \(example.sequence) (\(set.labels.label(example.cellID)), `\(example.cellID)`):")
        md.blank()
        md.line("```")
        md.line(example.provenance.qemuCommandLine.map(shellQuoted).joined(separator: " "))
        md.line("```")
        md.blank()
    }
}

/// An argv element as a POSIX shell would need it.
func shellQuoted(_ arg: String) -> String {
    let safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=,./:@%+"
    if !arg.isEmpty, arg.allSatisfy({ safe.contains($0) }) { return arg }
    var out = "'"
    for ch in arg {
        if ch == "'" { out += "'\\''" } else { out.append(ch) }
    }
    return out + "'"
}

// MARK: - Coverage table

/// Every cell with its settings, effective cache and IOPS; with `plotFile`
/// when the report has no sweep section to show the plot.
private func allCellsSection(_ set: ResultSet, plotFile: String?, into md: inout MarkdownWriter) {
    md.line("### All cells")
    md.blank()
    md.line(
        "*Effective L2* is the cache QEMU builds for the requested setting (a maximum, capped at what covers "
            + "the whole image; entry size 4 KiB unless the cache covers the whole image or the matrix pins it). "
            + "*Coverage* is the share of the virtual disk its tables map (`l2_cache_size * cluster_size / 8`). "
            + "*vs best* compares with the best qcow2 cell of the same disk size, workload and host I/O; "
            + "*vs ceiling* with the `null-co` cell (guest + driver, no storage).")
    md.blank()
    var rows: [[String]] = []
    for c in set.cells {
        let isQcow2 = c.kind == .qcow2
        let e = c.effective
        rows.append([
            set.labels.label(c.cellID),
            isQcow2 ? (c.cell.state ?? .preallocated).rawValue : c.kind.rawValue,
            isQcow2 ? c.cell.geometry.clusterSize.description : "-",
            isQcow2 ? c.cell.cache.l2CacheSize.description : "-",
            e.map { "\($0.l2CacheBytes.exactBinary) (\($0.l2EntrySize.exactBinary) entries)" } ?? "-",
            e.map { fixed($0.l2CoveragePercent, 2) + "%" } ?? "-",
            iopsText(c),
            c.vsBestPercent.map { fixed($0, 1) + "%" } ?? "-",
            c.vsCeilingPercent.map { fixed($0, 1) + "%" } ?? "-",
            c.latencyP99Us.map { fixed($0, 1) } ?? "-",
        ])
    }
    md.table(
        [
            "Cell", "State", "Cluster", "L2 setting", "Effective L2", "L2 coverage", "IOPS mean ± CI95 (n)", "vs best",
            "vs ceiling", "p99 µs",
        ],
        ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r"], rows)
    md.blank()
    if let plotFile {
        md.line("![IOPS against effective L2 cache coverage](\(plotFile))")
        md.blank()
    }
}

// MARK: - Paired ratios

/// `0.412 (0.398–0.427)`.
func ratioText(_ r: PairedRatio?) -> String {
    guard let r else { return "-" }
    return "\(fixed(r.ratio, 3)) (\(fixed(r.low, 3))–\(fixed(r.high, 3)))"
}

/// The cells that shared a guest, as ratios measured block by block: the
/// numbers this tool resolves best, so they come first.
private func pairedSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    let p = set.paired
    guard p.slots > 0 else { return }
    md.line("### Paired ratios in full (cells in one guest, randomized complete blocks)")
    md.blank()
    md.line(
        "Each block runs every cell of a guest once, in a shuffled order; a ratio is the geometric mean over blocks of "
            + "the cell's IOPS divided by its reference's in the same block, with a 95% CI (t interval on the log ratios). "
            + "The reference is the series' largest effective L2 cache; *vs null-co* uses the guest's null-co control. "
            + "*CPU/write ratio* compares QEMU's CPU time per write the same way (above 1: cheaper than the reference).")
    md.blank()
    var rows: [[String]] = []
    for c in set.cells {
        guard p.vsNull[c.cellID] != nil || p.vsReference[c.cellID] != nil else { continue }
        let ref = p.vsReference[c.cellID]
        rows.append([
            set.labels.label(c.cellID),
            c.effective.map { fixed($0.l2CoveragePercent, 2) + "%" } ?? "-",
            ref.map { _ in ratioText(ref) } ?? (c.kind == .qcow2 ? "reference" : "-"),
            ref.map { set.labels.label($0.referenceCellID) } ?? "",
            ratioText(p.vsNull[c.cellID]),
            ratioText(p.cpuVsReference[c.cellID]),
        ] + (p.stealAdjustedVsReference.isEmpty ? [] : [ratioText(p.stealAdjustedVsReference[c.cellID])]) + [
            "\((ref ?? p.vsNull[c.cellID])?.blocks ?? 0)",
        ])
    }
    let adjustedColumn = p.stealAdjustedVsReference.isEmpty ? [] : ["Steal-adjusted ratio (CI95)"]
    md.table(
        ["Cell", "L2 coverage", "IOPS ratio vs reference (CI95)", "Reference", "vs null-co (CI95)", "CPU/write ratio (CI95)"]
            + adjustedColumn + ["Blocks"],
        ["l", "r", "r", "l", "r", "r"] + adjustedColumn.map { _ in "r" } + ["r"], rows)
    md.blank()
    md.line(
        "\(p.slots) slots; \(p.unsettledSlots) ended their warm-up at the cap instead of steady IOPS; "
            + "\(p.highStealSlots) had host CPU steal above \(fixed(HostNoise.highStealPercent, 0))%.")
    md.blank()
}

/// How wide the ratio CIs would be without the host's steal: the widest
/// measured and steal-adjusted half-widths over the same cells.
func stealAdjustedText(_ p: PairedAnalysis) -> String {
    let ids = p.stealAdjustedVsReference.keys.filter { p.vsReference[$0] != nil }
    guard !ids.isEmpty else { return "" }
    let measured = ids.compactMap { p.vsReference[$0]?.halfWidth }.max() ?? 0
    let adjusted = ids.compactMap { p.stealAdjustedVsReference[$0]?.halfWidth }.max() ?? 0
    return " Taking every slot to zero steal along that slope, the widest ratio CI against the reference would be ±"
        + fixed(adjusted * 100, 1) + "% instead of ±" + fixed(measured * 100, 1)
        + "% (appendix: the steal-adjusted ratios; the results above are the measured ones)."
}

/// The A/A check (identical cells) and whether neighbouring coverages are resolved.
func pairedVerdicts(_ set: ResultSet) -> [String] {
    var lines: [String] = []
    let p = set.paired
    for (id, r) in p.vsReference.sorted(by: { $0.key < $1.key }) {
        guard let a = set.cells.first(where: { $0.cellID == id }), let b = set.cells.first(where: { $0.cellID == r.referenceCellID }),
            let ea = a.effective, let eb = b.effective, ea == eb
        else { continue }
        let verdict =
            r.differs
            ? "**the CI excludes 1: identical cells differ, so differences of this size are not resolved**" : "the CI contains 1, as it must"
        lines.append(
            "- **A/A check**: \(set.labels.label(id)) and \(set.labels.label(r.referenceCellID)) are the same cache "
                + "(\(eb.l2CacheBytes.exactBinary) L2): ratio \(ratioText(r)), \(r.blocks) blocks; \(verdict).")
    }
    for series in set.series {
        // Each cell's ratio against the series reference; the reference is 1.
        var points: [(cell: CellSummary, low: Double, high: Double)] = []
        for c in set.cells(in: series) {
            if let r = p.vsReference[c.cellID] {
                points.append((c, r.low, r.high))
            } else if p.vsReference.values.contains(where: { $0.referenceCellID == c.cellID }) {
                points.append((c, 1, 1))
            }
        }
        // Neighbouring distinct cache sizes, smallest first; identical caches are the A/A check above.
        var byBytes: [(cell: CellSummary, low: Double, high: Double)] = []
        for point in points.sorted(by: { ($0.cell.effective?.l2CacheBytes.bytes ?? 0) < ($1.cell.effective?.l2CacheBytes.bytes ?? 0) }) {
            if let last = byBytes.last, last.cell.effective?.l2CacheBytes == point.cell.effective?.l2CacheBytes {
                if last.low == 1 && last.high == 1 { continue }  // keep the reference for its size
                byBytes[byBytes.count - 1] = point
                continue
            }
            byBytes.append(point)
        }
        for (a, b) in zip(byBytes, byBytes.dropFirst()) {
            let resolved = a.high < b.low || b.high < a.low
            lines.append(
                "- \(set.labels.label(a.cell.cellID)) vs \(set.labels.label(b.cell.cellID)): "
                    + (resolved ? "resolved (CIs do not overlap)" : "**not resolved** (CIs overlap)") + ".")
        }
    }
    if !lines.isEmpty { lines.append("") }
    return lines
}

/// `18,234 ± 312 (n=3)`; without an interval `18,234 (n=1)`.
func iopsText(_ c: CellSummary) -> String {
    guard let s = c.iops else { return "no successful run" }
    if let ci = s.ci95 { return "\(grouped(s.mean)) ± \(grouped(ci)) (n=\(s.count))" }
    return "\(grouped(s.mean)) (n=\(s.count))"
}

// MARK: - The L2 sweep

/// The series with at least two measured cells: the ones that have a knee.
func sweptSeries(_ set: ResultSet) -> [SeriesKey] {
    set.series.filter { set.cells(in: $0).filter { $0.iops != nil }.count >= 2 }
}

/// The cell a series' ratios are taken against: paired runs name it; for
/// unpaired runs, the largest effective L2 cache (then the higher mean).
func seriesReference(_ set: ResultSet, _ series: SeriesKey) -> CellSummary? {
    let cells = set.cells(in: series).filter { $0.iops != nil }
    if let id = cells.lazy.compactMap({ set.paired.vsReference[$0.cellID]?.referenceCellID }).first {
        return set.cells.first { $0.cellID == id }
    }
    return cells.max { a, b in
        let la = a.effective?.l2CacheBytes.bytes ?? 0
        let lb = b.effective?.l2CacheBytes.bytes ?? 0
        if la != lb { return la < lb }
        return (a.iops?.mean ?? 0) < (b.iops?.mean ?? 0)
    }
}

/// `0.412 (0.398–0.427)` for a ratio from either method.
func ratioText(_ r: CellRatio?) -> String {
    guard let r else { return "-" }
    return "\(fixed(r.ratio, 3)) (\(fixed(r.low, 3))–\(fixed(r.high, 3)))"
}

/// The L2 (or cache-size) sweep: table, plot, knee, verdicts and one
/// recommendation per swept series. False (and nothing written) when no
/// series has two measured cells: a single point has no knee.
private func sweepSection(_ set: ResultSet, _ analyses: [KnobAnalysis], plotFile: String, into md: inout MarkdownWriter) -> Bool {
    let swept = sweptSeries(set)
    guard !swept.isEmpty else { return false }
    let byCacheSize = swept.allSatisfy(\.sizedByCacheSize)
    md.line(byCacheSize ? "## cache-size: how much budget does the L2 cache need?" : "## L2 cache size: where is the knee?")
    md.blank()
    md.line(
        "*Coverage* is the share of the virtual disk the effective L2 cache maps (`l2_cache_size * cluster_size / 8`); "
            + "ratios are against the series' largest cache, and against `null-co` (guest + driver, no storage), with 95% CIs.")
    md.blank()
    let inKnobs = Set(analyses.flatMap { $0.groups.flatMap { $0.cells.map(\.cellID) } })
    let sweptSet = Set(swept)
    let shown = set.cells.filter { c in
        guard let s = c.series else { return c.iops != nil }
        return sweptSet.contains(s) || !inKnobs.contains(c.cellID)
    }
    var methods = Set<CellRatio.Method>()
    var rows: [[String]] = []
    for c in shown {
        let e = c.effective
        var vsRef = "-"
        if let s = c.series, sweptSet.contains(s), let ref = seriesReference(set, s) {
            if ref.cellID == c.cellID {
                vsRef = "reference"
            } else if let r = CellRatio.of(c.cellID, over: ref.cellID, in: set.records) {
                methods.insert(r.method)
                vsRef = ratioText(r)
            }
        }
        var vsNull = "-"
        if c.kind != .null, let n = set.ceiling(for: c), let r = CellRatio.of(c.cellID, over: n.cellID, in: set.records) {
            methods.insert(r.method)
            vsNull = ratioText(r)
        }
        rows.append([
            set.labels.label(c.cellID),
            e.map { "\($0.l2CacheBytes.exactBinary) (\($0.l2EntrySize.exactBinary) entries)" } ?? "-",
            e.map { fixed($0.l2CoveragePercent, 2) + "%" } ?? "-",
            iopsText(c), vsRef, vsNull,
        ])
    }
    md.table(
        ["Cell", "Effective L2", "Coverage", "IOPS mean ± CI95 (n)", "vs largest cache (CI95)", "vs null-co (CI95)"],
        ["l", "r", "r", "r", "r", "r"], rows)
    md.blank()
    md.line(intervalSentence(methods))
    md.blank()
    md.line("![IOPS against effective L2 cache coverage](\(plotFile))")
    md.blank()
    let showWorkload = Set(swept.map(\.workload)).count > 1
    let showHostIO = Set(swept.map(\.hostIO)).count > 1
    for series in swept {
        guard let k = set.knee(of: series) else { continue }
        kneeEntry(k, set: set, named: swept.count > 1, showWorkload: showWorkload, showHostIO: showHostIO, into: &md)
    }
    let verdicts = pairedVerdicts(set)
    for line in verdicts { md.line(line) }
    let p = set.paired
    if let target = p.targetCI {
        let missed = set.cells.filter { (p.steering[$0.cellID] ?? 0) > target }.map { set.labels.label($0.cellID) }
        md.line(
            missed.isEmpty
                ? "Every compared ratio reached the target CI of ±\(Pairing.percentText(target))."
                : "**Missed the target CI of ±\(Pairing.percentText(target))** (budget or block limit reached): \(missed.joined(separator: ", ")).")
        if let steal = p.steal { md.line(steal.sentence + stealAdjustedText(p)) }
        md.blank()
    }
    for series in swept {
        guard let k = set.knee(of: series) else { continue }
        recommendation(k, named: swept.count > 1, into: &md)
    }
    return true
}

/// The knee of one swept series and what qualifies it.
private func kneeEntry(
    _ k: Knee, set: ResultSet, named: Bool, showWorkload: Bool, showHostIO: Bool, into md: inout MarkdownWriter
) {
    let s = k.series
    guard let e = k.cell.effective, let mean = k.cell.iops?.mean else { return }
    var heading = s.label
    if showWorkload { heading += "; " + s.workloadLabel }
    if showHostIO { heading += "; " + s.hostIOLabel }
    let full = s.geometry.fullCoverageL2Bytes
    md.line(
        "**Knee\(named ? " (\(heading))" : "")**: \(set.labels.label(k.cell.cellID)), \(e.l2CacheBytes.exactBinary) of L2 cache "
            + "(\(e.l2EntrySize.exactBinary) entries, \(fixed(e.l2CoveragePercent, 2))% coverage), \(grouped(mean)) IOPS, "
            + "\(fixed(k.percentOfBest, 1))% of the best (\(set.labels.label(k.best.cellID))): the smallest cache within "
            + "\(Knee.defaultToleranceText) of the best mean.")
    md.blank()
    var notes: [String] = []
    let measured = set.cells(in: s).filter { $0.iops != nil }
    if let smallest = measured.map({ $0.effective?.l2CacheBytes.bytes ?? .max }).min(), smallest == e.l2CacheBytes.bytes {
        notes.append("The knee is the smallest cache measured: a smaller one may do as well; extend the sweep downwards.")
    }
    if e.l2CoveragePercent >= 100, (k.cell.effective?.l2CacheBytes ?? full) <= QemuCacheModel.defaultL2CacheMax {
        notes.append(
            "It is full coverage (\(full.exactBinary) for this image), which QEMU (>= 3.1) already picks by default up to "
                + "\(QemuCacheModel.defaultL2CacheMax.exactBinary).")
    }
    if s.l2CacheEntrySize.isDefault,
        measured.contains(where: { ($0.effective?.l2CoveragePercent ?? 0) >= 100 }),
        measured.contains(where: { ($0.effective?.l2CoveragePercent ?? 0) < 100 })
    {
        notes.append(
            "The entry size is left to QEMU, so it changes from 4 KiB to the cluster size at full coverage: that point "
                + "differs in two variables (pin `l2_cache_entry_size` to separate them).")
    }
    for n in notes { md.line("- " + n) }
    if !notes.isEmpty { md.blank() }
}

/// How to apply a knee: QEMU options and libvirt XML, once per swept series.
private func recommendation(_ k: Knee, named: Bool, into md: inout MarkdownWriter) {
    let s = k.series
    guard let e = k.cell.effective else { return }
    // A series sized through cache-size is applied through cache-size: the
    // knee's budget reproduces its split exactly.
    let combined = k.cell.cell.cache.cacheSize
    let config = CacheConfig(
        l2CacheSize: combined.isDefault ? .value(e.l2CacheBytes) : k.cell.cell.cache.l2CacheSize,
        l2CacheEntrySize: s.l2CacheEntrySize,
        refcountCacheSize: s.refcountCacheSize, cacheCleanInterval: s.cacheCleanInterval, cacheSize: combined)
    let options = config.blockdevOptions.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    let refcountReserve = ByteSize(QemuCacheModel.minRefcountClusters * s.geometry.clusterSize.bytes)
    let maxSize: UInt64
    let how: String
    if let budget = combined.value, k.cell.cell.cache.l2CacheSize.isDefault, s.refcountCacheSize.isDefault {
        maxSize = budget.bytes
        how = "`max_size` is QEMU's `cache-size`, the setting this series measured"
    } else {
        maxSize = e.l2CacheBytes.bytes + refcountReserve.bytes
        how = "`max_size` is the combined cache: \(e.l2CacheBytes.bytes) bytes of L2 plus \(refcountReserve.bytes) of refcount cache (4 clusters)"
    }
    md.line(
        "**Apply it\(named ? " (\(s.label))" : "")** with QEMU's `-blockdev` qcow2 node (or `-drive`), or in libvirt (>= 7.0) "
            + "inside `<disk>`, where \(how); see the libvirt note in the appendix:")
    md.blank()
    md.line("```")
    md.line("-blockdev driver=qcow2,node-name=disk0,file.driver=file,file.filename=IMAGE.qcow2,\(options)")
    md.line("-drive file=IMAGE.qcow2,format=qcow2,if=virtio,\(options)")
    md.line("")
    md.line("<driver name='qemu' type='qcow2'>")
    md.line("  <metadata_cache><max_size unit='bytes'>\(maxSize)</max_size></metadata_cache>")
    md.line("</driver>")
    md.line("```")
    md.blank()
    var unsupported: [String] = []
    if !combined.isDefault, let v = k.cell.cell.cache.l2CacheSize.value { unsupported.append("`l2-cache-size=\(v.bytes)`") }
    if let v = s.l2CacheEntrySize.value { unsupported.append("`l2-cache-entry-size=\(v.bytes)`") }
    if let v = s.refcountCacheSize.value { unsupported.append("`refcount-cache-size=\(v.bytes)`") }
    if let v = s.cacheCleanInterval.value { unsupported.append("`cache-clean-interval=\(v)`") }
    if !unsupported.isEmpty {
        md.line(
            "This series also pins " + unsupported.joined(separator: ", ")
                + ", which libvirt cannot express: the XML reproduces only the L2 cache size.")
        md.blank()
    }
}

private func libvirtNote(into md: inout MarkdownWriter) {
    md.line("### Note: qcow2 cache settings in libvirt")
    md.blank()
    md.line(
        "libvirt has no per-cache settings. Since 7.0.0, `<driver><metadata_cache><max_size>` (also allowed "
            + "under a `<backingStore>`'s `<format>`) sets QEMU's combined `cache-size` option "
            + "(libvirt `src/qemu/qemu_block.c`, `qemuBlockStorageSourceGetFormatQcow2Props`, which lists "
            + "`l2-cache-size`, `l2-cache-entry-size`, `refcount-cache-size` and `cache-clean-interval` as "
            + "unhandled). Given only `cache-size`, QEMU (`read_cache_sizes` in `block/qcow2.c`) gives the L2 cache "
            + "what covers the whole image and the refcount cache the rest when `cache-size` is at least that plus "
            + "4 clusters; otherwise the refcount cache gets min(cache-size, 4 clusters) and the L2 cache the "
            + "remainder. So a "
            + "`max_size` of the knee's L2 cache plus 4 clusters yields that L2 cache and the default refcount "
            + "cache. The entry size is then QEMU's default (4 KiB below full coverage), and the clean interval "
            + "stays at QEMU's default. The `<qcow2 l2_cache_size=… refcount_cache_size=… "
            + "cache_clean_interval=…/>` element proposed on libvir-list in 2017 was not merged; libvirt does not "
            + "have it.")
    md.blank()
}

// MARK: - Failures

private func failureSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    md.line("### Failed runs")
    md.blank()
    let failures = set.failures
    guard !failures.isEmpty else {
        md.line("None.")
        return
    }
    md.table(
        ["Sequence", "Cell", "Repetition", "Reason"], ["r", "l", "r", "l"],
        failures.map { ["\($0.sequence)", code($0.cellID), "\($0.repetition)", $0.reason] })
}
