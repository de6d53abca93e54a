import BenchResults
import BenchSpec
import Foundation
import GuestWire
import Qcow2Geometry

/// One cache option the matrix can vary besides `l2-cache-size` (which has
/// the coverage table and plot): what it is, how to read a cell's setting
/// and QEMU's effective value, and why it may show nothing.
struct Knob: Sendable {
    let title: String
    /// The question its section answers.
    let question: String
    let option: String
    /// Base name of the knob's figure.
    let slug: String
    let setting: @Sendable (Cell) -> String
    /// Sort key of a setting: the reference (QEMU's default, else the
    /// smallest value or the first image state) sorts first.
    let order: @Sendable (Cell) -> UInt64
    let effective: (@Sendable (CellSummary) -> String)?
    /// The same cell with this knob reset, so cells differing only in the
    /// knob share a key.
    let neutral: @Sendable (Cell) -> Cell
    let note: String

    static let all: [Knob] = [
        Knob(
            title: "Refcount cache size", question: "does a larger refcount cache speed up writes?", option: "refcount-cache-size",
            slug: "refcount-cache",
            setting: { $0.cache.refcountCacheSize.description },
            order: { $0.cache.refcountCacheSize.value.map { $0.bytes + 1 } ?? 0 },
            effective: { c in c.effective.map { "\($0.refcountCacheBytes) (\(fixed($0.refcountCoveragePercent, 1))%)" } ?? "-" },
            neutral: {
                var c = $0; c.cache.refcountCacheSize = .default; return c
            },
            note:
                "Used only when clusters are allocated or copied (`fresh`, `snapshot`, `overlay` images); no effect is expected on a `preallocated` image."
        ),
        Knob(
            title: "Cache clean interval", question: "how much memory does it give back, at what cost?", option: "cache-clean-interval",
            slug: "clean-interval",
            setting: { $0.cache.cacheCleanInterval.description },
            order: { $0.cache.cacheCleanInterval.value.map { UInt64(max(0, $0)) + 1 } ?? 0 },
            effective: { c in c.effective.map { "\($0.cacheCleanInterval) s" } ?? "-" },
            neutral: {
                var c = $0; c.cache.cacheCleanInterval = .default; return c
            },
            note:
                "Entries unused for the interval are freed (`madvise(MADV_DONTNEED)`): the effect is on QEMU's resident memory while the guest idles longer than the interval, and on the IOPS right after, while the cache refills."
        ),
        Knob(
            title: "L2 cache entry size", question: "does the entry size change IOPS?", option: "l2-cache-entry-size", slug: "entry-size",
            setting: { $0.cache.l2CacheEntrySize.description },
            order: { $0.cache.l2CacheEntrySize.value.map { $0.bytes + 1 } ?? 0 },
            effective: { c in c.effective.map { "\($0.l2EntrySize) (\($0.l2Entries) entries)" } ?? "-" },
            neutral: {
                var c = $0; c.cache.l2CacheEntrySize = .default; return c
            },
            note:
                "At partial coverage, smaller entries make a miss cheaper (one slice read instead of a whole L2 table) and spread the same memory over more of the disk."
        ),
        Knob(
            title: "Image state", question: "what does a write cost on each kind of image?", option: "image state", slug: "image-state",
            setting: { ($0.state ?? .preallocated).rawValue },
            order: { UInt64(stateOrder($0.state ?? .preallocated)) },
            effective: nil,
            neutral: {
                var c = $0; c.state = .preallocated; return c
            },
            note:
                "What a write costs besides the L2 lookup: nothing in qcow2 but a host block's allocation on its first write (`preallocated`, sparse on the host), nothing at all (`allocated`), an allocation with refcount updates (`fresh`), a copy-on-write (`snapshot`), an allocation plus a backing-file read (`overlay`)."
        ),
    ]
}

// MARK: - Ratios between two cells

