import BenchResults
import BenchSpec
import Foundation
import GuestWire

/// When a change between a baseline and a current result set counts as real:
/// significant at `confidence` AND larger than `thresholdPercent`. The two
/// together keep nightly CI quiet on noise (significance) and on changes too
/// small to matter (threshold).
public struct RegressionCriteria: Hashable, Sendable, Codable {
    /// Confidence level of the two-sided test, in (0, 1); 0.95 flags p < 0.05.
    public var confidence: Double
    /// Smallest change of the mean, in percent of the baseline mean, that can
    /// be flagged.
    public var thresholdPercent: Double

    /// Runs each side needs for Welch's t-test. With two, the variance
    /// estimate rests on one degree of freedom and the Welch–Satterthwaite
    /// approximation is unreliable, so the exact rank test is used instead:
    /// it assumes no distribution and, at that size, only flags what no
    /// ordering of the runs could explain (often nothing; the report says so).
    public static let welchMinimumRuns = 3

    public init(confidence: Double = 0.95, thresholdPercent: Double = 5) {
        self.confidence = confidence
        self.thresholdPercent = thresholdPercent
    }

    /// Significance level: p-values below it are significant.
    public var alpha: Double { 1 - confidence }
}

/// A per-run measurement that `compare` tests.
public enum ComparedMetric: String, Hashable, Sendable, Codable {
    /// Mean IOPS of the run: lower is a regression.
    case iops
    /// 99th percentile completion latency of the run, µs: higher is a regression.
    case latencyP99 = "p99_latency_us"
    /// A shared-guest cell's IOPS over its series reference's in the same
    /// block (a reference's over the null-co control's): tested on the
    /// per-block log ratios, so it stays comparable between runners of
    /// different speed. Lower is a regression.
    case pairedRatio = "paired_ratio"
    /// A cell's IOPS under the compared QEMU build over its IOPS under the
    /// base build in the same block (`bench compare DIR --builds`): tested
    /// on the per-block log ratios with a paired t-test. Lower is a regression.
    case buildRatio = "build_ratio"
    /// A shared-guest cell's writes per QEMU CPU millisecond over its series
    /// reference's in the same block (a reference's over null-co's; between
    /// builds, under the compared build over the base's): what a write costs
    /// QEMU, paired like `pairedRatio` (or `buildRatio`). CPU time does not run
    /// while the hypervisor steals it, so this moves less with host load
    /// than IOPS per wall second; it misses a change that only adds waiting.
    /// Lower is a regression (writes got costlier).
    case cpuRatio = "cpu_ratio"

    var higherIsBetter: Bool { self != .latencyP99 }

    /// The run's value of this metric.
    func value(_ result: GuestResult) -> Double {
        switch self {
        case .iops, .pairedRatio, .buildRatio, .cpuRatio: result.iops
        case .latencyP99: result.latency.p99Us
        }
    }

    var label: String {
        switch self {
        case .iops: "IOPS"
        case .latencyP99: "p99"
        case .pairedRatio: "ratio"
        case .cpuRatio: "CPU ratio"
        case .buildRatio: "build ratio"
        }
    }
}

/// Outcome for one metric or one cell. Declaration order is the report's
/// sort order: regressions first.
public enum Verdict: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    /// Worse, significantly and beyond the threshold.
    case regression
    /// Better, significantly and beyond the threshold.
    case improvement
    /// Tested; not both significant and beyond the threshold.
    case unchanged
    /// No test possible (fewer than two successful runs on a side).
    case untested

    public static func < (a: Verdict, b: Verdict) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }
}

