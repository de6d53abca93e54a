import BenchResults
import BenchSpec
import Foundation
import Qcow2Geometry

/// One cell's QEMU cache counters, from the traced slots' `SlotInfo.cache`,
/// next to what the coverage model expects (DESIGN §5: uniform random
/// writes at effective L2 coverage `c` miss about `1 - c` of the time once
/// the cache is warm, 0 at full coverage).
public struct CellCacheCounters: Hashable, Sendable {
    /// Successful slots with counters.
    public var slots: Int
    /// Means over those slots of the per-slot figures; writes in a slot's
    /// traced window are its IOPS times the window.
    public var l2MissesPerWrite: Double
    public var refcountMissesPerWrite: Double
    /// IOPS of the traced slots as 1 / (mean time per write): the figure
    /// the cost model predicts (it is fitted on time per write).
    public var tracedIOPS: Double
    /// Mean over the slots that timed at least one miss read.
    public var missReadMicros: Double?
    public var missReadP50Micros: Double?
    public var missReadP99Micros: Double?
    /// `1 - c` with `c` the effective L2 coverage of the span written,
    /// capped at 1; nil for reference cells and non-uniform offsets.
    public var expectedL2MissesPerWrite: Double?

    /// Differences above this (misses per write) are flagged.
    public static let modelTolerance = 0.05

    /// Measured minus model; nil without a model.
    public var modelDifference: Double? { expectedL2MissesPerWrite.map { l2MissesPerWrite - $0 } }
    /// The measurement disagrees with the model by more than `modelTolerance`.
    public var disagreesWithModel: Bool { (modelDifference.map(abs) ?? 0) > Self.modelTolerance }

    /// The coverage model for `cell`, or nil when it does not apply.
    public static func expectedL2MissesPerWrite(_ cell: Cell, effective: EffectiveCache?) -> Double? {
        guard cell.kind == .qcow2, cell.workload.distribution == .uniform, let e = effective else { return nil }
        let span = cell.workload.span.bytes(of: cell.geometry.diskSize)
        guard span > 0 else { return nil }
        return max(0, 1 - min(1, Double(e.l2CoverageBytes) / Double(span)))
    }

    /// Per-slot points of one cell: (L2 misses per write, refcount misses
    /// per write, IOPS, miss read mean), successful traced slots only.
    static func points(_ records: [RunRecord]) -> [(l2: Double, refcount: Double, iops: Double, read: SlotCacheCounters)] {
        records.compactMap { r in
            guard r.succeeded, let c = r.slot?.cache, let iops = r.result?.iops else { return nil }
            let writes = c.writes(iops: iops)
            guard writes > 0 else { return nil }
            return (Double(c.l2Misses) / writes, Double(c.refcountMisses) / writes, iops, c)
        }
    }

    /// Aggregates the traced slots of one cell's records; nil without any.
    public init?(records: [RunRecord], cell: Cell, effective: EffectiveCache?) {
        let p = Self.points(records)
        guard !p.isEmpty else { return nil }
        func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
        slots = p.count
        l2MissesPerWrite = mean(p.map(\.l2)) ?? 0
        refcountMissesPerWrite = mean(p.map(\.refcount)) ?? 0
        tracedIOPS = 1 / (mean(p.map { 1 / $0.iops }) ?? .infinity)
        missReadMicros = mean(p.compactMap(\.read.missReadMeanMicros))
        missReadP50Micros = mean(p.compactMap(\.read.missReadP50Micros))
        missReadP99Micros = mean(p.compactMap(\.read.missReadP99Micros))
        expectedL2MissesPerWrite = Self.expectedL2MissesPerWrite(cell, effective: effective)
    }
}

/// Cache counters of every cell with traced slots, keyed by cell ID.
public func cellCacheCounters(_ set: ResultSet) -> [String: CellCacheCounters] {
    var byCell: [String: [RunRecord]] = [:]
    for r in set.records where r.slot?.cache != nil { byCell[r.cellID, default: []].append(r) }
    var out: [String: CellCacheCounters] = [:]
    for c in set.cells {
        guard let records = byCell[c.cellID] else { continue }
        out[c.cellID] = CellCacheCounters(records: records, cell: c.cell, effective: c.effective)
    }
    return out
}

