import BenchSpec
import GuestWire
import Qcow2Geometry

// CSV formatters. Both are pure functions of a ResultSet and produce the same
// bytes for the same records:
//
// - fields are quoted per RFC 4180 (only when they hold a comma, a double
//   quote, CR or LF; embedded quotes doubled); records end with LF, the last
//   one included;
// - numbers have a fixed number of decimals (IOPS and latency 1, MiB/s and
//   percentages 2, seconds 3), no grouping, no exponent; an empty field means
//   "not available" (no successful run, no confidence interval with n = 1,
//   no reference cell);
// - sizes are whole bytes, or the word `default` for a setting left to QEMU.

/// Header of `runs.csv`.
public let runsCSVColumns = [
    "cell", "repetition", "sequence", "status", "iops", "mib_s", "lat_p50_us", "lat_p99_us", "lat_p999_us",
    "lat_max_us", "io_errors", "boot_ms", "wall_s", "accel", "qemu_version", "failure",
]

/// Header of `cells.csv`. The first 19 columns are a stable contract; later
/// columns are only ever appended.
public let cellsCSVColumns = [
    "cell", "state", "disk_size", "cluster_size", "l2_cache_size", "l2_cache_entry_size", "refcount_cache_size",
    "cache_clean_interval", "l2_coverage_pct", "refcount_coverage_pct", "runs", "iops_mean", "iops_stdev",
    "iops_ci95", "iops_min", "iops_max", "lat_p50_us", "lat_p99_us", "vs_ceiling_pct",
    "eff_l2_cache_bytes", "eff_l2_entry_size", "eff_refcount_cache_bytes", "eff_cache_clean_interval", "failed_runs",
    "vs_best_pct", "vs_raw_pct", "cache_size",
    "isolation", "blocks", "ratio_ref_cell", "ratio_vs_ref", "ratio_vs_ref_ci95_low", "ratio_vs_ref_ci95_high",
    "ratio_vs_null", "ratio_vs_null_ci95_low", "ratio_vs_null_ci95_high", "cpu_ratio_vs_ref", "cpu_ratio_vs_ref_ci95_low",
    "cpu_ratio_vs_ref_ci95_high",
    "l2_misses_per_write", "l2_misses_per_write_model", "refcount_misses_per_write", "miss_read_us", "model_iops",
    "traced_iops",
]

/// `runs.csv`: one row per record, in run order (sequence, then cell ID,
/// then repetition). Result columns are empty for runs without a result;
/// `failure` is empty for runs that succeeded.
public func runsCSV(_ set: ResultSet) -> String {
    var out = csvRow(runsCSVColumns) + "\n"
    for r in set.records {
        let g = r.result
        let row: [String] = [
            r.cellID,
            "\(r.repetition)",
            "\(r.sequence)",
            r.status.rawValue,
            fixed(g?.iops, 1),
            fixed(g?.mibPerSecond, 2),
            fixed(g?.latency.p50Us, 1),
            fixed(g?.latency.p99Us, 1),
            fixed(g?.latency.p999Us, 1),
            fixed(g?.latency.maxUs, 1),
            g.map { "\($0.ioErrors)" } ?? "",
            g.map { "\($0.bootToFirstIOMillis)" } ?? "",
            fixed(r.wallSeconds, 3),
            r.provenance.accel,
            r.provenance.qemuVersion,
            r.failure ?? "",
        ]
        out += csvRow(row) + "\n"
    }
    return out
}