/// Baseline against current for one metric of one cell. Every number is
/// finite or nil, so the value encodes to JSON as it is.
public struct MetricComparison: Hashable, Sendable, Codable {
    public let metric: ComparedMetric
    /// Successful runs on each side (the sample sizes of the test).
    public let baselineRuns: Int
    public let currentRuns: Int
    public let baselineMean: Double?
    public let currentMean: Double?
    /// `(current - baseline) / baseline`, percent; nil without both means or
    /// with a zero baseline.
    public let changePercent: Double?
    /// The test used; nil when none was possible.
    public let test: TwoSampleTest.Method?
    /// Welch's t (current minus baseline) or the current side's U.
    public let statistic: Double?
    public let degreesOfFreedom: Double?
    /// Two-sided p-value.
    public let pValue: Double?
    /// `pValue < 1 - confidence`.
    public var significant: Bool
    public var verdict: Verdict
    /// Why a change was not flagged or not tested, when that is not obvious.
    public var note: String?
    /// The p-value after Holm–Bonferroni over every gated test of the
    /// comparison (cells x metrics); `significant` uses it when set.
    public var adjustedPValue: Double? = nil
    /// The smallest change (percent) this test would detect with 80% power
    /// at the comparison's family-wise level, from the two sides' spread.
    public var minimumDetectablePercent: Double? = nil
    /// False for figures shown but not gated (absolute IOPS and p99 of a
    /// paired cell, which depend on the runner's speed).
    public var gated: Bool = true
}

/// Baseline against current for one cell present on both sides.
public struct CellComparison: Hashable, Sendable, Codable {
    public let cellID: String
    /// Regression when a gated metric regressed; improvement when one
    /// improved and none regressed; unchanged when tested; else untested.
    public var verdict: Verdict
    public var iops: MetricComparison
    public var latencyP99: MetricComparison
    /// The paired ratio against the series reference (shared-guest cells
    /// on both sides); when present it is the gate, not absolute IOPS.
    public var pairedRatio: MetricComparison?
    /// The same pairing on writes per QEMU CPU millisecond, gated with it
    /// (nil where the records have no host noise, e.g. guest-per-run cells).
    public var cpuRatio: MetricComparison? = nil
    /// False for the null-co control and for cells whose workload differs
    /// between the sides: shown, never a regression.
    public var gated: Bool = true
    /// Why the cell is not gated.
    public var ungatedBecause: String?

    public var metrics: [MetricComparison] { [pairedRatio, cpuRatio, iops, latencyP99].compactMap { $0 } }
}

/// One provenance field whose values differ between the two sides.
public struct EnvironmentDifference: Hashable, Sendable, Codable {
    /// `QEMU version`, `accelerator`, `host CPU`, …
    public let field: String
    /// Distinct values on each side, sorted.
    public let baseline: [String]
    public let current: [String]
}

/// What one side of a comparison is.
public struct ComparisonSide: Hashable, Sendable, Codable {
    /// Where the records came from (the path given on the command line).
    public let source: String
    public let runs: Int
    public let cells: Int
    /// Distinct values, sorted.
    public let matrixNames: [String]
    public let matrixHashes: [String]
    public let gitRevisions: [String]

    init(source: String, set: ResultSet) {
        self.source = source
        runs = set.records.count
        cells = set.cells.count
        matrixNames = distinctSorted(set.records.map(\.provenance.matrixName))
        matrixHashes = distinctSorted(set.records.map(\.provenance.matrixHash))
        gitRevisions = distinctSorted(set.records.map(\.provenance.gitRevision))
    }
}

/// A baseline result set compared with a current one, cell by cell.
///
/// Stability: `bench compare --json` prints this; fields are only added
/// within a `schemaVersion`.
public struct Comparison: Hashable, Sendable, Codable {
    public static let currentSchemaVersion = 1

    public let schemaVersion: Int
    public let criteria: RegressionCriteria
    public let baseline: ComparisonSide
    public let current: ComparisonSide
    /// Provenance fields that differ: the comparison is then about the
    /// environment as much as the code.
    public internal(set) var environmentDifferences: [EnvironmentDifference]
    /// Cells on both sides, by verdict (regressions first), then in the
    /// current set's cell order (`ResultSet.cells`).
    public let cells: [CellComparison]
    /// Cell IDs on one side only, in that side's cell order: listed, not compared.
    public let onlyInBaseline: [String]
    public let onlyInCurrent: [String]
    /// Set by `compareBuilds`: the base build and the compared one, both
    /// measured in one results directory, paired block by block.
    public var builds: [String]? = nil