/// One cell's IOPS against another's, with a 95% CI: paired per block when
/// both ran in the same shared guest's blocks, else from unpaired runs.
struct CellRatio: Hashable, Sendable {
    enum Method: Hashable, Sendable {
        /// Geometric mean of per-block ratios, t interval on the log ratios (`PairedRatio`).
        case paired
        /// Ratio of geometric means over independent runs, Welch t interval
        /// on the difference of mean log IOPS.
        case welch
    }

    var ratio: Double
    var low: Double
    var high: Double
    var method: Method
    /// Blocks (paired) or the smaller of the two run counts (Welch).
    var n: Int

    var differs: Bool { low > 1 || high < 1 }

    /// The ratio of `cellID` over `referenceID` from `records`; nil when
    /// neither a pairing (2 shared blocks) nor 2 runs of each exist.
    static func of(_ cellID: String, over referenceID: String, in records: [RunRecord]) -> CellRatio? {
        func perBlock(_ id: String) -> [Int: Double] {
            var out: [Int: Double] = [:]
            for r in records where r.cellID == id && r.succeeded {
                guard let slot = r.slot, let iops = r.result?.iops else { continue }
                out[slot.group * 1_000_000 + r.repetition] = iops
            }
            return out
        }
        let a = perBlock(cellID)
        let b = perBlock(referenceID)
        if a.keys.filter({ b[$0] != nil }).count >= 2, let p = PairedRatio.make(a, over: b, referenceCellID: referenceID) {
            return CellRatio(ratio: p.ratio, low: p.low, high: p.high, method: .paired, n: p.blocks)
        }
        func logs(_ id: String) -> [Double] {
            records.filter { $0.cellID == id && $0.succeeded }.compactMap { $0.result?.iops }.filter { $0 > 0 }.map { log($0) }
        }
        return welch(logs(cellID), logs(referenceID))
    }

    /// Welch's t interval on `mean(a) - mean(b)` of log values, mapped back
    /// to a ratio. Degrees of freedom by Welch–Satterthwaite, rounded down
    /// (the conservative side) to use the t table.
    static func welch(_ a: [Double], _ b: [Double]) -> CellRatio? {
        guard a.count >= 2, b.count >= 2, let sa = SampleStats(a), let sb = SampleStats(b) else { return nil }
        let va = sa.stdev * sa.stdev / Double(a.count)
        let vb = sb.stdev * sb.stdev / Double(b.count)
        let diff = sa.mean - sb.mean
        let se2 = va + vb
        var half = 0.0
        if se2 > 0 {
            let df = se2 * se2 / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
            half = tQuantile975(df: max(1, Int(df.rounded(.down)))) * se2.squareRoot()
        }
        return CellRatio(ratio: exp(diff), low: exp(diff - half), high: exp(diff + half), method: .welch, n: min(a.count, b.count))
    }
}

/// The verdict with its uncertainty: "no difference detected (ratio 1.04,
/// CI 0.97–1.11)" when the CI contains 1, else "+12% (CI 8–16%)".
func verdictText(_ r: CellRatio?) -> String {
    guard let r else { return "too few runs for an interval" }
    guard r.differs else {
        return "no difference detected (ratio \(fixed(r.ratio, 2)), CI \(fixed(r.low, 2))–\(fixed(r.high, 2)))"
    }
    func pct(_ x: Double) -> String {
        let p = fixed((x - 1) * 100, 0)
        return x > 1 && p != "0" ? "+" + p : p
    }
    if r.ratio > 1 { return "**\(pct(r.ratio))%** (CI \(fixed((r.low - 1) * 100, 0))–\(fixed((r.high - 1) * 100, 0))%)" }
    return "**\(pct(r.ratio))%** (CI \(pct(r.low))% to \(pct(r.high))%)"
}

/// The sentence naming the interval a set of ratios used.
func intervalSentence(_ methods: Set<CellRatio.Method>) -> String {
    var parts: [String] = []
    if methods.contains(.paired) {
        parts.append("paired: geometric mean of the per-block IOPS ratios with a 95% t interval on the log ratios (cells in one guest)")
    }
    if methods.contains(.welch) {
        parts.append(
            "unpaired: ratio of the geometric mean IOPS with a 95% Welch t interval on the difference of mean log IOPS "
                + "(runs in their own guests; few runs make it wide)")
    }
    return parts.isEmpty ? "" : "Ratios are " + parts.joined(separator: "; ") + "."
}

