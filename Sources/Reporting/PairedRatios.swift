import BenchResults
import BenchSpec
import Foundation
import Qcow2Geometry

/// A ratio of two cells measured in the same blocks of one shared guest:
/// per block, the cell's figure over the reference's, summarized as the
/// geometric mean with a 95% CI.
///
/// The CI is a t interval on the log ratios, not a bootstrap: blocks are the
/// independent units and there are typically 5–40 of them, where a bootstrap
/// percentile interval is too narrow and needs a seed to be reproducible;
/// log ratios are close to normal (the noise is multiplicative) and the
/// interval maps back to a ratio that is never negative. Reports are then
/// byte-for-byte rebuildable with no resampling at all.
public struct PairedRatio: Hashable, Sendable {
    public var referenceCellID: String
    public var ratio: Double
    public var low: Double
    public var high: Double
    /// Blocks in which both cells have a successful slot.
    public var blocks: Int
    /// Coefficient of variation of the per-block ratios.
    public var cv: Double

    /// The CI's larger distance from the ratio, as a fraction of it.
    public var halfWidth: Double { max(high / ratio - 1, 1 - low / ratio) }

    /// True when the CI excludes 1 (a difference is detected).
    public var differs: Bool { low > 1 || high < 1 }

    /// Per-block ratios `a[b] / ref[b]` over the blocks both have.
    public static func make(_ a: [Int: Double], over ref: [Int: Double], referenceCellID: String) -> PairedRatio? {
        let logs = logRatios(a, over: ref)
        guard logs.count >= 2, let s = SampleStats(logs) else { return nil }
        let half = tQuantile975(df: logs.count - 1) * s.stdev / Double(logs.count).squareRoot()
        let ratios = logs.map { exp($0) }
        let cv = SampleStats(ratios).map { $0.mean > 0 ? $0.stdev / $0.mean : 0 } ?? 0
        return PairedRatio(
            referenceCellID: referenceCellID, ratio: exp(s.mean), low: exp(s.mean - half), high: exp(s.mean + half),
            blocks: logs.count, cv: cv)
    }
}

extension PairedRatio {
    /// `log(a[b] / ref[b])` over the blocks both have, in block order;
    /// non-positive or non-finite values are left out.
    static func logRatios(_ a: [Int: Double], over ref: [Int: Double]) -> [Double] {
        a.keys.filter { ref[$0] != nil }.sorted().compactMap { b -> Double? in
            guard let x = a[b], let y = ref[b], x > 0, y > 0, x.isFinite, y.isFinite else { return nil }
            return log(x / y)
        }
    }
}

/// Paired ratios of every cell that ran in a shared guest.
public struct PairedAnalysis: Hashable, Sendable {
    /// Per cell: against its series reference (the largest effective L2
    /// cache in the series, the first in matrix order on a tie), and against
    /// the null-co control of its guest.
    public var vsReference: [String: PairedRatio] = [:]
    public var vsNull: [String: PairedRatio] = [:]
    /// The same pairing on QEMU's CPU time per write (all threads, over the
    /// measured window), reference over cell so that, like IOPS, above 1
    /// means the cell is cheaper: the candidate for a steadier quantity.
    public var cpuVsReference: [String: PairedRatio] = [:]
    /// Host CPU steal's effect on this run's slots (nil: too few slots).
    public var steal: StealEffect?
    /// `vsReference` with each slot's IOPS taken to zero steal along the
    /// run's own fitted slope, `iops * exp(-slope * steal)`; only when steal
    /// measurably moved IOPS. Shown beside the measured ratio, never in
    /// its place: it says how much of a CI's width the host's steal makes.
    public var stealAdjustedVsReference: [String: PairedRatio] = [:]
    /// Per cell, the per-block log IOPS ratios against its series reference
    /// (block order): the samples `compare` tests between two nights.
    public var logRatiosVsReference: [String: [Double]] = [:]
    /// The same against the guest's null-co control: what a series
    /// reference (which has no reference of its own) is compared by.
    public var logRatiosVsNull: [String: [Double]] = [:]
    /// The same per-block log ratios on writes per QEMU CPU millisecond
    /// (all threads, over the measured window): the cell's over its
    /// reference's, and a reference's over null-co's. Below 0: the cell's
    /// writes cost QEMU more CPU than the reference's.
    public var logCpuRatiosVsReference: [String: [Double]] = [:]
    public var logCpuRatiosVsNull: [String: [Double]] = [:]
    /// Slots whose warm-up hit its cap, and slots with high host steal.
    public var unsettledSlots = 0
    public var highStealSlots = 0
    public var slots = 0
    /// The target the run steered by (nil: a fixed number of blocks).
    public var targetCI: Double?

