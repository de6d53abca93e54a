import BenchResults
import BenchSpec
import GuestWire
import Qcow2Geometry

/// Everything measured for one cell: its repetitions, aggregated.
public struct CellSummary: Hashable, Sendable {
    public let cellID: String
    /// The cell as recorded by its earliest run.
    public let cell: Cell
    /// The cache QEMU builds for this cell (nil for `null` and `raw` cells).
    public let effective: EffectiveCache?
    /// Runs recorded for the cell, successful or not.
    public let runs: Int
    /// Runs that did not produce a result (status `failed`, or no result).
    public let failedRuns: Int
    /// IOPS over the successful runs; nil when none succeeded.
    public let iops: SampleStats?
    /// Mean over the successful runs of each run's median and 99th
    /// percentile completion latency, microseconds.
    public let latencyP50Us: Double?
    public let latencyP99Us: Double?
    /// Mean IOPS as a percentage of the `null-co` cell of the same disk size
    /// and workload (the ceiling of guest + driver); nil without that cell
    /// or for the null cell itself.
    public internal(set) var vsCeilingPercent: Double?
    /// Mean IOPS as a percentage of the best qcow2 cell measured with the
    /// same disk size, workload and host I/O mode; nil for reference cells.
    public internal(set) var vsBestPercent: Double?
    /// Mean IOPS as a percentage of the raw-image cell of the same disk size,
    /// workload and host I/O mode; nil without one or for reference cells.
    public internal(set) var vsRawPercent: Double?

    public var kind: DiskKind { cell.kind }
    public var isReference: Bool { cell.kind != .qcow2 }
    /// The series this cell belongs to (nil for reference cells).
    public var series: SeriesKey? { SeriesKey(cell) }

    /// Aggregates `records` (sorted by sequence); nil when there are none.
    init?(cellID: String, records: [RunRecord]) {
        guard let first = records.first else { return nil }
        self.cellID = cellID
        cell = first.cell
        effective = records.lazy.compactMap(\.effective).first ?? cell.effectiveCache
        runs = records.count
        let results = records.filter(\.succeeded).compactMap(\.result)
        failedRuns = records.count - results.count
        iops = SampleStats(results.map(\.iops))
        latencyP50Us = SampleStats(results.map(\.latency.p50Us))?.mean
        latencyP99Us = SampleStats(results.map(\.latency.p99Us))?.mean
    }
}

extension RunRecord {
    /// The run counts towards the statistics: status ok and a result with a
    /// finite IOPS figure.
    var succeeded: Bool { status == .ok && (result?.iops.isFinite ?? false) }
}

/// A run that did not produce a result, for the report's failure list.
public struct RunFailure: Hashable, Sendable {
    public let cellID: String
    public let repetition: Int
    public let sequence: Int
    /// The record's one-line reason, or a note that none was given.
    public let reason: String
}

/// A series: qcow2 cells that differ only in `l2-cache-size`, so they trace
/// one IOPS-against-coverage curve. Same image state, geometry (disk size,
/// cluster size, refcount width, extended L2), L2 entry size setting,
/// refcount cache setting, clean interval setting, host I/O mode and
/// workload. Cells sized through `cache-size` form their own series: there
/// the budget, not `l2-cache-size`, moves along the curve.
public struct SeriesKey: Hashable, Sendable, Comparable {
    public let state: ImageState
    public let geometry: ImageGeometry
    public let l2CacheEntrySize: Setting<ByteSize>
    public let refcountCacheSize: Setting<ByteSize>
    public let cacheCleanInterval: Setting<Int>
    /// The cells set QEMU's combined `cache-size`.
    public let sizedByCacheSize: Bool
    public let hostIO: HostIO
    public let workload: Workload

    /// The series of `cell`; nil for reference cells.
    public init?(_ cell: Cell) {
        guard cell.kind == .qcow2 else { return nil }
        state = cell.state ?? .preallocated
        geometry = cell.geometry
        l2CacheEntrySize = cell.cache.l2CacheEntrySize
        refcountCacheSize = cell.cache.refcountCacheSize
        cacheCleanInterval = cell.cache.cacheCleanInterval
        sizedByCacheSize = !cell.cache.cacheSize.isDefault
        hostIO = cell.hostIO
        workload = cell.workload
    }

