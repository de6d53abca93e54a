import BenchResults
import BenchSpec
import GuestWire
import Qcow2Geometry

/// `report.md`: the human-readable summary of a result set.
///
/// Sections, in order: title (matrix name); environment and provenance (with
/// a warning when the records disagree on it); the coverage table (rows in
/// `ResultSet.cells` order); the plot (`plotFile`, relative to the report);
/// the knee of each series (in `ResultSet.series` order) with the QEMU
/// options and libvirt XML that apply it; the other knobs (refcount cache,
/// clean interval, entry size, image state: cells that differ only in one
/// of them, with IOPS and QEMU's peak memory); failed runs (in run order).
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
    if slots.isEmpty {
        md.line(
            "\(set.records.count) runs of \(set.cells.count) cells, \(failed) failed. "
                + "IOPS are means over the successful repetitions of a cell, ± the half-width of their 95% confidence "
                + "interval (Student's t); compare ratios measured in one session rather than absolute numbers.")
    } else {
        let blocks = Set(slots.map(\.repetition)).count
        let perRun = set.records.count - slots.count
        md.line(
            "\(slots.count) slots in \(blocks) blocks" + (perRun > 0 ? " and \(perRun) runs in their own guests" : "")
                + " of \(set.cells.count) cells, \(failed) failed. The paired ratios below are the result; absolute "
                + "IOPS (means over slots or runs ± the half-width of their 95% CI) drift with the host.")
    }
    md.blank()
    pairedSection(set, into: &md)
    buildsSection(set, into: &md)
    cacheCounterSection(set, into: &md)
    environmentSection(set, into: &md)
    coverageSection(set, plotFile: plotFile, into: &md)
    kneeSection(set, into: &md)
    knobSections(set, into: &md)
    phaseSection(set, into: &md)
    failureSection(set, into: &md)
    return md.text
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
    md.line("## Environment")
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
        md.line("QEMU command line of run \(example.sequence) (`\(example.cellID)`):")
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

private func coverageSection(_ set: ResultSet, plotFile: String, into md: inout MarkdownWriter) {
    md.line("## IOPS against L2 cache coverage")
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
        ["Cell", "State", "Cluster", "L2 setting", "Effective L2", "L2 coverage", "IOPS mean ± CI95 (n)", "vs best",
         "vs ceiling", "p99 µs"],
        ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r"], rows)
    md.blank()
    md.line("![IOPS against effective L2 cache coverage](\(plotFile))")
    md.blank()
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
    md.line("## Paired ratios (cells in one guest, randomized complete blocks)")
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
            "\((ref ?? p.vsNull[c.cellID])?.blocks ?? 0)",
        ])
    }
    md.table(
        ["Cell", "L2 coverage", "IOPS ratio vs reference (CI95)", "Reference", "vs null-co (CI95)", "CPU/write ratio (CI95)", "Blocks"],
        ["l", "r", "r", "l", "r", "r", "r"], rows)
    md.blank()
    for line in pairedVerdicts(set) { md.line(line) }
    if let target = p.targetCI {
        let missed = set.cells.filter { (p.steering[$0.cellID] ?? 0) > target }.map { set.labels.label($0.cellID) }
        md.line(
            missed.isEmpty
                ? "Every compared ratio reached the target CI of ±\(Pairing.percentText(target))."
                : "**Missed the target CI of ±\(Pairing.percentText(target))** (budget or block limit reached): \(missed.joined(separator: ", ")).")
        md.blank()
    }
    md.line(
        "\(p.slots) slots; \(p.unsettledSlots) ended their warm-up at the cap instead of steady IOPS; "
            + "\(p.highStealSlots) had host CPU steal above \(fixed(HostNoise.highStealPercent, 0))%.")
    md.blank()
}

