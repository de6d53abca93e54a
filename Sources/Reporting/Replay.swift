import BenchResults
import Foundation
import GuestWire

// Replaying a results directory as many bootstrapped nights, to measure what
// the nightly gate (`compareResults`, the function `bench compare` calls)
// does with that much data: how often it flags a known drop in one cell
// (power) and how often two nights of the same commit fail it (false alarm).
//
// A night is a sequence of blocks; a block is one slot of every shared-guest
// cell, measured together, so resampling whole blocks keeps the pairing the
// gate relies on (per-block ratios) and the block-to-block noise as it was.
//
// Which blocks the two nights of a replay are drawn from (`ReplayPool`):
//
// - `independent` (the default): each night draws its blocks with
//   replacement from every block of the pool, independently. Given the pool
//   the two nights are independent draws from the same distribution, which
//   is the null hypothesis of an A/A night, and the gate's test sees the
//   spread it would see in a real night of that many blocks. The nights do
//   share the pool: whatever made this one night unusual (its boot, its
//   runner) is in both, so the replay cannot show variation *between*
//   nights; it measures the gate against block-to-block noise only.
// - `split`: every replayed night pair splits the pool at random into two
//   disjoint halves, and each night takes its blocks from its own half
//   *without* replacement. Two nights then never share a measured block,
//   and drift inside the night (first and last blocks differ) reaches the
//   A/A comparison. Without replacement, because the two halves' means
//   already differ by the noise of two real nights: resampling each half as
//   well would add the bootstrap's own spread on top and double the variance
//   of the difference (measured on synthetic nights: 11.5% A/A alarms where
//   the test's level is 5%). So a night holds at most half the pool's
//   blocks: a pool of two nights' blocks replays nights of the real size.
//
// Either way the replayed nights come from one measured night: variation
// between nights (another boot, another runner) is not in them.

/// Where the two nights of a replayed pair draw their blocks from.
public enum ReplayPool: String, Hashable, Sendable, Codable, CaseIterable {
    /// Both nights resample the whole pool, independently.
    case independent
    /// Each pair splits the pool into two random disjoint halves; each night
    /// takes distinct blocks from its own half.
    case split
}

/// What kind of slowdown a power night simulates in the dropped cell.
public enum ReplayRegression: String, Hashable, Sendable, Codable, CaseIterable {
    /// Each write costs QEMU more CPU: fewer writes in the same window at
    /// the same CPU time, so IOPS and writes per CPU millisecond both fall
    /// by the drop (under TCG a slower QEMU code path looks like this).
    case cpu
    /// Writes wait longer at the same CPU cost each (a slower device or an
    /// added synchronous read): IOPS fall by the drop, writes per CPU
    /// millisecond do not, and only the IOPS ratio can see it.
    case wait
}

/// What to replay.
public struct ReplayOptions: Hashable, Sendable {
    /// The drop applied to one cell's IOPS in the new night, as a fraction
    /// (0.05 multiplies its IOPS by 0.95).
    public var drop: Double
    /// Cell IDs or short labels to drop, one at a time; nil: every gated cell.
    public var cells: [String]?
    /// Night pairs to replay.
    public var nights: Int
    /// Blocks per replayed night; nil: the pool's block count
    /// (`independent`), half of it (`split`).
    public var blocks: Int?
    public var seed: UInt64
    public var pool: ReplayPool
    /// The gate's settings, as `bench compare` takes them.
    public var criteria: RegressionCriteria
    public var regression: ReplayRegression

    public init(
        drop: Double = 0.05, cells: [String]? = nil, nights: Int = 1000, blocks: Int? = nil, seed: UInt64 = 1,
        pool: ReplayPool = .independent, criteria: RegressionCriteria = RegressionCriteria(), regression: ReplayRegression = .cpu
    ) {
        self.regression = regression
        self.drop = drop
        self.cells = cells
        self.nights = nights
        self.blocks = blocks
        self.seed = seed
        self.pool = pool
        self.criteria = criteria
    }
}