    /// Short description of the image and of every setting that is not left
    /// to QEMU: `preallocated, 16G disk, 64K clusters, entry 4K`.
    public var label: String {
        var parts = [state.rawValue, "\(geometry.diskSize) disk", "\(geometry.clusterSize) clusters"]
        if geometry.refcountBits != 16 { parts.append("refcount_bits \(geometry.refcountBits)") }
        if geometry.extendedL2 { parts.append("extended L2") }
        if let e = l2CacheEntrySize.value { parts.append("entry \(e)") }
        if let r = refcountCacheSize.value { parts.append("refcount cache \(r)") }
        if let i = cacheCleanInterval.value { parts.append("clean interval \(i)s") }
        if sizedByCacheSize { parts.append("sized by cache-size") }
        return parts.joined(separator: ", ")
    }

    /// Workload in a few words: `4K random writes, qd 32, span 100%, 2s ramp + 10s`.
    public var workloadLabel: String { workloadDescription(workload) }

    /// Host I/O mode: `cache=none, aio=native`.
    public var hostIOLabel: String { "cache=\(hostIO.cache), aio=\(hostIO.aio)" }

    /// Sort key: state (declaration order), cluster size, disk size, then
    /// refcount width, extended L2, entry size, refcount cache, clean
    /// interval (each `default` first, then ascending), host I/O, workload.
    var sortKey: (Int, UInt64, UInt64, String) {
        let rest = [
            padded(UInt64(geometry.refcountBits)), geometry.extendedL2 ? "1" : "0",
            settingKey(l2CacheEntrySize.value?.bytes), settingKey(refcountCacheSize.value?.bytes),
            settingKey(cacheCleanInterval.value.map { UInt64(max(0, $0)) }), hostIO.cache, hostIO.aio,
            padded(workload.blockSize.bytes), padded(UInt64(max(0, workload.iodepth))), workload.span.description,
            padded(UInt64(workload.ramp.milliseconds)), padded(UInt64(workload.runtime.milliseconds)),
            sizedByCacheSize ? "1" : "0",
        ].joined(separator: "\u{1}")
        return (stateOrder(state), geometry.clusterSize.bytes, geometry.diskSize.bytes, rest)
    }

    public static func < (a: SeriesKey, b: SeriesKey) -> Bool { a.sortKey < b.sortKey }
}

/// A number as fixed-width digits, so string order is numeric order.
private func padded(_ n: UInt64) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
}

/// Sort key of a setting: `default` first, then values ascending.
private func settingKey(_ value: UInt64?) -> String { value.map { "1" + padded($0) } ?? "0" }

func stateOrder(_ s: ImageState) -> Int { ImageState.allCases.firstIndex(of: s) ?? Int.max }

func workloadDescription(_ w: Workload) -> String {
    "\(w.blockSize) random writes, qd \(w.iodepth), span \(w.span), \(w.ramp) ramp + \(w.runtime)"
}

/// The knee of one series: the cell with the smallest effective L2 cache
/// whose mean IOPS is within `tolerance` of the series' best mean.
public struct Knee: Hashable, Sendable {
    public let series: SeriesKey
    /// The chosen cell.
    public let cell: CellSummary
    /// The series' cell with the highest mean IOPS.
    public let best: CellSummary
    /// Fraction below the best that still counts as "as good" (0.05 = 5%).
    public let tolerance: Double
    /// The project's knee rule; every report and `bench calibrate` use it.
    public static let defaultTolerance = 0.05
    /// `defaultTolerance` as reports print it: `5%`.
    public static var defaultToleranceText: String { "\(Int((defaultTolerance * 100).rounded()))%" }
    /// Cells of the series with at least one successful run.
    public let measuredCells: Int

    /// Knee mean IOPS as a percentage of the series' best mean.
    public var percentOfBest: Double {
        guard let k = cell.iops?.mean, let b = best.iops?.mean, b > 0 else { return .nan }
        return k / b * 100
    }
}