/// The A/A check (identical cells) and whether neighbouring coverages are resolved.
func pairedVerdicts(_ set: ResultSet) -> [String] {
    var lines: [String] = []
    let p = set.paired
    for (id, r) in p.vsReference.sorted(by: { $0.key < $1.key }) {
        guard let a = set.cells.first(where: { $0.cellID == id }), let b = set.cells.first(where: { $0.cellID == r.referenceCellID }),
              let ea = a.effective, let eb = b.effective, ea == eb else { continue }
        let verdict = r.differs ? "**the CI excludes 1: identical cells differ, so differences of this size are not resolved**" : "the CI contains 1, as it must"
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

// MARK: - Knees

private func kneeSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    md.line("## Knee per series")
    md.blank()
    let knees = set.knees()
    guard !knees.isEmpty else {
        md.line("No qcow2 cell has a successful run, so there is no knee to report.")
        md.blank()
        return
    }
    md.line(
        "A series is the qcow2 cells that differ only in `l2-cache-size` (or only in `cache-size`, for cells sized by it). Its knee is the cell with the smallest "
            + "effective L2 cache whose mean IOPS is within \(Knee.defaultToleranceText) of the series' best mean: past it, more cache "
            + "memory buys no measurable speed.")
    md.blank()
    let series = set.series
    let manyWorkloads = Set(series.map(\.workload)).count > 1
    let manyHostIO = Set(series.map(\.hostIO)).count > 1
    for k in knees {
        kneeEntry(k, set: set, showWorkload: manyWorkloads, showHostIO: manyHostIO, into: &md)
    }
    libvirtNote(into: &md)
}

private func kneeEntry(_ k: Knee, set: ResultSet, showWorkload: Bool, showHostIO: Bool, into md: inout MarkdownWriter) {
    let s = k.series
    var heading = s.label
    if showWorkload { heading += "; " + s.workloadLabel }
    if showHostIO { heading += "; " + s.hostIOLabel }
    md.line("### \(heading)")
    md.blank()
    guard let e = k.cell.effective, let mean = k.cell.iops?.mean else { return }
    let bestMean = k.best.iops?.mean ?? .nan
    let full = s.geometry.fullCoverageL2Bytes
    let cache =
        "an L2 cache of \(e.l2CacheBytes.exactBinary) (\(e.l2CacheBytes.bytes) bytes, \(e.l2EntrySize.exactBinary) "
        + "entries) covering \(fixed(e.l2CoveragePercent, 2))% of the disk: \(grouped(mean)) IOPS"
    if k.measuredCells < 2 {
        md.line("- The only measured point, not a knee: \(code(k.cell.cellID)), \(cache).")
    } else {
        md.line(
            "- Knee: \(code(k.cell.cellID)), \(cache), \(fixed(k.percentOfBest, 1))% of the series' best "
                + "(\(grouped(bestMean)) IOPS, \(code(k.best.cellID))).")
    }
    md.line(
        "- Full coverage of this image takes \(full.exactBinary) of L2 cache (\(full.bytes) bytes). For a disk of "
            + "another size, keep the coverage: L2 bytes = coverage × disk size × 8 / cluster size.")
    let measured = set.cells(in: s).filter { $0.iops != nil }
    if k.measuredCells < 2 {
        md.line("- Only one cell of this series has a successful run, so the sweep says nothing about smaller or larger caches.")
    } else if let smallest = measured.map({ $0.effective?.l2CacheBytes.bytes ?? .max }).min(),
        smallest == e.l2CacheBytes.bytes
    {
        md.line(
            "- The knee is the smallest cache measured: a smaller one may do as well. Extend the sweep downwards "
                + "to find where IOPS start to fall.")
    }
    if e.l2CoveragePercent >= 100, (k.cell.effective?.l2CacheBytes ?? full) <= QemuCacheModel.defaultL2CacheMax {
        md.line(
            "- The knee is full coverage. QEMU (>= 3.1) already sizes the L2 cache to cover the whole image when "
                + "that takes at most \(QemuCacheModel.defaultL2CacheMax.exactBinary), as here: the options below only "
                + "make that explicit.")
    }
    if s.l2CacheEntrySize.isDefault,
        measured.contains(where: { ($0.effective?.l2CoveragePercent ?? 0) >= 100 }),
        measured.contains(where: { ($0.effective?.l2CoveragePercent ?? 0) < 100 })
    {
        md.line(
            "- The entry size is left to QEMU in this series, so it changes from 4 KiB to the cluster size at full "
                + "coverage: the full-coverage point differs in two variables. Pin `l2_cache_entry_size` in the "
                + "matrix to separate them.")
    }
    md.blank()

    // How to apply it.
    // A series sized through cache-size is applied through cache-size: the
    // knee's budget reproduces its split exactly.
    let combined = k.cell.cell.cache.cacheSize
    let config = CacheConfig(
        l2CacheSize: combined.isDefault ? .value(e.l2CacheBytes) : k.cell.cell.cache.l2CacheSize,
        l2CacheEntrySize: s.l2CacheEntrySize,
        refcountCacheSize: s.refcountCacheSize, cacheCleanInterval: s.cacheCleanInterval, cacheSize: combined)
    let options = config.blockdevOptions.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    md.line("QEMU, with `-blockdev` (the qcow2 format node) or `-drive`:")
    md.blank()
    md.line("```")
    md.line("-blockdev driver=qcow2,node-name=disk0,file.driver=file,file.filename=IMAGE.qcow2,\(options)")
    md.line("-drive file=IMAGE.qcow2,format=qcow2,if=virtio,\(options)")
    md.line("```")
    md.blank()
    let refcountReserve = ByteSize(QemuCacheModel.minRefcountClusters * s.geometry.clusterSize.bytes)
    let maxSize: UInt64
    if let budget = combined.value, k.cell.cell.cache.l2CacheSize.isDefault, s.refcountCacheSize.isDefault {
        maxSize = budget.bytes
        md.line(
            "libvirt (>= 7.0.0) domain XML, in the `<disk>` element: `max_size` is QEMU's `cache-size`, the "
                + "setting this series measured directly; see the note below.")
    } else {
        maxSize = e.l2CacheBytes.bytes + refcountReserve.bytes
        md.line(
            "libvirt (>= 7.0.0) domain XML, in the `<disk>` element: `max_size` is the combined metadata cache, "
                + "\(e.l2CacheBytes.bytes) bytes of L2 cache plus \(refcountReserve.bytes) for the refcount cache "
                + "(4 clusters, QEMU's default); see the note below.")
    }
    md.blank()
    md.line("```xml")
    md.line("<driver name='qemu' type='qcow2'>")
    md.line("  <metadata_cache>")
    md.line("    <max_size unit='bytes'>\(maxSize)</max_size>")
    md.line("  </metadata_cache>")
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
                + ", which libvirt cannot express: the XML above reproduces only the L2 cache size.")
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
    md.line("## Failed runs")
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