    /// Cells with a significant regression beyond the threshold.
    public var regressions: [CellComparison] { cells.filter { $0.verdict == .regression } }
    /// The CI gate: any regression of a gated cell fails it.
    public var hasRegression: Bool { cells.contains { $0.gated && $0.verdict == .regression } }
    /// `null-co` cells whose IOPS moved significantly beyond the threshold.
    /// They have no qcow2 metadata, so such a move is in the rest of the path
    /// (host load, QEMU core, guest kernel, driver), and qcow2 cells that
    /// moved by about as much are likely explained by it.
    /// Between builds there is no such warning: the build is what moved it.
    public var ceilingShifts: [CellComparison] {
        guard builds == nil else { return [] }
        return cells.filter { $0.cellID.hasPrefix("null-") && $0.iops.pValue.map { $0 < criteria.alpha } == true
            && ($0.iops.changePercent.map { abs($0) > criteria.thresholdPercent } ?? false) }
    }
}

/// Compares `current` with `baseline`, matching cells by cell ID (their
/// configuration), never by position.
///
/// Per metric (IOPS, p99 latency), over each side's successful runs: Welch's
/// t-test when both sides have `RegressionCriteria.welchMinimumRuns`, the
/// exact Mann–Whitney U test when a side has two, no test with fewer (never
/// flagged). A change is a regression when it is significant and larger than
/// the threshold in the bad direction (lower IOPS, higher p99).
public func compareResults(
    baseline: ResultSet, current: ResultSet, criteria: RegressionCriteria = RegressionCriteria(),
    baselineSource: String = "baseline", currentSource: String = "current"
) -> Comparison {
    // Against the series reference; a reference itself against null-co.
    let pb = baseline.paired, pc = current.paired
    return compareSets(
        baseline: baseline, current: current, criteria: criteria, baselineSource: baselineSource, currentSource: currentSource,
        gateControl: false
    ) { id in
        guard let lb = pb.logRatiosVsReference[id] ?? pb.logRatiosVsNull[id],
              let lc = pc.logRatiosVsReference[id] ?? pc.logRatiosVsNull[id] else { return nil }
        return comparePairedRatio(baseline: lb, current: lc, criteria: criteria)
    } cpuRatio: { id in
        guard let lb = pb.logCpuRatiosVsReference[id] ?? pb.logCpuRatiosVsNull[id],
              let lc = pc.logCpuRatiosVsReference[id] ?? pc.logCpuRatiosVsNull[id] else { return nil }
        return comparePairedRatio(baseline: lb, current: lc, criteria: criteria, metric: .cpuRatio)
    }
}

/// The comparison both modes share: per cell on both sides, Welch (or the
/// rank test) on IOPS and p99; where `ratio` gives a paired metric, that is
/// the gate and the absolute figures are shown ungated. Then Holm over every
/// gated test, and the verdicts.
/// - Parameter gateControl: whether null-co cells are gated (between builds
///   they are: a build can slow the path without qcow2; between nights they
///   are the control of the runner's speed).
func compareSets(
    baseline: ResultSet, current: ResultSet, criteria: RegressionCriteria, baselineSource: String, currentSource: String,
    gateControl: Bool, builds: [String]? = nil, ratio: (String) -> MetricComparison?,
    cpuRatio: (String) -> MetricComparison? = { _ in nil }
) -> Comparison {
    let baselineIDs = Set(baseline.cells.map(\.cellID))
    let currentIDs = Set(current.cells.map(\.cellID))
    let baselineRuns = successfulResults(baseline)
    let currentRuns = successfulResults(current)
    var compared: [(order: Int, cell: CellComparison)] = []
    for (order, cell) in current.cells.enumerated() where baselineIDs.contains(cell.cellID) {
        let b = baselineRuns[cell.cellID] ?? []
        let c = currentRuns[cell.cellID] ?? []
        var iops = compareMetric(.iops, baseline: b, current: c, criteria: criteria)
        var p99 = compareMetric(.latencyP99, baseline: b, current: c, criteria: criteria)
        let paired = ratio(cell.cellID)
        if paired != nil {
            iops.gated = false
            p99.gated = false
        }
        var comparison = CellComparison(cellID: cell.cellID, verdict: .untested, iops: iops, latencyP99: p99, pairedRatio: paired)
        if paired != nil { comparison.cpuRatio = cpuRatio(cell.cellID) }
        if cell.kind == .null && !gateControl {
            comparison.gated = false
            comparison.ungatedBecause = "the null-co control: its moves are reported, not gated"
        } else if let why = workloadDifference(cell.cellID, baseline: baseline, current: current) {
            comparison.gated = false
            comparison.ungatedBecause = why
        }
        compared.append((order, comparison))
    }
    applyHolm(&compared, criteria: criteria)
    for i in compared.indices { compared[i].cell.verdict = cellVerdict(compared[i].cell) }
    compared.sort { ($0.cell.verdict, $0.order) < ($1.cell.verdict, $1.order) }
    return Comparison(
        schemaVersion: Comparison.currentSchemaVersion, criteria: criteria,
        baseline: ComparisonSide(source: baselineSource, set: baseline),
        current: ComparisonSide(source: currentSource, set: current),
        environmentDifferences: environmentDifferences(baseline: baseline, current: current),
        cells: compared.map(\.cell),
        onlyInBaseline: baseline.cells.map(\.cellID).filter { !currentIDs.contains($0) },
        onlyInCurrent: current.cells.map(\.cellID).filter { !baselineIDs.contains($0) },
        builds: builds)
}