/// Why a replay cannot run; the description is the one-line message.
public enum ReplayError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No successful record of a shared-guest slot: nothing is paired.
    case noPairedRecords(source: String)
    /// Fewer blocks than the replay needs (2 per night's pool).
    case tooFewBlocks(source: String, blocks: Int, needed: Int, pool: ReplayPool)
    /// `--blocks` beyond what a split half holds.
    case blocksBeyondHalf(requested: Int, half: Int, poolBlocks: Int)
    /// A `--cell` that names no cell of the records.
    case unknownCell(String, known: [String])
    /// A `--cell` the gate never flags (the null-co control).
    case ungatedCell(String, reason: String)
    /// No cell the gate tests: nothing to drop.
    case noGatedCell(source: String)

    public var description: String {
        switch self {
        case .noPairedRecords(let source):
            return "\(source): no successful shared-guest slot records; replay needs paired blocks (isolation = \"shared\")"
        case .tooFewBlocks(let source, let blocks, let needed, let pool):
            return "\(source): \(blocks) paired block\(blocks == 1 ? "" : "s"); --pool \(pool.rawValue) needs at least \(needed)"
        case .blocksBeyondHalf(let requested, let half, let poolBlocks):
            return "--blocks: invalid value \"\(requested)\": with --pool split each night draws from half of the "
                + "\(poolBlocks) blocks, so at most \(half) (or use --pool independent)"
        case .unknownCell(let name, let known):
            return "--cell: invalid value \"\(name)\": no such cell; cells: \(known.joined(separator: ", "))"
        case .ungatedCell(let name, let reason):
            return "--cell: invalid value \"\(name)\": the gate never flags it (\(reason))"
        case .noGatedCell(let source):
            return "\(source): no cell that the gate tests (only the null-co control?)"
        }
    }
}

/// A count out of trials with its Wilson score interval (95%): unlike the
/// normal approximation it stays inside 0...1 and is honest at 0 of n, the
/// case a false-alarm rate is usually in.
public struct Proportion: Hashable, Sendable, Codable {
    public let count: Int
    public let trials: Int
    public let rate: Double
    public let low: Double
    public let high: Double

    public init(count: Int, trials: Int, z: Double = 1.959963984540054) {
        self.count = count
        self.trials = trials
        guard trials > 0 else {
            rate = 0
            low = 0
            high = 1
            return
        }
        let n = Double(trials)
        let p = Double(count) / n
        let z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        rate = p
        // At 0 of n and n of n the bound is exactly the rate; computed, it
        // can miss it by a rounding error and leave the rate outside.
        low = count == 0 ? 0 : min(p, max(0, centre - half))
        high = count == trials ? 1 : max(p, min(1, centre + half))
    }
}

/// The replayed power against a drop of one cell.
public struct ReplayCellPower: Hashable, Sendable, Codable {
    public let cellID: String
    public let label: String
    /// Nights in which the gate flagged this cell as a regression.
    public let flagged: Proportion
    /// Nights in which the gate failed at all (this cell or another).
    public let gateFailed: Proportion
    /// Median over the A/A nights of the smallest change `compare` says its
    /// test of this cell could detect (percent, 80% power).
    public let medianMinimumDetectablePercent: Double?
}

/// Power and false-alarm rate of the nightly gate on replayed nights.
///
/// Stability: `bench replay --json` prints this; fields are only added
/// within a `schemaVersion`.
public struct ReplayReport: Hashable, Sendable, Codable {
    public static let currentSchemaVersion = 1

    public let schemaVersion: Int
    public let source: String
    public let criteria: RegressionCriteria
    public let dropPercent: Double
    /// The kind of slowdown the power nights simulate (nil in reports from
    /// before it could be chosen: IOPS alone, as `wait` does).
    public var regression: ReplayRegression? = nil
    public let nights: Int
    public let blocksPerNight: Int
    /// Paired blocks in the records, and records that are not shared-guest
    /// slots (left out: they have no blocks to resample).
    public let poolBlocks: Int
    public let unpairedRecords: Int
    public let pool: ReplayPool
    public let seed: UInt64
    /// A/A nights (no drop) that failed the gate.
    public let falseAlarms: Proportion
    /// A/A nights in which the gate flagged anything, regression or
    /// improvement: what the report would draw attention to.
    public let anyFlag: Proportion
    /// One entry per dropped cell, in the result set's cell order.
    public let cells: [ReplayCellPower]
}