/// The aggregated view of a list of run records; every report is computed
/// from one of these.
public struct ResultSet: Hashable, Sendable {
    /// The records, sorted by sequence, then cell ID, then repetition.
    public let records: [RunRecord]
    /// One summary per cell, sorted: reference cells first (`null`, then
    /// `raw`, each by disk size, then cell ID), then qcow2 cells by image
    /// state (`preallocated`, `fresh`), cluster size, disk size, effective L2
    /// coverage ascending (then effective L2 bytes), then cell ID.
    public let cells: [CellSummary]
    /// Paired ratios of the cells that ran in shared guests.
    public let paired: PairedAnalysis
    /// Short cell names for tables and plots.
    public let labels: CellLabels

    public init(records: [RunRecord]) {
        let sorted = records.sorted {
            ($0.sequence, $0.cellID, $0.repetition) < ($1.sequence, $1.cellID, $1.repetition)
        }
        self.records = sorted
        var order: [String] = []
        var byCell: [String: [RunRecord]] = [:]
        for r in sorted {
            if byCell[r.cellID] == nil { order.append(r.cellID) }
            byCell[r.cellID, default: []].append(r)
        }
        var summaries = order.compactMap { id in byCell[id].flatMap { CellSummary(cellID: id, records: $0) } }
        summaries.sort(by: ResultSet.precedes)
        ResultSet.fillRelatives(&summaries)
        cells = summaries
        paired = PairedAnalysis(records: sorted)
        labels = CellLabels(cells: summaries.map(\.cell))
    }

    /// The sort order documented on `cells`.
    static func precedes(_ a: CellSummary, _ b: CellSummary) -> Bool {
        func kindOrder(_ k: DiskKind) -> Int {
            switch k {
            case .null: 0
            case .raw: 1
            case .qcow2: 2
            }
        }
        if kindOrder(a.kind) != kindOrder(b.kind) { return kindOrder(a.kind) < kindOrder(b.kind) }
        if a.isReference {
            return (a.cell.geometry.diskSize.bytes, a.cellID) < (b.cell.geometry.diskSize.bytes, b.cellID)
        }
        let ka = (
            stateOrder(a.cell.state ?? .preallocated), a.cell.geometry.clusterSize.bytes, a.cell.geometry.diskSize.bytes
        )
        let kb = (
            stateOrder(b.cell.state ?? .preallocated), b.cell.geometry.clusterSize.bytes, b.cell.geometry.diskSize.bytes
        )
        if ka != kb { return ka < kb }
        let ca = a.effective?.l2CoveragePercent ?? 0
        let cb = b.effective?.l2CoveragePercent ?? 0
        if ca != cb { return ca < cb }
        let la = a.effective?.l2CacheBytes.bytes ?? 0
        let lb = b.effective?.l2CacheBytes.bytes ?? 0
        if la != lb { return la < lb }
        return a.cellID < b.cellID
    }

    /// Fills the relative columns; needs the whole set, hence after init.
    static func fillRelatives(_ cells: inout [CellSummary]) {
        let snapshot = cells
        for i in cells.indices {
            let c = cells[i]
            guard let mean = c.iops?.mean else { continue }
            func percent(of ref: CellSummary?) -> Double? {
                guard let m = ref?.iops?.mean, m > 0 else { return nil }
                return mean / m * 100
            }
            if c.kind != .null {
                cells[i].vsCeilingPercent = percent(of: ceiling(for: c.cell, in: snapshot))
            }
            guard !c.isReference else { continue }
            cells[i].vsRawPercent = percent(of: rawReference(for: c.cell, in: snapshot))
            let peers = snapshot.filter {
                !$0.isReference && $0.cell.geometry.diskSize == c.cell.geometry.diskSize
                    && $0.cell.workload == c.cell.workload && $0.cell.hostIO == c.cell.hostIO
            }
            cells[i].vsBestPercent = percent(of: bestByMean(peers))
        }
    }

    static func ceiling(for cell: Cell, in cells: [CellSummary]) -> CellSummary? {
        cells.first {
            $0.kind == .null && $0.cell.geometry.diskSize == cell.geometry.diskSize && $0.cell.workload == cell.workload
                && $0.iops != nil
        }
    }

