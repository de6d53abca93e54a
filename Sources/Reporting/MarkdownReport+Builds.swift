import BenchResults
import BenchSpec
import Foundation
import Qcow2Geometry

/// Two or more QEMU builds measured in one run (`--qemu-build`): per cell,
/// the per-block ratio of each build's IOPS over the base build's in the
/// same block. A build cannot share a guest with another, so each block
/// boots one guest per build (in a shuffled order) and runs the cells in
/// it; the block is the pairing unit, as it is for cells within a guest.
public struct BuildComparison: Hashable, Sendable {
    /// One build as its records describe it.
    public struct Build: Hashable, Sendable {
        public var name: String
        /// `--version`, SHA-256 and path; nil for records that predate builds.
        public var provenance: QemuBuildProvenance?
        public var slots: Int
    }

    /// Base first, then the others as the command line or matrix gave them
    /// (their guests' group numbers follow that order; the order of first
    /// records is shuffled per block).
    public var builds: [Build] = []
    public var base: String { builds.first?.name ?? QemuBuildName.system }
    /// Per non-base build, per `Cell.baseID`: build over base, block by block.
    public var ratios: [String: [String: PairedRatio]] = [:]
    /// The same on writes per QEMU CPU millisecond (all threads, over the
    /// measured window): below 1, the build spends more CPU on a write. It
    /// does not run while the host steals the CPU, so it is steadier than
    /// IOPS between guests booted minutes apart; it misses added waiting.
    public var cpuRatios: [String: [String: PairedRatio]] = [:]
    /// Per build, `Cell.baseID` to the cell ID the build ran it as.
    public var cellIDs: [String: [String: String]] = [:]

    /// Slot records only: builds are compared block by block. The base is
    /// the records' `baseBuild`, else `system` if it ran, else the first build.
    public init(records: [RunRecord]) {
        let sorted = records.sorted { $0.sequence < $1.sequence }
        var order: [String] = []
        var info: [String: Build] = [:]
        var firstGroup: [String: Int] = [:]
        for r in sorted {
            guard let slot = r.slot else { continue }
            let name = r.cell.build
            if info[name] == nil {
                order.append(name)
                info[name] = Build(name: name, provenance: r.provenance.qemuBuild, slots: 0)
            }
            firstGroup[name] = min(firstGroup[name] ?? .max, slot.group)
            if r.succeeded { info[name]?.slots += 1 }
        }
        order = order.enumerated().sorted { a, b in
            let (ga, gb) = (firstGroup[a.element] ?? .max, firstGroup[b.element] ?? .max)
            return ga != gb ? ga < gb : a.offset < b.offset
        }.map(\.element)
        guard order.count > 1 else { return }
        let declared = sorted.lazy.compactMap(\.provenance.baseBuild).first
        let base = declared.flatMap { order.contains($0) ? $0 : nil } ?? (order.contains(QemuBuildName.system) ? QemuBuildName.system : order[0])
        order.removeAll { $0 == base }
        builds = ([base] + order).compactMap { info[$0] }

        for r in sorted where r.slot != nil && r.succeeded { cellIDs[r.cell.build, default: [:]][r.cell.baseID] = r.cellID }
        func buildOverBase(_ figure: [String: [String: [Int: Double]]]) -> [String: [String: PairedRatio]] {
            var out: [String: [String: PairedRatio]] = [:]
            for b in order {
                for (baseID, values) in figure[b] ?? [:] {
                    guard let ref = figure[base]?[baseID], let refID = cellIDs[base]?[baseID],
                          let ratio = PairedRatio.make(values, over: ref, referenceCellID: refID) else { continue }
                    out[b, default: [:]][baseID] = ratio
                }
            }
            return out
        }
        ratios = buildOverBase(Self.perSlot(sorted) { $0.result?.iops })
        cpuRatios = buildOverBase(Self.perSlot(sorted) { $0.writesPerQemuCPUMillisecond })
    }

    /// Per build, per `Cell.baseID`, per block: `figure` of the successful
    /// slots (IOPS, writes per QEMU CPU millisecond); slots it has no value
    /// for are left out.
    static func perSlot(_ records: [RunRecord], _ figure: (RunRecord) -> Double?) -> [String: [String: [Int: Double]]] {
        var out: [String: [String: [Int: Double]]] = [:]
        for r in records where r.slot != nil && r.succeeded {
            guard let v = figure(r) else { continue }
            out[r.cell.build, default: [:]][r.cell.baseID, default: [:]][r.repetition] = v
        }
        return out
    }