/// Results of the successful runs per cell ID, in run order.
private func successfulResults(_ set: ResultSet) -> [String: [GuestResult]] {
    var out: [String: [GuestResult]] = [:]
    for r in set.records where r.succeeded {
        if let result = r.result { out[r.cellID, default: []].append(result) }
    }
    return out
}

/// The cell's verdict from its gated metrics; an ungated cell is at most
/// `unchanged` (its moves are in the table and, for null-co, the warning).
private func cellVerdict(_ cell: CellComparison) -> Verdict {
    let gatedMetrics = cell.metrics.filter(\.gated)
    var verdicts = gatedMetrics.map(\.verdict)
    if !cell.gated { verdicts = verdicts.map { $0 == .untested ? .untested : .unchanged } }
    if verdicts.contains(.regression) { return .regression }
    if verdicts.contains(.improvement) { return .improvement }
    if verdicts.contains(.unchanged) { return .unchanged }
    return .untested
}

/// Welch's t-test on per-block log ratios of two nights: the paired ratio's
/// change is `exp(mean current - mean baseline) - 1`.
func comparePairedRatio(
    baseline: [Double], current: [Double], criteria: RegressionCriteria, metric: ComparedMetric = .pairedRatio
) -> MetricComparison {
    let bMean = SampleStats(baseline)?.mean
    let cMean = SampleStats(current)?.mean
    var change: Double?
    if let bMean, let cMean { change = finite((exp(cMean - bMean) - 1) * 100) }
    guard baseline.count >= 2, current.count >= 2, let test = welchTTest(current, baseline), !test.pValue.isNaN else {
        return MetricComparison(
            metric: metric, baselineRuns: baseline.count, currentRuns: current.count, baselineMean: bMean.map { Foundation.exp($0) },
            currentMean: cMean.map { Foundation.exp($0) }, changePercent: change, test: nil, statistic: nil, degreesOfFreedom: nil, pValue: nil,
            significant: false, verdict: .untested, note: "fewer than 2 paired blocks on a side")
    }
    return MetricComparison(
        metric: metric, baselineRuns: baseline.count, currentRuns: current.count, baselineMean: bMean.map { Foundation.exp($0) },
        currentMean: cMean.map { Foundation.exp($0) }, changePercent: change, test: .welch, statistic: finite(test.statistic),
        degreesOfFreedom: test.degreesOfFreedom.flatMap(finite), pValue: test.pValue, significant: test.pValue < criteria.alpha,
        verdict: .unchanged, note: nil)
}