    public init(records: [RunRecord]) {
        let slotRecords = records.filter { $0.slot != nil }
        guard !slotRecords.isEmpty else { return }
        slots = slotRecords.count
        targetCI = slotRecords.lazy.compactMap { $0.slot?.targetCI }.first
        unsettledSlots = slotRecords.filter { $0.status == .ok && $0.slot?.settled == false }.count
        highStealSlots = slotRecords.filter { ($0.slot?.host?.stealPercent ?? 0) > HostNoise.highStealPercent }.count

        var cells: [String: Cell] = [:]
        var diskOrder: [String: Int] = [:]
        var groupOf: [String: Int] = [:]
        var iops: [String: [Int: Double]] = [:]
        var cpu: [String: [Int: Double]] = [:]
        var adjusted: [String: [Int: Double]] = [:]
        steal = StealEffect(records: slotRecords)
        let measurable = steal.flatMap { $0.isMeasurable ? $0 : nil }
        for r in slotRecords where r.succeeded {
            guard let slot = r.slot, let result = r.result else { continue }
            cells[r.cellID] = r.cell
            diskOrder[r.cellID] = Int(slot.disk.dropFirst()) ?? 0
            groupOf[r.cellID] = slot.group
            iops[r.cellID, default: [:]][r.repetition] = result.iops
            if let measurable, let stolen = slot.host?.stealPercent {
                adjusted[r.cellID, default: [:]][r.repetition] = measurable.atZeroSteal(iops: result.iops, stealPercent: stolen)
            }
            if let writes = r.writesPerQemuCPUMillisecond { cpu[r.cellID, default: [:]][r.repetition] = writes }
        }
        for (id, cell) in cells where cell.kind != .null {
            let group = groupOf[id]
            let peers = cells.filter { groupOf[$0.key] == group }
            if let null = peers.first(where: { $0.value.kind == .null && $0.value.geometry.diskSize == cell.geometry.diskSize }),
               let a = iops[id], let n = iops[null.key] {
                vsNull[id] = PairedRatio.make(a, over: n, referenceCellID: null.key)
                logRatiosVsNull[id] = Self.logRatios(a, over: n)
                if let c = cpu[id], let cn = cpu[null.key] { logCpuRatiosVsNull[id] = Self.logRatios(c, over: cn) }
            }
            guard let ref = Self.seriesReference(of: cell, among: peers, order: diskOrder), ref != id else { continue }
            if let a = iops[id], let b = iops[ref] {
                vsReference[id] = PairedRatio.make(a, over: b, referenceCellID: ref)
                logRatiosVsReference[id] = Self.logRatios(a, over: b)
            }
            if let a = cpu[id], let b = cpu[ref] {
                cpuVsReference[id] = PairedRatio.make(a, over: b, referenceCellID: ref)
                logCpuRatiosVsReference[id] = Self.logRatios(a, over: b)
            }
            if let a = adjusted[id], let b = adjusted[ref] {
                stealAdjustedVsReference[id] = PairedRatio.make(a, over: b, referenceCellID: ref)
            }
        }
    }

    /// `log(a / b)` block by block, over the blocks both have, in block order.
    static func logRatios(_ a: [Int: Double], over b: [Int: Double]) -> [Double] {
        a.keys.sorted().compactMap { blk in
            guard let x = a[blk], let y = b[blk], x > 0, y > 0 else { return nil }
            return log(x / y)
        }
    }

    /// The cell with the largest effective L2 cache in `cell`'s series
    /// (first in matrix order on a tie); raw cells have no series.
    static func seriesReference(of cell: Cell, among peers: [String: Cell], order: [String: Int]) -> String? {
        guard let series = SeriesKey(cell) else { return nil }
        let members = peers.filter { SeriesKey($0.value) == series }
        return members.max { a, b in
            let la = a.value.effectiveCache?.l2CacheBytes.bytes ?? 0
            let lb = b.value.effectiveCache?.l2CacheBytes.bytes ?? 0
            if la != lb { return la < lb }
            return (order[a.key] ?? 0) > (order[b.key] ?? 0)
        }?.key
    }

    /// The widest half-width among the ratios a run is steered by: each
    /// cell against its series reference, or against null-co when its
    /// series has no other cell; nil before any ratio exists.
    public var widestHalfWidth: Double? { steering.values.max() }

    /// The half-width of the ratio that steers each compared cell.
    public var steering: [String: Double] {
        let referenced = Set(vsReference.values.map(\.referenceCellID))
        var out: [String: Double] = [:]
        for id in Set(vsNull.keys).union(vsReference.keys) {
            if let r = vsReference[id] {
                out[id] = r.halfWidth
            } else if !referenced.contains(id), let r = vsNull[id] {
                out[id] = r.halfWidth
            }
        }
        return out
    }
}