/// What tracing costs: each cell's traced block is paired with its next
/// block when that one is untraced (`workload.trace = "alternate"` traces
/// odd blocks, `sampled` every fourth), neighbours, so drift mostly
/// cancels. The ratio is traced IOPS over untraced IOPS, geometric mean
/// over pairs with a t interval on the log ratios (`PairedRatio`).
public struct TraceOverhead: Hashable, Sendable {
    /// All cells' pairs pooled, and per cell.
    public var pooled: PairedRatio
    public var perCell: [String: PairedRatio]
    /// Cells with at least one pair (a cell needs two for its own ratio).
    public var cells: Int
    /// The same pairing on QEMU's I/O-thread CPU time per write (traced over
    /// untraced: above 1, tracing costs the I/O thread that much more), pooled.
    public var iothreadCPU: PairedRatio?

    /// Nil unless the records hold both traced and untraced slots in pairs.
    public init?(records: [RunRecord]) {
        var traced: [String: [Int: Double]] = [:]
        var untraced: [String: [Int: Double]] = [:]
        var tracedCPU: [String: [Int: Double]] = [:]
        var untracedCPU: [String: [Int: Double]] = [:]
        let slots = records.filter { $0.slot != nil && $0.succeeded }
        let tracedBlocks = Set(slots.filter { $0.slot?.cache != nil }.map { "\($0.slot?.group ?? 0)/\($0.repetition)" })
        guard !tracedBlocks.isEmpty else { return nil }
        for r in slots {
            guard let iops = r.result?.iops, let group = r.slot?.group else { continue }
            let block = r.repetition
            let cpu = r.slot?.host.flatMap { h in (r.result?.ops ?? 0) > 0 ? h.qemuIothreadMillis / Double(r.result?.ops ?? 1) : nil }
            if r.slot?.cache != nil, !tracedBlocks.contains("\(group)/\(block + 1)") {
                // Keyed by the traced block; its untraced successor pairs with it.
                traced[r.cellID, default: [:]][group * 100_000 + block] = iops
                tracedCPU[r.cellID, default: [:]][group * 100_000 + block] = cpu
            } else if !tracedBlocks.contains("\(group)/\(block)"), tracedBlocks.contains("\(group)/\(block - 1)") {
                untraced[r.cellID, default: [:]][group * 100_000 + block - 1] = iops
                untracedCPU[r.cellID, default: [:]][group * 100_000 + block - 1] = cpu
            }
        }
        var pooledA: [Int: Double] = [:]
        var pooledB: [Int: Double] = [:]
        var perCell: [String: PairedRatio] = [:]
        var cellsWithPairs = 0
        var cpuA: [Int: Double] = [:]
        var cpuB: [Int: Double] = [:]
        for (i, id) in traced.keys.sorted().enumerated() {
            if let a = tracedCPU[id], let b = untracedCPU[id] {
                for (k, v) in a where b[k] != nil {
                    cpuA[i * 100_000_000 + k] = v
                    cpuB[i * 100_000_000 + k] = b[k]
                }
            }
            guard let a = traced[id], let b = untraced[id] else { continue }
            perCell[id] = PairedRatio.make(a, over: b, referenceCellID: id)
            if a.keys.contains(where: { b[$0] != nil }) { cellsWithPairs += 1 }
            for (k, v) in a where b[k] != nil {
                pooledA[i * 100_000_000 + k] = v
                pooledB[i * 100_000_000 + k] = b[k]
            }
        }
        guard let pooled = PairedRatio.make(pooledA, over: pooledB, referenceCellID: "") else { return nil }
        self.pooled = pooled
        self.perCell = perCell
        cells = cellsWithPairs
        iothreadCPU = PairedRatio.make(cpuA, over: cpuB, referenceCellID: "")
    }
}