/// Holm–Bonferroni over every gated test of gated cells, then the verdicts:
/// significant after adjustment and beyond the threshold. Also the smallest
/// change each test could detect with 80% power at the Bonferroni level
/// (Holm's is never stricter), from its standard error.
func applyHolm(_ cells: inout [(order: Int, cell: CellComparison)], criteria: RegressionCriteria) {
    var tests: [(cell: Int, path: WritableKeyPath<CellComparison, MetricComparison?>, p: Double)] = []
    let paths: [WritableKeyPath<CellComparison, MetricComparison?>] = [\.pairedRatio, \.cpuRatio, \.iopsOptional, \.latencyP99Optional]
    for (i, entry) in cells.enumerated() where entry.cell.gated {
        for path in paths {
            guard let m = entry.cell[keyPath: path], m.gated, let p = m.pValue else { continue }
            tests.append((i, path, p))
        }
    }
    let m = tests.count
    let order = tests.indices.sorted { tests[$0].p < tests[$1].p }
    var running = 0.0
    var adjusted = [Double](repeating: 1, count: m)
    for (rank, k) in order.enumerated() {
        running = max(running, min(1, Double(m - rank) * tests[k].p))
        adjusted[k] = running
    }
    let zAlpha = normalQuantile(1 - criteria.alpha / (2 * Double(max(1, m))))
    let zPower = normalQuantile(0.8)
    for i in cells.indices {
        for path in paths {
            guard var metric = cells[i].cell[keyPath: path] else { continue }
            if let k = tests.firstIndex(where: { $0.cell == i && $0.path == path }) {
                metric.adjustedPValue = adjusted[k]
                metric.significant = adjusted[k] < criteria.alpha
            } else if !metric.gated || !cells[i].cell.gated {
                metric.significant = false
            }
            if let t = metric.statistic, t != 0, t.isFinite, let change = metric.changePercent {
                // SE of the (log) difference = |difference| / |t|.
                let difference = [.pairedRatio, .buildRatio, .cpuRatio].contains(metric.metric) ? log(1 + change / 100) : change / 100
                let se = abs(difference / t)
                metric.minimumDetectablePercent = finite((zAlpha + zPower) * se * 100)
            }
            metric.verdict = verdict(for: metric, criteria: criteria)
            cells[i].cell[keyPath: path] = metric
        }
    }
}

/// Verdict of a tested metric: significant (after adjustment) and beyond the threshold.
private func verdict(for m: MetricComparison, criteria: RegressionCriteria) -> Verdict {
    guard m.pValue != nil else { return m.verdict == .untested ? .untested : m.verdict }
    let beyond = m.changePercent.map { abs($0) > criteria.thresholdPercent } ?? false
    guard m.significant && beyond else { return .unchanged }
    let worse = m.changePercent.map { m.metric.higherIsBetter ? $0 < 0 : $0 > 0 } ?? false
    return worse ? .regression : .improvement
}