// MARK: - Knob groups

/// Cells that differ only in one knob, with the cell the others are
/// compared with.
struct KnobGroup: Sendable {
    /// What sets this group apart from the knob's other groups ("" when it is the only one).
    var place: String
    /// What the cells share, spelled out.
    var shared: String
    /// In the knob's order: the reference first.
    var cells: [CellSummary]
    var ratios: [String: CellRatio]
    var reference: CellSummary { cells[0] }
}

/// A knob the matrix varies, with its groups.
struct KnobAnalysis: Sendable {
    var knob: Knob
    var groups: [KnobGroup]

    /// File name of the knob's figure(s): `clean-interval.svg`, then `clean-interval-2.svg`, …
    func figureName(_ index: Int = 0) -> String { index == 0 ? "\(knob.slug).svg" : "\(knob.slug)-\(index + 1).svg" }
}

extension Knob {
    /// What the cells of one group share: the image and every setting except
    /// this knob, non-default settings named.
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

/// Every knob the matrix varies (in `Knob.all` order), with the qcow2 cells
/// that differ only in it, grouped in `ResultSet.cells` order of first member.
func knobAnalyses(_ set: ResultSet) -> [KnobAnalysis] {
    let cells = set.cells.filter { !$0.isReference && $0.iops != nil }
    var out: [KnobAnalysis] = []
    for knob in Knob.all {
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
        guard !varied.isEmpty else { continue }
        let neutrals = varied.map { knob.neutral($0[0].cell) }
        let places = CellLabels(cells: neutrals)
        let built = varied.enumerated().map { i, g -> KnobGroup in
            let sorted = g.enumerated().sorted { a, b in
                (knob.order(a.element.cell), a.offset) < (knob.order(b.element.cell), b.offset)
            }.map(\.element)
            var ratios: [String: CellRatio] = [:]
            for c in sorted.dropFirst() {
                ratios[c.cellID] = CellRatio.of(c.cellID, over: sorted[0].cellID, in: set.records)
            }
            return KnobGroup(
                place: varied.count > 1 ? places.label(neutrals[i].id) : "", shared: knob.groupLabel(sorted[0].cell),
                cells: sorted, ratios: ratios)
        }
        out.append(KnobAnalysis(knob: knob, groups: built))
    }
    return out
}

// MARK: - Memory and phases

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

// MARK: - Sections

/// One section per knob the matrix varies: a table of each cell against
/// its group's reference (QEMU's default where measured) with a verdict,
/// the interval used, and the knob's figure.
func knobSections(_ set: ResultSet, _ analyses: [KnobAnalysis], figures: Set<String>, into md: inout MarkdownWriter) {
    for a in analyses {
        let knob = a.knob
        md.line("## \(knob.title): \(knob.question)")
        md.blank()
        md.line(knob.note)
        md.blank()
        let many = a.groups.count > 1
        let memory = a.groups.contains { g in g.cells.contains { peakRSSMiB(set, $0.cellID) != nil } }
        let idle = knob.slug == "clean-interval" && a.groups.contains { g in g.cells.contains { idleEffect(set, $0.cellID) != nil } }
        var header = (many ? ["Where"] : []) + [knob.option]
        if knob.effective != nil { header.append("Effective") }
        header.append("IOPS mean ± CI95 (n)")
        if memory { header.append("Peak RSS MiB") }
        if idle { header += ["RSS released in idle, MiB", "IOPS 1st s after idle"] }
        header.append("vs reference")
        var rows: [[String]] = []
        var methods = Set<CellRatio.Method>()
        for g in a.groups {
            for (i, c) in g.cells.enumerated() {
                var row = (many ? [i == 0 ? g.place : ""] : []) + [knob.setting(c.cell)]
                if let e = knob.effective { row.append(e(c)) }
                row.append(iopsText(c))
                if memory { row.append(peakRSSMiB(set, c.cellID).map { fixed($0, 1) } ?? "-") }
                if idle {
                    let e = idleEffect(set, c.cellID)
                    row += [e?.releasedMiB.map { fixed($0, 1) } ?? "-", e?.recoveryIOPS.map(grouped) ?? "-"]
                }
                if i == 0 {
                    row.append("reference")
                } else {
                    let r = g.ratios[c.cellID]
                    if let r { methods.insert(r.method) }
                    row.append(verdictText(r))
                }
                rows.append(row)
            }
        }
        md.table(header, header.map { $0 == "Where" || $0 == "vs reference" ? "l" : "r" }, rows)
        md.blank()
        var notes: [String] = []
        if !many, let g = a.groups.first { notes.append("Cells: \(g.shared).") }
        notes.append(intervalSentence(methods))
        if idle {
            for g in a.groups {
                let ref = idleEffect(set, g.reference.cellID)?.releasedMiB
                for c in g.cells.dropFirst() {
                    guard let e = idleEffect(set, c.cellID), let released = e.releasedMiB else { continue }
                    notes.append(
                        "**Memory**: with interval \(c.cell.cache.cacheCleanInterval.value.map { "\($0) s" } ?? "default")\(g.place.isEmpty ? "" : " (\(g.place))"), QEMU gave back "
                            + "\(fixed(released, 1)) MiB during the \(fixed(e.idleSeconds, 0)) s idle phase"
                            + (ref.map { " (the reference: \(fixed($0, 1)) MiB)" } ?? "") + ".")
                }
            }
        }
        if idle, let e = a.groups.lazy.flatMap(\.cells).compactMap({ idleEffect(set, $0.cellID) }).first {
            notes.append(
                "*Released* is QEMU's RSS at the start of the \(fixed(e.idleSeconds, 0)) s idle phase minus at its end "
                    + "(samples every 250 ms, timed on the guest's phase markers).")
        }
        md.line(notes.filter { !$0.isEmpty }.joined(separator: " "))
        md.blank()
        for i in a.groups.indices where figures.contains(a.figureName(i)) {
            let what =
                knob.slug == "clean-interval" && RSSPlot(set, group: a.groups[i]) != nil
                ? "QEMU's resident memory and IOPS through the write, idle and write phases"
                : "IOPS ratio against the reference with 95% CI"
            md.line("![\(knob.title): \(what)](\(a.figureName(i)))")
            md.blank()
        }
    }
}

/// Multi-phase cells: each phase's IOPS (mean over successful runs) and the
/// first second of each write phase, so recovery after idling is visible.
func phaseSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    let cells = set.cells.filter { !$0.cell.workload.phases.isEmpty }
    guard !cells.isEmpty else { return }
    md.line("### Phases")
    md.blank()
    md.line("Workloads with phases measure each write phase on its own; idle phases issue no I/O. Means over the successful runs of each cell.")
    md.blank()
    var rows: [[String]] = []
    for c in cells {
        let runs = set.records.filter { $0.cellID == c.cellID && $0.succeeded }.compactMap { $0.result?.phases }
        var iopsParts: [String] = []
        for (i, phase) in c.cell.workload.phases.enumerated() where phase.isWrite {
            let iops = SampleStats(runs.compactMap { $0.count > i ? $0[i].iops : nil })
            let first = SampleStats(runs.compactMap { $0.count > i ? $0[i].perSecondOps.first.map { Double($0) } : nil })
            iopsParts.append("\(iops.map { grouped($0.mean) } ?? "-") (1st s \(first.map { grouped($0.mean) } ?? "-"))")
        }
        rows.append([
            set.labels.label(c.cellID), c.cell.workload.phases.map(\.description).joined(separator: ", "),
            iopsParts.joined(separator: "; "),
        ])
    }
    md.table(["Cell", "Phases", "IOPS per write phase (first second)"], ["l", "l", "r"], rows)
    md.blank()
}