/// The blocks of `records`: the successful and failed shared-guest slots per
/// block number (`repetition`), in block order; each block's records in
/// slot order. Blocks with no successful slot are left out.
func pairedBlocks(_ records: [RunRecord]) -> [[RunRecord]] {
    var byBlock: [Int: [RunRecord]] = [:]
    for r in records where r.slot != nil { byBlock[r.repetition, default: []].append(r) }
    return byBlock.keys.sorted().compactMap { key in
        guard let block = byBlock[key], block.contains(where: { $0.succeeded }) else { return nil }
        return block.sorted { ($0.slot?.position ?? 0, $0.sequence) < ($1.slot?.position ?? 0, $1.sequence) }
    }
}

/// A night made of `chosen` blocks, renumbered 1, 2, … so that a block drawn
/// twice counts as two blocks; the IOPS of `dropped` scaled by `factor`, and
/// for a `cpu` regression its write count too (the same QEMU CPU time).
func syntheticNight(
    _ chosen: [[RunRecord]], dropped: String? = nil, factor: Double = 1, regression: ReplayRegression = .cpu
) -> [RunRecord] {
    var out: [RunRecord] = []
    out.reserveCapacity(chosen.reduce(0) { $0 + $1.count })
    for (index, block) in chosen.enumerated() {
        for var r in block {
            r.repetition = index + 1
            r.slot?.block = index + 1
            r.sequence = out.count
            if r.cellID == dropped, var result = r.result {
                result.iops *= factor
                if regression == .cpu { result.ops = UInt64((Double(result.ops) * factor).rounded()) }
                r.result = result
            }
            out.append(r)
        }
    }
    return out
}

/// `count` blocks drawn with replacement from `pool`.
func resample(_ pool: [[RunRecord]], count: Int, using rng: inout SplitMix64) -> [[RunRecord]] {
    (0..<count).map { _ in pool[Int(rng.next(below: UInt64(pool.count)))] }
}

/// True when the gate flags `cellID` in `comparison`: the verdict `bench
/// compare` exits 1 on.
func gateFlags(_ comparison: Comparison, cellID: String) -> Bool {
    comparison.cells.contains { $0.cellID == cellID && $0.gated && $0.verdict == .regression }
}