    static func rawReference(for cell: Cell, in cells: [CellSummary]) -> CellSummary? {
        cells.first {
            $0.kind == .raw && $0.cell.geometry.diskSize == cell.geometry.diskSize && $0.cell.workload == cell.workload
                && $0.cell.hostIO == cell.hostIO && $0.iops != nil
        }
    }

    /// The `null-co` cell that is the ceiling for `cell` (same disk size and
    /// workload), if one was measured.
    public func ceiling(for cell: CellSummary) -> CellSummary? { Self.ceiling(for: cell.cell, in: cells) }

    /// The raw-image cell for `cell` (same disk size, workload, host I/O).
    public func rawReference(for cell: CellSummary) -> CellSummary? { Self.rawReference(for: cell.cell, in: cells) }

    /// The reference cells (`null` and `raw`), in `cells` order.
    public var referenceCells: [CellSummary] { cells.filter(\.isReference) }

    /// Every series with at least one cell, sorted by image state, cluster
    /// size, disk size, then the other settings.
    public var series: [SeriesKey] {
        var seen = Set<SeriesKey>()
        var out: [SeriesKey] = []
        for c in cells { if let s = c.series, seen.insert(s).inserted { out.append(s) } }
        return out.sorted()
    }

    /// The cells of `series`, in `cells` order (coverage ascending).
    public func cells(in series: SeriesKey) -> [CellSummary] { cells.filter { $0.series == series } }

    /// The knee of `series`: among its cells with a successful run, the one
    /// with the smallest effective L2 cache (ties: lower coverage, then cell
    /// ID) whose mean IOPS is at least `(1 - tolerance)` times the series'
    /// best mean. Nil when no cell of the series has a successful run.
    public func knee(of series: SeriesKey, tolerance: Double = Knee.defaultTolerance) -> Knee? {
        let measured = cells(in: series).filter { $0.iops != nil }
        guard let best = Self.bestByMean(measured), let bestMean = best.iops?.mean else { return nil }
        let threshold = bestMean * (1 - tolerance)
        let candidates = measured.filter { ($0.iops?.mean ?? -.infinity) >= threshold }
        let chosen = candidates.min { a, b in
            let ka = (a.effective?.l2CacheBytes.bytes ?? .max, a.effective?.l2CoverageBytes ?? .max, a.cellID)
            let kb = (b.effective?.l2CacheBytes.bytes ?? .max, b.effective?.l2CoverageBytes ?? .max, b.cellID)
            return ka < kb
        }
        return chosen.map { Knee(series: series, cell: $0, best: best, tolerance: tolerance, measuredCells: measured.count) }
    }

    /// The knee of every series that has one, in `series` order.
    public func knees(tolerance: Double = Knee.defaultTolerance) -> [Knee] {
        series.compactMap { knee(of: $0, tolerance: tolerance) }
    }

    /// Runs without a result, in run order.
    public var failures: [RunFailure] {
        records.filter { !$0.succeeded }.map {
            let reason: String
            if let f = $0.failure, !f.isEmpty {
                reason = f
            } else if $0.status == .ok {
                reason = "status ok but no usable result recorded"
            } else {
                reason = "no reason recorded"
            }
            return RunFailure(cellID: $0.cellID, repetition: $0.repetition, sequence: $0.sequence, reason: reason)
        }
    }

    /// Highest mean IOPS; ties go to the smaller effective L2 cache, then
    /// the lower cell ID, so the choice is deterministic.
    static func bestByMean(_ cells: [CellSummary]) -> CellSummary? {
        cells.filter { $0.iops != nil }.min { a, b in
            let ma = a.iops?.mean ?? -.infinity
            let mb = b.iops?.mean ?? -.infinity
            if ma != mb { return ma > mb }
            let la = a.effective?.l2CacheBytes.bytes ?? .max
            let lb = b.effective?.l2CacheBytes.bytes ?? .max
            if la != lb { return la < lb }
            return a.cellID < b.cellID
        }
    }
}