/// Inverse of the standard normal CDF (Acklam's rational approximation,
/// relative error below 1.2e-9): enough for a detectable-change estimate.
func normalQuantile(_ p: Double) -> Double {
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    let low = 0.02425
    if p <= 0 { return -.infinity }
    if p >= 1 { return .infinity }
    if p < low {
        let q = (-2 * log(p)).squareRoot()
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    if p > 1 - low { return -normalQuantile(1 - p) }
    let q = p - 0.5
    let r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
}

/// Ramp or runtime differ between the sides' records of a cell: the cell ID
/// does not hold them, so such cells match but measured another thing.
func workloadDifference(_ cellID: String, baseline: ResultSet, current: ResultSet) -> String? {
    func windows(_ set: ResultSet) -> Set<String> {
        Set(set.records.filter { $0.cellID == cellID }.map { "ramp \($0.cell.workload.ramp), runtime \($0.cell.workload.runtime)" })
    }
    let b = windows(baseline)
    let c = windows(current)
    guard b != c else { return nil }
    return "workload differs (baseline \(b.sorted().joined(separator: "; ")), current \(c.sorted().joined(separator: "; "))): shown, not gated"
}

extension CellComparison {
    var iopsOptional: MetricComparison? {
        get { iops }
        set { if let v = newValue { iops = v } }
    }
    var latencyP99Optional: MetricComparison? {
        get { latencyP99 }
        set { if let v = newValue { latencyP99 = v } }
    }
}

/// One metric of one cell: test, then verdict.
func compareMetric(
    _ metric: ComparedMetric, baseline: [GuestResult], current: [GuestResult], criteria: RegressionCriteria
) -> MetricComparison {
    let b = baseline.map(metric.value).filter(\.isFinite)
    let c = current.map(metric.value).filter(\.isFinite)
    let bMean = SampleStats(b)?.mean
    let cMean = SampleStats(c)?.mean
    var change: Double?
    if let bMean, let cMean, bMean != 0 { change = finite((cMean - bMean) / bMean * 100) }

    func untested(_ why: String) -> MetricComparison {
        MetricComparison(
            metric: metric, baselineRuns: b.count, currentRuns: c.count, baselineMean: bMean, currentMean: cMean,
            changePercent: change, test: nil, statistic: nil, degreesOfFreedom: nil, pValue: nil, significant: false,
            verdict: .untested, note: why)
    }
    if b.isEmpty { return untested("no successful run in the baseline") }
    if c.isEmpty { return untested("no successful run in the current results") }
    if b.count < 2 || c.count < 2 {
        return untested(
            "\(b.count) baseline and \(c.count) current runs: no test is possible with a single run on a side")
    }
    let useWelch = min(b.count, c.count) >= RegressionCriteria.welchMinimumRuns
    guard let test = useWelch ? welchTTest(c, b) : mannWhitneyUTest(c, b), !test.pValue.isNaN else {
        return untested("the test could not be computed")
    }
    let significant = test.pValue < criteria.alpha
    let beyond = change.map { abs($0) > criteria.thresholdPercent } ?? false
    let worse = change.map { metric.higherIsBetter ? $0 < 0 : $0 > 0 } ?? false

    let verdict: Verdict
    var note: String?
    if significant && beyond {
        verdict = worse ? .regression : .improvement
    } else {
        verdict = .unchanged
        let threshold = fixed(criteria.thresholdPercent, 1) + "%"
        if significant {
            note = "significant, but within ±\(threshold)"
        } else if test.method == .mannWhitney,
            mannWhitneySmallestPValue(b.count, c.count) >= criteria.alpha
        {
            note =
                "with \(b.count) and \(c.count) runs the rank test cannot reach \(confidenceText(criteria)) confidence "
                + "(smallest p \(fixed(mannWhitneySmallestPValue(b.count, c.count), 3))); repeat more"
        } else if beyond {
            note = "beyond ±\(threshold) but not significant at \(confidenceText(criteria))"
        }
    }
    return MetricComparison(
        metric: metric, baselineRuns: b.count, currentRuns: c.count, baselineMean: bMean, currentMean: cMean,
        changePercent: change, test: test.method, statistic: finite(test.statistic),
        degreesOfFreedom: test.degreesOfFreedom.flatMap(finite), pValue: test.pValue, significant: significant,
        verdict: verdict, note: note)
}

/// `95%`, `99.5%`.
func confidenceText(_ criteria: RegressionCriteria) -> String {
    let percent = criteria.confidence * 100
    return (percent == percent.rounded() ? fixed(percent, 0) : fixed(percent, 1)) + "%"
}

private func finite(_ v: Double) -> Double? { v.isFinite ? v : nil }

private func distinctSorted(_ values: [String]) -> [String] { Array(Set(values)).sorted() }

/// Provenance fields that decide what a measurement means, with the label
/// the report shows. Git revision and matrix are left out: a comparison
/// exists to see the effect of changing those.
private var environmentFields: [(String, (Provenance) -> String)] {
    [
        ("QEMU version", \.qemuVersion),
        ("QEMU build", { $0.qemuBuild.map { "\($0.name) (SHA-256 \($0.sha256.prefix(12))…)" } ?? "unrecorded" }),
        ("accelerator", \.accel),
        ("host CPU", \.hostCPU),
        ("guest kernel", \.guestKernel),
        ("host kernel", \.hostKernel),
        ("image file system", \.imageFilesystem),
    ]
}

private func environmentDifferences(baseline: ResultSet, current: ResultSet) -> [EnvironmentDifference] {
    environmentFields.compactMap { name, value in
        let b = distinctSorted(baseline.records.map { value($0.provenance) })
        let c = distinctSorted(current.records.map { value($0.provenance) })
        // Records from before builds were recorded say nothing either way.
        if b == ["unrecorded"] || c == ["unrecorded"] { return nil }
        return b == c ? nil : EnvironmentDifference(field: name, baseline: b, current: c)
    }
}