/// Replays `records` (one results directory) as `options.nights` pairs of
/// resampled nights (see `ReplayPool`) and runs the nightly gate on each: once as an A/A
/// pair, and once per dropped cell with that cell's IOPS scaled by
/// `1 - options.drop` in the new night. Deterministic for a seed.
public func replayNights(records: [RunRecord], options: ReplayOptions, source: String) throws(ReplayError) -> ReplayReport {
    let blocks = pairedBlocks(records)
    guard !blocks.isEmpty else { throw .noPairedRecords(source: source) }
    let needed = options.pool == .split ? 4 : 2
    guard blocks.count >= needed else {
        throw .tooFewBlocks(source: source, blocks: blocks.count, needed: needed, pool: options.pool)
    }
    let half = blocks.count / 2
    let perNight: Int
    switch options.pool {
    case .independent:
        perNight = options.blocks ?? blocks.count
    case .split:
        if let b = options.blocks, b > half { throw .blocksBeyondHalf(requested: b, half: half, poolBlocks: blocks.count) }
        perNight = options.blocks ?? half
    }

    let whole = ResultSet(records: blocks.flatMap { $0 })
    let targets = try droppedCells(options.cells, in: whole, source: source)

    var rng = SplitMix64(seed: options.seed)
    var falseAlarms = 0
    var anyFlag = 0
    var flagged = [Int](repeating: 0, count: targets.count)
    var failed = [Int](repeating: 0, count: targets.count)
    var detectable = [[Double]](repeating: [], count: targets.count)
    for _ in 0..<options.nights {
        let baselineBlocks: [[RunRecord]]
        let currentBlocks: [[RunRecord]]
        switch options.pool {
        case .independent:
            baselineBlocks = resample(blocks, count: perNight, using: &rng)
            currentBlocks = resample(blocks, count: perNight, using: &rng)
        case .split:
            // One shuffle: its first blocks are the baseline night, the
            // blocks after the first half the new night; none drawn twice.
            var shuffled = blocks
            shuffled.seededShuffle(using: &rng)
            baselineBlocks = Array(shuffled[..<perNight])
            currentBlocks = Array(shuffled[half..<(half + perNight)])
        }
        let baseline = ResultSet(records: syntheticNight(baselineBlocks))

        let aa = compareResults(baseline: baseline, current: ResultSet(records: syntheticNight(currentBlocks)), criteria: options.criteria)
        if aa.hasRegression { falseAlarms += 1 }
        if aa.cells.contains(where: { $0.gated && ($0.verdict == .regression || $0.verdict == .improvement) }) { anyFlag += 1 }
        for (i, id) in targets.enumerated() {
            if let mde = aa.cells.first(where: { $0.cellID == id })?.pairedRatio?.minimumDetectablePercent {
                detectable[i].append(mde)
            }
            let night = syntheticNight(currentBlocks, dropped: id, factor: 1 - options.drop, regression: options.regression)
            let comparison = compareResults(baseline: baseline, current: ResultSet(records: night), criteria: options.criteria)
            if gateFlags(comparison, cellID: id) { flagged[i] += 1 }
            if comparison.hasRegression { failed[i] += 1 }
        }
    }
    let cells = targets.enumerated().map { i, id in
        ReplayCellPower(
            cellID: id, label: whole.labels.label(id), flagged: Proportion(count: flagged[i], trials: options.nights),
            gateFailed: Proportion(count: failed[i], trials: options.nights),
            medianMinimumDetectablePercent: median(detectable[i]))
    }
    var report = ReplayReport(
        schemaVersion: ReplayReport.currentSchemaVersion, source: source, criteria: options.criteria,
        dropPercent: options.drop * 100, nights: options.nights, blocksPerNight: perNight, poolBlocks: blocks.count,
        unpairedRecords: records.filter { $0.slot == nil }.count, pool: options.pool, seed: options.seed,
        falseAlarms: Proportion(count: falseAlarms, trials: options.nights),
        anyFlag: Proportion(count: anyFlag, trials: options.nights), cells: cells)
    report.regression = options.regression
    return report
}

/// The cell IDs to drop: the named ones (by ID or short label, either case)
/// or every cell the gate tests, in the result set's cell order. Which cells
/// the gate tests is the gate's own answer (the pool compared with itself),
/// so the null-co rule and any later one live in `compareResults` only.
func droppedCells(_ names: [String]?, in set: ResultSet, source: String) throws(ReplayError) -> [String] {
    let itself = compareResults(baseline: set, current: set)
    let ungated = Dictionary(
        itself.cells.filter { !$0.gated }.map { ($0.cellID, $0.ungatedBecause ?? "not gated") }, uniquingKeysWith: { a, _ in a })
    let gated = set.cells.map(\.cellID).filter { id in ungated[id] == nil && itself.cells.contains { $0.cellID == id } }
    guard let names else {
        guard !gated.isEmpty else { throw .noGatedCell(source: source) }
        return gated
    }
    var out: [String] = []
    for name in names {
        let match = set.cells.first { $0.cellID == name }
            ?? set.cells.first { set.labels.label($0.cellID).lowercased() == name.lowercased() }
        guard let cell = match else { throw .unknownCell(name, known: set.cells.map { set.labels.label($0.cellID) }) }
        if let why = ungated[cell.cellID] { throw .ungatedCell(name, reason: why) }
        if !out.contains(cell.cellID) { out.append(cell.cellID) }
    }
    return out
}

private func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