    /// `+7.9% (CI 4.1–11.8%)`, `-61.2% (CI -64.0% to -58.1%)`.
    public static func changeText(_ r: PairedRatio) -> String {
        func pct(_ x: Double) -> String { fixed((x - 1) * 100, 1) }
        let change = (r.ratio >= 1 ? "+" : "") + pct(r.ratio) + "%"
        if r.low >= 1 {
            return "\(change) (CI \(pct(r.low))–\(pct(r.high))%)"
        }
        return "\(change) (CI \(pct(r.low))% to \(pct(r.high))%)"
    }

    /// One line per non-base build: "patched vs base: 128K +7.9% (CI
    /// 4.1–11.8%), 2M no difference detected". Cells in `order` (baseIDs);
    /// `label` names a cell without its build.
    public func verdicts(order: [String], label: (String) -> String) -> [String] {
        builds.dropFirst().map { b in
            let parts = order.compactMap { id -> String? in
                guard let r = ratios[b.name]?[id] else { return nil }
                return r.differs ? "\(label(id)) \(Self.changeText(r))" : "\(label(id)) no difference detected"
            }
            return "\(b.name) vs \(base): " + (parts.isEmpty ? "no cell measured by both" : parts.joined(separator: ", "))
        }
    }
}

/// The builds table, and per cell the ratio build/base with its CI and a
/// verdict per build; nothing when one build ran.
func buildsSection(_ set: ResultSet, into md: inout MarkdownWriter) {
    let cmp = BuildComparison(records: set.records)
    guard cmp.builds.count > 1 else { return }
    md.line("## QEMU builds")
    md.blank()
    md.line(
        "Each block boots one guest per build, in a shuffled order, and runs every cell in it; a ratio is the geometric "
            + "mean over blocks of the cell's IOPS under the build divided by its IOPS under the base build (\(cmp.base)) "
            + "in the same block, with a 95% CI (t interval on the log ratios); *CPU/write ratio* pairs writes per QEMU "
            + "CPU millisecond the same way (below 1: the build spends more CPU on a write). Each CI is for its cell alone: over many "
            + "cells some exclude 1 by chance (about 1 in 20 in an A/A pair), and a guest's speed is shared by its cells; "
            + "`bench compare DIR --builds BASE,COMPARED` tests every cell at once (Holm–Bonferroni) and is the gate.")
    md.blank()
    md.table(
        ["Build", "Role", "Version", "SHA-256", "Binary", "Slots"], ["l", "l", "l", "l", "l", "r"],
        cmp.builds.map { b in
            [
                b.name, b.name == cmp.base ? "base" : "compared", b.provenance?.version ?? "-",
                b.provenance.map { "`\($0.sha256.prefix(16))…`" } ?? "-", b.provenance.map { "`\($0.path)`" } ?? "-", "\(b.slots)",
            ]
        })
    md.blank()
    let shas = cmp.builds.compactMap { $0.provenance?.sha256 }
    if Set(shas).count < shas.count {
        md.line("Builds with the same SHA-256 are the same binary: their ratios are an A/A check, and `bench compare DIR --builds` must find no difference between them.")
        md.blank()
    }
    // Cells in report order, named without their build.
    let baseCells = set.cells.filter { $0.cell.build == cmp.base }
    let labels = CellLabels(cells: baseCells.map(\.cell))
    let order = baseCells.map(\.cell.baseID)
    let idByBase = Dictionary(baseCells.map { ($0.cell.baseID, $0.cellID) }, uniquingKeysWith: { a, _ in a })
    func label(_ baseID: String) -> String { idByBase[baseID].map(labels.label) ?? baseID }
    var rows: [[String]] = []
    for id in order {
        for b in cmp.builds.dropFirst() {
            guard let r = cmp.ratios[b.name]?[id] else { continue }
            let cpu = cmp.cpuRatios[b.name]?[id]
            rows.append([
                label(id), "\(b.name) / \(cmp.base)", ratioText(r), BuildComparison.changeText(r), cpu.map(ratioText) ?? "-",
                "\(r.blocks)", r.differs ? "differs" : "no difference detected",
            ])
        }
    }
    md.table(
        ["Cell", "Builds", "IOPS ratio (CI95)", "Change", "CPU/write ratio (CI95)", "Blocks", "Verdict"],
        ["l", "l", "r", "r", "r", "r", "l"], rows)
    md.blank()
    for line in cmp.verdicts(order: order, label: label) { md.line("- " + line) }
    md.blank()
}

extension RunRecord {
    /// Writes per millisecond of QEMU's working CPU time (all threads, less
    /// the vCPU's time while the driver waited: `qemuWorkMillis`) over the
    /// slot's measured window; nil without a CPU sample or a write.
    var writesPerQemuCPUMillisecond: Double? {
        guard let work = qemuWorkMillis, let result, result.ops > 0, work > 0 else { return nil }
        return Double(result.ops) / work
    }
}