/// `cells.csv`: one row per cell, in `ResultSet.cells` order (reference cells
/// first, then qcow2 cells by state, cluster size, disk size and effective
/// L2 coverage). Columns are `cellsCSVColumns`:
///
/// - `state` is the image state for qcow2 cells and `null` or `raw` for
///   reference cells, whose cluster and cache columns are empty;
/// - `l2_cache_size` … `cache_clean_interval` are the settings as requested
///   (bytes, seconds, or `default`), as is `cache_size` (QEMU's combined
///   budget, last because it came later); `eff_*` are what QEMU builds;
/// - coverage is of the effective caches, percent of the virtual disk;
/// - `runs` counts all runs of the cell, `failed_runs` those without a
///   result; the IOPS and latency columns are over the successful ones;
/// - `vs_ceiling_pct` is mean IOPS against the `null-co` cell of the same
///   disk size and workload, `vs_best_pct` against the best qcow2 cell of the
///   same disk size, workload and host I/O, `vs_raw_pct` against the raw cell;
/// - `isolation` is `shared` (slots in one guest per group) or
///   `guest-per-run`; for shared cells `blocks` counts the blocks paired,
///   `ratio_vs_ref` is the geometric mean of per-block IOPS ratios against
///   `ratio_ref_cell` (the series' largest effective L2 cache), with its 95%
///   CI (t interval on log ratios), `ratio_vs_null` the same against the
///   guest's null-co control, and `cpu_ratio_vs_ref` the ratio of writes per
///   QEMU CPU second (above 1: the cell costs QEMU less CPU per write);
/// - from QEMU's cache trace (shared cells with traced slots; `CacheCounters`):
///   `l2_misses_per_write` and `refcount_misses_per_write` (means over slots),
///   `l2_misses_per_write_model` (`1 - coverage` for uniform offsets),
///   `miss_read_us` (mean over slots of each slot's mean miss read time) and
///   `model_iops`, the IOPS the series' cost model (`CostModel`) predicts at
///   the cell's measured misses per write, next to `traced_iops`, the traced
///   slots' IOPS as 1 / mean time per write (what the model is fitted on).
public func cellsCSV(_ set: ResultSet) -> String {
    var out = csvRow(cellsCSVColumns) + "\n"
    let counters = cellCacheCounters(set)
    let models = Dictionary(costModels(set).map { ($0.series, $0) }, uniquingKeysWith: { a, _ in a })
    for c in set.cells {
        let cell = c.cell
        let isQcow2 = cell.kind == .qcow2
        let e = isQcow2 ? c.effective : nil
        func setting(_ s: Setting<ByteSize>) -> String { isQcow2 ? (s.value.map { "\($0.bytes)" } ?? "default") : "" }
        let interval = isQcow2 ? (cell.cache.cacheCleanInterval.value.map { "\($0)" } ?? "default") : ""
        let row: [String] = [
            c.cellID,
            isQcow2 ? (cell.state ?? .preallocated).rawValue : cell.kind.rawValue,
            "\(cell.geometry.diskSize.bytes)",
            isQcow2 ? "\(cell.geometry.clusterSize.bytes)" : "",
            setting(cell.cache.l2CacheSize),
            setting(cell.cache.l2CacheEntrySize),
            setting(cell.cache.refcountCacheSize),
            interval,
            fixed(e?.l2CoveragePercent, 2),
            fixed(e?.refcountCoveragePercent, 2),
            "\(c.runs)",
            fixed(c.iops?.mean, 1),
            fixed(c.iops?.stdev, 1),
            fixed(c.iops?.ci95, 1),
            fixed(c.iops?.min, 1),
            fixed(c.iops?.max, 1),
            fixed(c.latencyP50Us, 1),
            fixed(c.latencyP99Us, 1),
            fixed(c.vsCeilingPercent, 2),
            e.map { "\($0.l2CacheBytes.bytes)" } ?? "",
            e.map { "\($0.l2EntrySize.bytes)" } ?? "",
            e.map { "\($0.refcountCacheBytes.bytes)" } ?? "",
            e.map { "\($0.cacheCleanInterval)" } ?? "",
            "\(c.failedRuns)",
            fixed(c.vsBestPercent, 2),
            fixed(c.vsRawPercent, 2),
            setting(cell.cache.cacheSize),
        ]
        let ref = set.paired.vsReference[c.cellID]
        let null = set.paired.vsNull[c.cellID]
        let cpu = set.paired.cpuVsReference[c.cellID]
        let shared = set.records.contains { $0.cellID == c.cellID && $0.slot != nil }
        let paired: [String] = [
            shared ? Isolation.shared.rawValue : Isolation.guestPerRun.rawValue,
            (ref ?? null).map { "\($0.blocks)" } ?? "",
            ref?.referenceCellID ?? "",
            fixed(ref?.ratio, 4), fixed(ref?.low, 4), fixed(ref?.high, 4),
            fixed(null?.ratio, 4), fixed(null?.low, 4), fixed(null?.high, 4),
            fixed(cpu?.ratio, 4), fixed(cpu?.low, 4), fixed(cpu?.high, 4),
        ]
        let k = counters[c.cellID]
        let model = c.series.flatMap { models[$0] }
        let trace: [String] = [
            fixed(k?.l2MissesPerWrite, 4),
            fixed(CellCacheCounters.expectedL2MissesPerWrite(cell, effective: c.effective), 4),
            fixed(k?.refcountMissesPerWrite, 4),
            fixed(k?.missReadMicros, 1),
            fixed(k.flatMap { model?.iops(missesPerWrite: $0.l2MissesPerWrite) }, 1),
            fixed(k?.tracedIOPS, 1),
        ]
        out += csvRow(row + paired + trace) + "\n"
    }
    return out
}
